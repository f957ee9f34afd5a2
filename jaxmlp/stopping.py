"""How training stops early: Keras's :class:`EarlyStopping` rule, and :class:`TrainingError` for a
non-finite loss (carrying the last finite parameters)."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["EarlyStopping", "TrainingError"]


class TrainingError(RuntimeError):
    """Training stopped on a non-finite loss; ``params`` holds the last finite parameters."""

    def __init__(self, message: str, params: Any, epoch: int, step: int):
        super().__init__(message)
        self.params, self.epoch, self.step = params, epoch, step


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Keras's rule: training stops at the ``patience``-th epoch in a row without improvement (``0``
    and ``1`` both stop at the first).

    Arguments:
        monitor: a history key, e.g. ``"val_loss"`` (default) or ``"val_accuracy"``.
        patience: epochs without improvement to wait before stopping.
        min_delta: the smallest change that counts as an improvement.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracies, min otherwise).
        restore_best: return the parameters of the best epoch instead of the last one.
    """

    monitor: str = "val_loss"
    patience: int = 0
    min_delta: float = 0.0
    mode: str = "auto"
    restore_best: bool = True

    def __post_init__(self):
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ValueError(f"patience: expected an integer >= 0, got {self.patience!r}")
        if not self.min_delta >= 0:
            raise ValueError(f"min_delta: expected a number >= 0, got {self.min_delta!r}")
        if self.mode not in ("auto", "min", "max"):
            raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {self.mode!r}")

    def better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than ``min_delta``."""
        maximise = self.mode == "max" or (self.mode == "auto" and "acc" in self.monitor)
        return value > best + self.min_delta if maximise else value < best - self.min_delta
