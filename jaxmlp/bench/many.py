"""The ``many`` table of ``jaxmlp bench`` (issue 16): N models in one ``fit_many``, N ``fit`` calls.

Deck 002's network (784 → 32 relu → 10 softmax, Adam 1e-3, batch 64, ``validation_split=0.2``:
48,000 training rows) trained as N models, N = 1, 4, 16, 64 by default: once together with
:func:`jaxmlp.fit_many`, and once as N :func:`jaxmlp.fit` calls one after another, every model
with the same batch order. Seconds per epoch are medians over epochs 2..E, read at each epoch's
end (after the statistics reach the host), so compile time stays out; the sequential figure is the
sum of the N fits' medians. ``speedup`` is the throughput ratio, sequential over together.
``folds_s_per_epoch`` times the other kind of N models, each with its own rows:
``fit_many(folds=N)`` over all the rows (k-fold cross-validation, N >= 2).
Fashion-MNIST when it is on this machine, else random data of the same shape (the timings do not
depend on the values)::

    python -c "from jaxmlp.bench import many; print(many.format_many(many.many_table()))"

>>> row = many_table(ns=(2,), epochs=2, rows=640, hidden=4, fits=1)[0]
>>> sorted(row)
['devices', 'devices_s_per_epoch', 'fit_s_per_epoch', 'fits_timed', 'folds_s_per_epoch',
 'many_compile_s', 'many_s_per_epoch', 'models', 'speedup']
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import jax
import numpy as np

from jaxmlp import data
from jaxmlp.bench.roofline import epoch_cost, roofline_columns
from jaxmlp.core.model import MLP
from jaxmlp.training.fit import fit
from jaxmlp.training.many import fit_many

__all__ = ["add_roofline", "format_many", "many_table"]


def many_table(ns: Sequence[int] = (1, 4, 16, 64), epochs: int = 3, batch_size: int = 64,
               rows: int = 60_000, hidden: int = 32, fits: int | None = None,
               dataset: str = "fashion-mnist") -> list[dict]:
    """One row per N: ``{"models", "many_s_per_epoch", "fit_s_per_epoch", "speedup", ...}``.

    Arguments:
        ns: the numbers of models.
        epochs: epochs per run (>= 2; medians over epochs 2..epochs).
        batch_size, hidden: deck 002's 64 and 32.
        rows: rows before the 20 % validation split (60,000 gives 48,000 training rows).
        fits: time at most this many of the N sequential fits and scale their mean up to N
            (``None``: all N); ``fits_timed`` says how many ran.
        dataset: read with :func:`jaxmlp.data.load` when present, else random data of its shape.
    """
    if epochs < 2:
        raise ValueError("epochs: expected an integer >= 2 (medians of epochs 2..N), got "
                         f"{epochs!r}")
    x, y = _data(dataset, rows)
    model = MLP((x.shape[1], hidden, 10), ("relu", "softmax"))
    common = dict(epochs=epochs, batch_size=batch_size, validation_split=0.2, verbose=0,
                  key=jax.random.key(0))
    table = []
    for n in ns:
        params = model.init(jax.random.split(jax.random.key(1), n))
        clock = _Clock()
        fit_many(model, params, x, y, learning_rate=1e-3, on_epoch_end=clock, **common)
        spread = None  # the same N models split over every device, where that divides
        devices = len(jax.devices())
        if devices > 1 and n % devices == 0:
            spread = _Clock()
            fit_many(model, params, x, y, learning_rate=1e-3, on_epoch_end=spread,
                     devices="all", **common)
        folded = None  # the N models of k-fold cross-validation, each with its own rows
        if n >= 2:
            folded = _Clock()
            fit_many(model, params, x, y, learning_rate=1e-3, folds=n, on_epoch_end=folded,
                     **{k: v for k, v in common.items() if k != "validation_split"})
        timed = n if fits is None else min(n, fits)
        per_fit = []
        for i in range(timed):
            one = _Clock()
            fit(model, jax.tree.map(lambda a, i=i: a[i], params), x, y, on_epoch_end=one, **common)
            per_fit.append(one.median())
        sequential = float(np.mean(per_fit)) * n
        table.append({
            "models": n,
            "many_s_per_epoch": clock.median(),
            "fit_s_per_epoch": sequential,
            "speedup": sequential / clock.median(),
            "many_compile_s": clock.first(),
            "fits_timed": timed,
            "devices": devices,
            "devices_s_per_epoch": None if spread is None else spread.median(),
            "folds_s_per_epoch": None if folded is None else folded.median(),
        })
    return table


def add_roofline(table: list[dict], rows: int, hidden: int, batch_size: int,
                 peak: float) -> dict[str, float]:
    """Add each row's ``gflops_per_s`` and ``fraction_of_peak`` (N times one model's epoch by XLA's
    count) and ``folds_fraction_of_peak`` (each k-fold model trains on all ``rows`` but its fold);
    return one model's :func:`~jaxmlp.bench.roofline.epoch_cost`."""
    from jaxmlp.bench.harness import rows as split_rows

    cost = epoch_cost((784, hidden, 10), batch_size, *split_rows(rows))
    for row in table:
        n = row["models"]
        row.update(roofline_columns(row["many_s_per_epoch"],
                                    {k: n * cost[k] for k in ("flops", "bytes")}, peak))
        if row.get("folds_s_per_epoch"):
            own = epoch_cost((784, hidden, 10), batch_size, rows - rows // n, rows // n)
            row["folds_fraction_of_peak"] = roofline_columns(
                row["folds_s_per_epoch"], {"flops": n * own["flops"], "bytes": 0.0},
                peak)["fraction_of_peak"]
    return cost


def format_many(table: list[dict]) -> str:
    """The table as Markdown, one row per N (the roofline columns when the rows carry them).

    >>> row = {"models": 2, "many_s_per_epoch": 0.1, "fit_s_per_epoch": 0.3, "speedup": 3.0,
    ...        "many_compile_s": 1.0, "fits_timed": 2, "folds_s_per_epoch": 0.2}
    >>> print(format_many([row]).splitlines()[2])
    | 2 | 0.100 | 0.300 | 3.00× | — | — | 0.200 | — | 1.0 |
    """
    devices = max((r.get("devices") or 1) for r in table)
    spread = devices > 1  # the column of the models split over the devices
    lines = ["| models N | fit_many s/epoch | N × fit s/epoch | throughput ratio | fit_many "
             "GFLOP/s | % of peak | k-fold (own rows) s/epoch | k-fold % of peak | fit_many "
             "first epoch s |" + (f" fit_many over {devices} devices s/epoch |" if spread else ""),
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if spread else "")]
    for r in table:
        cells = [r["models"], f"{r['many_s_per_epoch']:.3f}", f"{r['fit_s_per_epoch']:.3f}",
                 f"{r['speedup']:.2f}×", _cell(r.get("gflops_per_s"), "{:.1f}"),
                 _cell(r.get("fraction_of_peak"), "{:.0%}", strip="%"),
                 _cell(r.get("folds_s_per_epoch"), "{:.3f}"),
                 _cell(r.get("folds_fraction_of_peak"), "{:.0%}", strip="%"),
                 f"{r['many_compile_s']:.1f}"]
        if spread:
            cells.append(_cell(r.get("devices_s_per_epoch"), "{:.3f}"))
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def _cell(value, form: str, strip: str = "") -> str:
    return "—" if value is None else form.format(value).rstrip(strip)


class _Clock:
    """An ``on_epoch_end`` that records the time of each epoch's end."""

    def __init__(self):
        self.marks = [time.perf_counter()]

    def __call__(self, epoch, logs):
        self.marks.append(time.perf_counter())

    def first(self) -> float:
        return self.marks[1] - self.marks[0]

    def median(self) -> float:
        return float(np.median(np.diff(self.marks[1:])))


def _data(dataset: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        (x, y), _ = data.load(dataset)
    except data.DatasetNotFoundError:
        rng = np.random.default_rng(0)
        x, y = rng.random((rows, 784), dtype=np.float32), rng.integers(0, 10, rows, dtype=np.int32)
    return x[:rows], y[:rows]
