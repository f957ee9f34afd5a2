"""The Keras-style progress line of a training run.

``Epoch 3/30  750/750 ━━━━━━━━━━━━━━━━━━━━ 0.4s 0.5ms/step - loss: 0.3100 - accuracy: 0.8900``

With ``verbose=1`` on a terminal the bar fills while the epoch runs: the compiled epoch calls
:func:`tick` through ``jax.debug.callback`` a few dozen times per epoch, with its run's id, and the
tick reaches that run's :class:`Progress` alone (two runs in two threads each draw their own bar).
The id is an argument of the compiled epoch, so every run shares one program. ``verbose=2``
prints the finished line only; ``verbose=0`` prints nothing.

The callbacks are unordered: XLA may run the tick of the partial last batch (whose step number is
a constant) before the loop, and two ticks of an unrolled loop iteration in either order. So the
bar only moves forward: a tick below the epoch's furthest step, or of its last step (the finished
line draws that), is not drawn; and :meth:`Progress.end` waits for the epoch's pending ticks
(``jax.effects_barrier``) before it ends the line, so none lands in the next epoch.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from typing import TextIO

__all__ = ["Progress", "tick"]

_WIDTH = 20
_ids = itertools.count(1)
_live: dict[int, Progress] = {}  # the runs whose epochs are running now, by id


class Progress:
    """One training run's progress lines, written to ``stream`` (default ``sys.stdout``)."""

    def __init__(self, steps: int, verbose: int, stream: TextIO | None = None):
        self.steps, self.verbose = steps, verbose
        self.stream = stream or sys.stdout
        self.live = verbose == 1 and getattr(self.stream, "isatty", lambda: False)()
        self.id = next(_ids) % (1 << 31)  # an int32 for the compiled epoch
        self.epoch = self.epochs = self.done = 0
        self.started = 0.0
        self.lock = threading.Lock()

    def start(self, epoch: int, epochs: int) -> None:
        """Begin epoch ``epoch`` (0-based) of ``epochs``."""
        self.epoch, self.epochs, self.started = epoch, epochs, time.perf_counter()
        self.done = 0
        if self.live:
            _live[self.id] = self

    def draw(self, step: int) -> None:
        """``step + 1`` updates are done: move the bar if that is forward and not the last step."""
        done = int(step) + 1
        with self.lock:
            if self.done < done < self.steps:
                self.done = done
                self.stream.write("\r" + self._line(done, {}))
                self.stream.flush()

    def end(self, values: dict[str, float]) -> None:
        """Finish the epoch's line with its metrics (after the epoch's last ticks have arrived)."""
        if self.live:
            import jax

            jax.effects_barrier()
            _live.pop(self.id, None)
        if self.verbose:
            self.stream.write(("\r" if self.live else "") + self._line(self.steps, values) + "\n")
            self.stream.flush()

    def _line(self, done: int, values: dict[str, float]) -> str:
        elapsed = time.perf_counter() - self.started
        filled = round(_WIDTH * done / max(self.steps, 1))
        bar = "━" * filled + " " * (_WIDTH - filled) if self.verbose == 1 else "-"
        head = f"Epoch {self.epoch + 1}/{self.epochs}  {done}/{self.steps} {bar} {elapsed:.1f}s"
        per_step = f" {1000 * elapsed / max(done, 1):.1f}ms/step" if values else ""
        return head + per_step + "".join(f" - {k}: {v:.4f}" for k, v in values.items())


def tick(run, step) -> None:
    """Host callback from inside a compiled epoch: run ``run`` has done ``step + 1`` updates."""
    bar = _live.get(int(run))
    if bar is not None:
        bar.draw(step)
