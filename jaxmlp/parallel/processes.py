"""Training over several processes (jax.distributed), and the one-process run that equals it.

After :func:`jaxmlp.parallel.initialize`, every process calls ``fit`` (or ``fit_many``) with ITS
OWN rows ``x_p`` (the same number on each), the same ``params``, ``key`` and settings, and
``devices="all"``. The global training set is the processes' rows in process order, ``P`` equal
shards of ``m`` rows each, and:

- ``validation_split`` holds out the last fraction of EACH shard; the global validation set is
  their union (``validation_data`` likewise: each process passes its own rows).
- Shard ``p`` visits its rows in the order ``shuffle_order(fold_in(key, p), epoch, m)``, and
  ``batch_size`` is the global batch: each shard gives ``batch_size / P`` rows to every batch
  (:class:`~jaxmlp.parallel.layout.Layout` forms the epoch's order).
- Each process's rows stay on its own devices (the ``("process", "data")`` mesh); XLA sums the
  gradients across processes, so every process applies the same update, and the epoch's sums,
  hence the history, are global.
- Before any collective, every process's settings, the shapes and dtypes of its rows and its own
  checks of them are compared (:func:`agree`): a difference, a NaN in one process's rows or a
  setting that one process rejects before it gets there (:func:`agreed_first`) stops every
  process within seconds with an error that names the setting (or the process) and each
  process's value, never a hang.
- A process that stops during the run ends the others within seconds
  (:mod:`jaxmlp.parallel.faults`): the collective that misses it raises
  :class:`~jaxmlp.parallel.faults.ProcessError` naming it and the last checkpoint
  (:func:`together` around the run), and JAX's distributed service then ends every process.
- Process 0 alone prints and writes the checkpoints; every process gets the same parameters.

In one process, ``jaxmlp.training.fit.fit_as_processes(P, ...)`` (and ``fit_many_as_processes``)
forms the same batches from ``x``, the concatenation of the ``P`` shards, and gives the same
parameters and history.
"""

from __future__ import annotations

import contextvars
import functools
import json
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxmlp.core.values import check_int
from jaxmlp.parallel.devices import process_mesh
from jaxmlp.parallel.faults import together
from jaxmlp.parallel.layout import Layout

__all__ = ["agree", "agreed_first", "finish", "gather_bytes", "global_sums", "layout",
           "same_rows", "together"]

_ROWS = ("x", "t", "validation_data")  # the rows agree compares, in the order it names them
_REACHED = contextvars.ContextVar("jaxmlp_agree_reached", default=True)  # see agreed_first


def layout(shards: Any, mesh: Any, batch_size: int | None) -> Layout:
    """The layout of a run: ``shards`` (default 1) equal parts in one process, or one shard per
    process across processes over a mesh that must span every process's devices."""
    count = jax.process_count()
    if count == 1:
        shards = 1 if shards is None else check_int("shards", shards, 1)
    else:
        if mesh is None:
            raise ValueError(f"devices: expected devices='all' in a run of {count} processes "
                             "(jax.distributed), got no devices")
        present = sorted({d.process_index for d in mesh.devices.flat})
        if present != list(range(count)):
            raise ValueError(f"devices: expected the devices of all {count} processes "
                             f"(devices='all'), got those of processes {present}")
        shards, mesh = count, process_mesh(mesh)
    for parts, what in ((shards, "shards"), (1 if mesh is None else mesh.size, "devices")):
        if batch_size is not None and batch_size % parts:
            raise ValueError(f"batch_size: expected a multiple of {parts} ({parts} {what} take "
                             f"equal parts of each batch), got {batch_size}")
    return Layout(shards, mesh)


def gather_bytes(lay: Layout, mine: list[bytes]) -> list[bytes]:
    """Every process's equal-length byte strings, in process order (``mine`` in one process)."""
    if not lay.processes:
        return mine
    from jax.experimental.multihost_utils import process_allgather

    width = len(mine[0])
    rows = np.frombuffer(b"".join(mine), np.uint8).reshape(len(mine), width)
    with together():
        every = np.asarray(process_allgather(rows)).reshape(-1, width)
    return [bytes(row.astype(np.uint8)) for row in every]


def agree(lay: Layout, settings: dict[str, Any], x: Any = None, t: Any = None,
          validation_data: Any = None, check: Callable[..., Any] | None = None) -> None:
    """Compare every process's ``settings`` (JSON values), the shapes and dtypes of its rows and
    the outcome of its own ``check`` of them before any other collective; raise on every process
    when they differ, so no process is left waiting in a collective that another never enters.

    ``x``, ``t``, ``validation_data``: this process's rows, whose shapes (the row count too) and
    dtypes must be the same on every process. ``check(x, t, names)`` checks one pair of them as
    ``fit`` does (``names``: ``("x", "t")``, or ``validation_data``'s); what one process may fail
    alone (a NaN, a label out of range) is carried by the agreement and raised on every process,
    naming the process (``process 1: x: contains NaN or infinity (first in row 17)``); a
    ``TypeError`` stays one. Otherwise a ``ValueError`` names each setting that differs and its
    value per process.

    Two fixed-shape collectives when everything agrees (a digest, then nothing); on a difference,
    the descriptions themselves, padded to the longest. No shape depends on them: nothing hangs.
    """
    if not lay.processes:
        return
    _REACHED.set(True)
    error = None
    try:
        if check is not None:
            check(x, t, ("x", "t"))
            if isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
                names = ("validation_data[0] (x_val)", "validation_data[1] (t_val)")
                check(*validation_data, names)
    except Exception as caught:  # carried to every process, raised below
        error = caught
    _settle(lay, settings, dict(zip(_ROWS, map(_describe, (x, t, validation_data)))), error)


