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

    @property
    def direction(self) -> str:
        """``"max"`` or ``"min"``: the ``mode``, with ``"auto"`` resolved (max for accuracies)."""
        maximise = self.mode == "max" or (self.mode == "auto" and "acc" in self.monitor)
        return "max" if maximise else "min"

    def better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than ``min_delta``."""
        if self.direction == "max":
            return value > best + self.min_delta
        return value < best - self.min_delta


class Tracker:
    """The bookkeeping of one run's early stopping: the best value, its epoch and parameters, the
    wait; :meth:`state` and :meth:`restore` carry it through a checkpoint.

    ``update(history, params, epoch)`` after each epoch returns whether to stop; ``final(params)``
    gives the parameters to return (the best epoch's when ``restore_best``). A ``None`` rule never
    stops.
    """

    def __init__(self, rule: EarlyStopping | None):
        self.rule, self.best, self.best_params, self.wait = rule, None, None, 0
        self.best_epoch = None

    def update(self, history: dict[str, list[float]], params: Any, epoch: int) -> bool:
        """Record epoch ``epoch`` (from 1), just ended (its ``history`` row); ``True`` when
        training should stop."""
        if self.rule is None:
            return False
        value = history[self.rule.monitor][-1]
        if self.best is None or self.rule.better(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
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

    def state(self) -> dict[str, Any] | None:
        """What a checkpoint keeps of it (JSON values; the best parameters are kept apart), or
        ``None`` before the first epoch or without a rule."""
        if self.rule is None or self.best is None:
            return None
        return {"monitor": self.rule.monitor, "mode": self.rule.direction,
                "best": float(self.best), "epoch": self.best_epoch, "wait": self.wait}

    def restore(self, state: Any, best_params: Any) -> None:
        """Continue from a checkpoint's :meth:`state` and best parameters (``None``: it had none).

        The patience and ``min_delta`` may change; a rule that watches another value, or wants
        the best parameters that the checkpoint did not keep, is refused with a ``ValueError``.
        """
        if self.rule is None or state is None:
            return
        if not isinstance(state, dict) or set(state) != {"monitor", "mode", "best", "epoch",
                                                           "wait"}:
            raise ValueError(f"resume: the checkpoint's early stopping state is not readable: "
                             f"{state!r:.80}")
        ours = {"monitor": self.rule.monitor, "mode": self.rule.direction}
        if {k: state[k] for k in ours} != ours:
            raise ValueError(
                f"resume: the checkpoint stopped early on monitor={state['monitor']!r} "
                f"(mode {state['mode']!r}); this call's early_stopping has "
                f"monitor={self.rule.monitor!r} (mode {self.rule.direction!r}): resuming would "
                "change the run"
            )
        if self.rule.restore_best and best_params is None:
            raise ValueError(
                "resume: the checkpoint keeps no best parameters (its early stopping had "
                "restore_best=False); this call's has restore_best=True"
            )
        self.best, self.best_epoch, self.wait = state["best"], state["epoch"], state["wait"]
        self.best_params = best_params if self.rule.restore_best else None
