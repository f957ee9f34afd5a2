"""``fit`` over several processes (jax.distributed), and the one-process run that equals it.

After :func:`jaxmlp.parallel.initialize`, every process calls ``fit(model, params, x_p, t_p,
devices="all")`` with ITS OWN rows ``x_p`` (the same number on each) and the same ``params``, ``key``
and settings. The global training set is the processes' rows in process order, ``P`` equal shards
``x_0, ..., x_{P-1}`` of ``m`` rows each, and:

- ``validation_split`` holds out the last fraction of EACH shard; the global validation set is their
  union (``validation_data`` likewise: each process passes its own rows, the same number on each).
- Shard ``p`` visits its rows in the order ``shuffle_order(fold_in(key, p), epoch, m)``.
- ``batch_size`` is the global batch (a multiple of the global device count); each shard gives
  ``b = batch_size / P`` rows to every batch: batch ``i`` is shard 0's rows ``order_0[i b : (i+1) b]``,
  then shard 1's, ...; the partial last batch joins every shard's remainder (``P (m mod b)`` rows).
- Each process's rows stay on its own devices (``("process", "data")`` mesh, :func:`parallel.process_mesh`):
  a batch is gathered where its rows live, and XLA all-reduces the gradient sums, so every process
  applies the same update; the epoch's sums, hence ``loss``, ``accuracy`` and ``val_*``, are global.
- Process 0 alone prints and writes the checkpoint; ``fit`` returns the same parameters on every
  process, as ordinary arrays of that process.

The equality of record: ``fit(model, params, x, t, shards=P)`` in ONE process, with ``x`` the
concatenation ``x_0, ..., x_{P-1}``, forms the same batches in the same order and gives the same
parameters and history to float tolerance (tests/test_multiprocess.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxmlp.core.backprop import penalty
from jaxmlp.core.checks import check_int
from jaxmlp.parallel.devices import PROCESS, process_mesh, replicated
from jaxmlp.training import epoch as fused
from jaxmlp.training.checkpoint import fingerprint as shard_fingerprint

__all__ = ["check_shards", "evaluate", "fingerprint", "finish", "local_copy", "order", "place", "replay",
           "split_shards", "writes"]


def check_shards(shards: Any, mesh: Any, batch_size: int) -> tuple[int, Any]:
    """``(P, mesh)``: the shard count and the mesh to train on (its process view across processes).

    One process: ``shards`` (default 1). Several: one shard per process, over a mesh that must
    span every process's devices (``devices="all"``)."""
    count = jax.process_count()
    if count == 1:
        shards = 1 if shards is None else check_int("shards", shards, 1)
    else:
        if mesh is None:
            raise ValueError(f"devices: this run has {count} processes (jax.distributed); pass "
                             "devices='all' so that fit trains over every process's devices")
        present = sorted({d.process_index for d in mesh.devices.flat})
        if present != list(range(count)):
            raise ValueError(f"devices: the mesh holds the devices of processes {present}, but all {count} "
                             "processes take part; pass devices='all'")
        if shards not in (None, count):
            raise ValueError(f"shards: {count} processes hold one shard each; got shards={shards!r}")
        shards, mesh = count, process_mesh(mesh)
    if batch_size % shards:
        raise ValueError(f"batch_size: {batch_size} rows do not split evenly over {shards} shards; "
                         f"use a multiple of {shards}")
    return shards, mesh


def split_shards(x: jax.Array, t: jax.Array, shards: int) -> tuple[jax.Array, jax.Array]:
    """This process's shards ``(k, m, ...)``: the ``P`` equal parts of ``(x, t)`` in one process,
    the process's own rows (``k = 1``) across processes, where the row counts must agree."""
    if jax.process_count() > 1:
        _same_counts("x", x.shape[0])
        return x[None], t[None]
    if x.shape[0] % shards:
        raise ValueError(f"x: {x.shape[0]} rows do not split into {shards} equal shards (shards={shards}); "
                         "every shard needs the same number of rows")
    return x.reshape(shards, -1, x.shape[1]), t.reshape(shards, -1, t.shape[1])


def fingerprint(x: jax.Array, t: jax.Array) -> str:
    """The training set's digest for checkpoints: every shard's, joined in shard order (the same
    in a run across processes and in its one-process equivalent)."""
    mine = [shard_fingerprint(x[i], t[i]) for i in range(x.shape[0])]
    if jax.process_count() > 1:
        from jax.experimental.multihost_utils import process_allgather

        codes = process_allgather(np.frombuffer("".join(mine).encode(), np.uint8))
        mine = [bytes(row.astype(np.uint8)).decode() for row in np.asarray(codes)]
    return hashlib.sha256("|".join(mine).encode()).hexdigest()[:16]


