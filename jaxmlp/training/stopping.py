"""How training stops early: Keras's :class:`EarlyStopping` rule, and :class:`TrainingError` for a
non-finite loss (carrying the last finite parameters)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

__all__ = ["EarlyStopping", "Tracker", "TrainingError"]


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

    def check_monitor(self, names: list[str]) -> None:
        """A ``ValueError`` unless ``monitor`` is one of the run's history ``names``."""
        if self.monitor not in names:
            hint = ""
            if self.monitor.startswith("val_"):
                hint = " (set validation_split or validation_data)"
            raise ValueError(
                f"early_stopping: monitors {self.monitor!r}, which is not one of {names}{hint}"
            )

    def better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than ``min_delta``."""
        maximise = self.mode == "max" or (self.mode == "auto" and "acc" in self.monitor)
        return value > best + self.min_delta if maximise else value < best - self.min_delta


class Tracker:
    """The bookkeeping of one run's early stopping: the best value, its parameters, the wait.

    ``update(value, params)`` after each epoch returns whether to stop; ``final(params)`` gives the
    parameters to return (the best epoch's when ``restore_best``). A ``None`` rule never stops.
    """

    def __init__(self, rule: EarlyStopping | None):
        self.rule, self.best, self.best_params, self.wait = rule, None, None, 0

    def update(self, history: dict[str, list[float]], params: Any) -> bool:
        """Record the epoch just ended (its ``history`` row); ``True`` when training should stop."""
        if self.rule is None:
            return False
        value = history[self.rule.monitor][-1]
        if self.best is None or self.rule.better(value, self.best):
            self.best, self.wait = value, 0
            if self.rule.restore_best:
                self.best_params = jax.device_get(params)
            return False
        self.wait += 1
        return self.wait >= self.rule.patience  # as Keras: patience epochs without improvement

    def final(self, params: Any) -> Any:
        """The parameters to return: the best epoch's under ``restore_best``, else ``params``."""
        if self.best_params is None:
            return params
        return jax.tree.map(jax.numpy.asarray, self.best_params)