def agreed_first(run: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a run (``fit``'s, ``fit_many``'s) that calls :func:`agree` before its first
    collective: an error it raises before it gets there (a setting that only this process
    rejects) goes through the agreement too, so the processes waiting in theirs raise it, naming
    this process, instead of waiting for it."""

    @functools.wraps(run)
    def carried(*args: Any, **kwargs: Any) -> Any:
        reached = _REACHED.set(False)
        try:
            return run(*args, **kwargs)
        except Exception as error:
            if jax.process_count() > 1 and not _REACHED.get():
                _settle(Layout(), {}, {}, error)
            raise
        finally:
            _REACHED.reset(reached)

    return carried


def _settle(lay: Layout, settings: dict, data: dict, error: Exception | None) -> None:
    """The agreement itself: every process's settings, rows and error compared (see agree)."""
    mine = {"settings": settings, "data": data,
            "error": None if error is None else [type(error).__name__, str(error)]}
    with together():
        every = _differing(lay, json.dumps(mine, sort_keys=True, default=str).encode())
    if every is None:  # the same on every process, errors included
        if error is not None:
            raise error
        return
    failed = [(p, e["error"]) for p, e in enumerate(every) if e["error"]]
    if failed:
        kind = TypeError if all(name == "TypeError" for _, (name, _) in failed) else ValueError
        raise kind("; ".join(f"process {p}: {text}" for p, (_, text) in failed)) from error
    raise ValueError("; ".join(
        [f"{name}: every process must pass the same shape and dtype; got {', '.join(map(str, v))}"
         " (in process order)" for name, v in _differences(every, "data")] +
        [f"{name}: every process must pass the same value; got {v} (in process order)"
         for name, v in _differences(every, "settings")]))


def _differing(lay: Layout, text: bytes) -> list[dict] | None:
    """``None`` when ``text`` is the same on every process, else every process's JSON."""
    import hashlib

    from jax.experimental.multihost_utils import process_allgather

    if len(set(gather_bytes(lay, [hashlib.sha256(text).digest()]))) == 1:
        return None
    lengths = np.array([int.from_bytes(b, "little")
                        for b in gather_bytes(lay, [len(text).to_bytes(8, "little")])])
    padded = np.frombuffer(text.ljust(int(lengths.max()), b" "), np.uint8)
    rows = np.asarray(process_allgather(padded)).reshape(len(lengths), -1)
    return [json.loads(bytes(r.astype(np.uint8))[:n]) for r, n in zip(rows, lengths)]


def _differences(every: list[dict], part: str) -> list[tuple[str, list]]:
    """The names in ``part`` whose value differs between processes, with every process's."""
    values = [e[part] for e in every]
    names = [k for k in _ROWS if k in values[0]] if part == "data" else sorted(
        {k for v in values for k in v})
    return [(k, [v.get(k) for v in values]) for k in names
            if len({json.dumps(v.get(k), sort_keys=True) for v in values}) > 1]


def _describe(a: Any) -> Any:
    """An array's dtype and shape, ``"float32 (750, 64)"``; a pair's two; ``None`` for none."""
    if a is None:
        return None
    if isinstance(a, (tuple, list)) and len(a) == 2 and all(hasattr(v, "shape") for v in a):
        return [_describe(v) for v in a]
    try:
        if not (hasattr(a, "shape") and hasattr(a, "dtype")):
            a = np.asarray(a)
        return f"{np.dtype(a.dtype).name} {tuple(a.shape)}"
    except Exception:  # not an array: fit's own check names it
        return type(a).__name__


def same_rows(lay: Layout, name: str, rows: int) -> int:
    """The global row count of per-process ``rows`` (which must agree); ``rows`` in one process."""
    if not lay.processes:
        return rows
    from jax.experimental.multihost_utils import process_allgather

    with together():
        counts = np.asarray(process_allgather(np.array([rows], np.int32))).ravel().tolist()
    if len(set(counts)) > 1:
        raise ValueError(f"{name}: every process must pass the same number of rows; got {counts} "
                         "rows (in process order)")
    return rows * len(counts)


def global_sums(lay: Layout, total: float, correct: int, rows: int) -> tuple[float, int, int]:
    """One process's ``(summed objective, correct, rows)`` summed over every process (a
    collective); in one process, the three as given."""
    if not lay.processes:
        return total, correct, rows
    mine = np.array([total, correct, rows], np.float64).tobytes()  # exact below 2**53
    every = np.array([np.frombuffer(b, np.float64) for b in gather_bytes(lay, [mine])])
    return float(every[:, 0].sum()), int(every[:, 1].sum()), int(every[:, 2].sum())


def finish(lay: Layout, checkpoint: Any) -> None:
    """The end of a run: across processes, wait until every process is here when process 0 wrote
    a checkpoint, so a ``resume`` that follows reads the last one."""
    if lay.processes and checkpoint is not None:
        from jax.experimental.multihost_utils import sync_global_devices

        with together(checkpoint):
            sync_global_devices("jaxmlp: the last checkpoint is written")