def place(tree: Any, mesh: Any, shards: int) -> Any:
    """Put training arrays on the mesh: replicated in one process; across processes each process's
    ``(1, m, ...)`` rows (or its ``(v, ...)`` validation rows) become its part of one ``(P, m, ...)``
    array split over ``"process"``."""
    if mesh is None:
        return tree
    if jax.process_count() == 1:
        return jax.device_put(tree, replicated(mesh))
    sharding = NamedSharding(mesh, P(PROCESS))

    def put(a):
        a = np.asarray(a)
        if a.ndim == 2:  # validation_data rows
            _same_counts("validation_data", a.shape[0])
            a = a[None]
        return jax.make_array_from_process_local_data(sharding, a)

    return jax.tree.map(put, tree)


def order(key: jax.Array, epoch: int, n: int, shuffle: bool, shards: int, mesh: Any) -> Any:
    """Epoch ``epoch``'s row order: ``shuffle_order(key, epoch, n)`` for one shard; for ``P``
    shards, ``(P, n)`` with row ``p`` ``shuffle_order(fold_in(key, p), epoch, n)``, each process
    drawing only its own rows' order."""
    if shards == 1:
        rows = fused.shuffle_order(key, epoch, n, shuffle)
        return rows if mesh is None else jax.device_put(rows, replicated(mesh))
    if jax.process_count() == 1:
        rows = np.stack([fused.shuffle_order(jax.random.fold_in(key, p), epoch, n, shuffle)
                         for p in range(shards)])
        return rows if mesh is None else jax.device_put(rows, replicated(mesh))
    rows = fused.shuffle_order(jax.random.fold_in(key, jax.process_index()), epoch, n, shuffle)
    return jax.make_array_from_process_local_data(NamedSharding(mesh, P(PROCESS)), rows[None])


def replay(c, params, opt_state, x, t, rows, batch_size: int, bad_step: int, shards: int, mesh: Any):
    """:func:`jaxmlp.training.epoch.replay` for sharded data: re-run the first ``bad_step`` batches of the
    epoch's order ``rows`` and return the last finite parameters."""
    per = batch_size // shards

    @jax.jit
    def update(p, s, x, t, rows, i):
        idx = jax.lax.dynamic_slice_in_dim(rows, i * per, per, axis=1)
        return fused.step(c, p, s, fused.batch_rows(x, idx, mesh, shards),
                          fused.batch_rows(t, idx, mesh, shards))[:2]

    for i in range(bad_step):
        params, opt_state = update(params, opt_state, x, t, rows, i)
    return jax.device_get(local_copy(params))


def evaluate(c, params, x: jax.Array, t: jax.Array) -> tuple[float, int, int]:
    """``(objective, correct, rows)`` over every process's rows ``(x, t)`` (a collective: every
    process calls it): the per-row losses are summed on each process and added up across them."""
    from jax.experimental.multihost_utils import process_allgather

    plain = fused.Config(c.model, c.loss, c.optimizer, c.grad, "sum", 0.0, 0.0)
    total, correct = fused.evaluate_jit(plain, params, x, t)
    sums = np.asarray(process_allgather(np.array([total], np.float32))).ravel()
    counts = np.asarray(process_allgather(np.array([x.shape[0], int(correct)], np.int32))).reshape(-1, 2)
    rows = int(counts[:, 0].sum())
    value = float(sums.sum()) / (rows if c.reduction == "mean" else 1)
    return value + float(penalty(params, c.l2, c.l1)), int(counts[:, 1].sum()), rows


def local_copy(tree: Any) -> Any:
    """This process's copy of every leaf replicated across processes (others unchanged)."""
    def own(a):
        if isinstance(a, jax.Array) and not a.is_fully_addressable and a.is_fully_replicated:
            return a.addressable_data(0)
        return a

    return jax.tree.map(own, tree)


def finish(params: Any, checkpoint: Any) -> Any:
    """The end of ``fit``: this process's copy of ``params``; across processes, wait until every
    process is here when process 0 wrote a checkpoint, so a ``resume`` that follows reads the last one."""
    if jax.process_count() > 1 and checkpoint is not None:
        from jax.experimental.multihost_utils import sync_global_devices

        sync_global_devices("jaxmlp.fit: the last checkpoint is written")
    return local_copy(params)


def writes() -> bool:
    """Whether this process prints and writes files (process 0)."""
    return jax.process_index() == 0


def _same_counts(name: str, rows: int) -> None:
    from jax.experimental.multihost_utils import process_allgather

    counts = np.asarray(process_allgather(np.array([rows], np.int32))).ravel().tolist()
    if len(set(counts)) > 1:
        raise ValueError(f"{name}: every process must pass the same number of rows; got {counts} rows "
                         "(in process order)")
