"""The Keras-style progress line of :func:`jaxmlp.fit`.

``Epoch 3/30  750/750 ━━━━━━━━━━━━━━━━━━━━ 0.4s 0.5ms/step - loss: 0.3100 - accuracy: 0.8900``

With ``verbose=1`` on a terminal the bar fills while the epoch runs: the compiled epoch calls
:meth:`Progress.tick` through ``jax.debug.callback`` a few dozen times per epoch. ``verbose=2``
prints the finished line only; ``verbose=0`` prints nothing.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_WIDTH = 20


class Progress:
    """One training run's progress lines, written to ``stream`` (default ``sys.stdout``)."""

    _active: Progress | None = None  # the run that compiled epochs report their steps to

    def __init__(self, steps: int, verbose: int, stream: TextIO | None = None):
        self.steps, self.verbose = steps, verbose
        self.stream = stream or sys.stdout
        self.live = verbose == 1 and getattr(self.stream, "isatty", lambda: False)()
        self.epoch = self.epochs = 0
        self.started = 0.0

    def start(self, epoch: int, epochs: int) -> None:
        """Begin epoch ``epoch`` (0-based) of ``epochs``."""
        self.epoch, self.epochs, self.started = epoch, epochs, time.perf_counter()
        Progress._active = self

    @staticmethod
    def tick(step) -> None:
        """Host callback from inside the compiled epoch: ``step`` updates are done."""
        bar = Progress._active
        if bar is not None and bar.live:
            bar.stream.write("\r" + bar._line(int(step) + 1, {}))
            bar.stream.flush()

    def end(self, values: dict[str, float]) -> None:
        """Finish the epoch's line with its metrics."""
        if self.verbose:
            self.stream.write(("\r" if self.live else "") + self._line(self.steps, values) + "\n")
            self.stream.flush()
        Progress._active = None

    def _line(self, done: int, values: dict[str, float]) -> str:
        elapsed = time.perf_counter() - self.started
        filled = round(_WIDTH * done / max(self.steps, 1))
        bar = "━" * filled + " " * (_WIDTH - filled) if self.verbose == 1 else "-"
        head = f"Epoch {self.epoch + 1}/{self.epochs}  {done}/{self.steps} {bar} {elapsed:.1f}s"
        per_step = f" {1000 * elapsed / max(done, 1):.1f}ms/step" if values else ""
        return head + per_step + "".join(f" - {k}: {v:.4f}" for k, v in values.items())
