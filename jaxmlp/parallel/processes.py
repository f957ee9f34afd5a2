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
- Before any collective, every process's settings are compared (:func:`agree`): a difference
  stops every process within seconds with an error that names the setting and each process's
  value, never a hang.
- Process 0 alone prints and writes the checkpoints; every process gets the same parameters.

In one process, ``jaxmlp.training.fit.fit_as_processes(P, ...)`` (and ``fit_many_as_processes``)
forms the same batches from ``x``, the concatenation of the ``P`` shards, and gives the same
parameters and history.
"""

from __future__ import annotations

import json
from typing import Any

import jax
import numpy as np

from jaxmlp.core.values import check_int
from jaxmlp.parallel.devices import process_mesh
from jaxmlp.parallel.layout import Layout

__all__ = ["agree", "evaluate", "finish", "gather_bytes", "layout", "same_rows"]


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
    every = np.asarray(process_allgather(rows)).reshape(-1, width)
    return [bytes(row.astype(np.uint8)) for row in every]


def agree(lay: Layout, settings: dict[str, Any]) -> None:
    """Compare every process's ``settings`` (JSON values) before any other collective; raise a
    ``ValueError`` on every process naming each setting that differs and its values per process.

    Two fixed-shape collectives when they agree (a digest, then nothing); on a difference, the
    settings themselves, padded to the longest. No shape depends on a setting, so nothing hangs.
    """
    if not lay.processes:
        return
    import hashlib

    from jax.experimental.multihost_utils import process_allgather

    text = json.dumps(settings, sort_keys=True, default=str).encode()
    digests = gather_bytes(lay, [hashlib.sha256(text).digest()])
    if len(set(digests)) == 1:
        return
    lengths = np.array([int.from_bytes(b, "little")
                        for b in gather_bytes(lay, [len(text).to_bytes(8, "little")])])
    padded = np.frombuffer(text.ljust(int(lengths.max()), b" "), np.uint8)
    rows = np.asarray(process_allgather(padded)).reshape(len(lengths), -1)
    every = [json.loads(bytes(r.astype(np.uint8))[:n]) for r, n in zip(rows, lengths)]
    names = sorted({k for s in every for k in s})
    differ = [k for k in names if len({json.dumps(s.get(k), sort_keys=True) for s in every}) > 1]
    raise ValueError("; ".join(
        f"{name}: every process must pass the same value; got {[s.get(name) for s in every]} "
        "(in process order)" for name in differ))


def same_rows(lay: Layout, name: str, rows: int) -> int:
    """The global row count of per-process ``rows`` (which must agree); ``rows`` in one process."""
    if not lay.processes:
        return rows
    from jax.experimental.multihost_utils import process_allgather

    counts = np.asarray(process_allgather(np.array([rows], np.int32))).ravel().tolist()
    if len(set(counts)) > 1:
        raise ValueError(f"{name}: every process must pass the same number of rows; got {counts} "
                         "rows (in process order)")
    return rows * len(counts)


def evaluate(lay: Layout, total: float, correct: int, rows: int) -> tuple[float, int, int]:
    """Sum one process's ``(summed objective, correct, rows)`` over every process (a collective)."""
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

        sync_global_devices("jaxmlp: the last checkpoint is written")
