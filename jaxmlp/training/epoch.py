"""The compiled pieces of training: one Optax update, the scan-fused epoch, and the replay.

An epoch is one jitted call: ``lax.scan`` over the shuffled full batches, one more step for a
partial last batch, then the validation pass, with the parameter and optimizer buffers donated.
The epoch's row order is drawn on the host (:func:`shuffle_order`) and passed in: NumPy's
Fisher-Yates shuffle is far cheaper than the sort-based ``jax.random.permutation`` inside the
epoch (the README's benchmark section has the numbers).
A non-finite loss is located with a scalar in the scan's carry; only then is the epoch replayed
step by step (:func:`replay`) to recover the last finite parameters, so the hot loop carries no
guard. :mod:`jaxmlp.training.fit` builds the user-facing ``fit`` on these.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.core.backprop import objective_and_output
from jaxmlp.training.progress import Progress
from jaxmlp.training.step import Config, count_correct, make_config, make_train_step, split_rows, step

__all__ = ["GRADS", "Config", "batch_rows", "copy", "epoch_function", "evaluate_jit", "make_config",
           "make_train_step", "predict_jit", "replay", "shuffle_order", "step"]

Array = jax.Array
GRADS = ("backprop", "autodiff")
UNROLL = 2  # steps per iteration of the epoch's loop (see epoch_function)
UNROLL_FROM = 16  # full batches per epoch from which unrolling pays for compiling the step twice


def unroll(full_batches: int) -> int:
    """Steps per loop iteration for an epoch of ``full_batches``: :data:`UNROLL` for long epochs,
    1 for short ones (a few batches gain nothing from overlap, and compile the step once)."""
    return UNROLL if full_batches >= UNROLL_FROM else 1


def shuffle_order(key, epoch: int, n: int, shuffle: bool = True) -> np.ndarray:
    """The row order of epoch ``epoch`` (int32): a uniform random permutation of ``range(n)``.

    A function of ``(key, epoch)`` alone, so a resumed run repeats an uninterrupted one: NumPy's
    PCG64 generator, seeded with the key's data and the epoch number, shuffles by Fisher-Yates.
    With ``shuffle=False`` the rows keep their order.

    >>> shuffle_order(jax.random.key(0), 3, 5).tolist() == shuffle_order(jax.random.key(0), 3, 5).tolist()
    True
    >>> sorted(shuffle_order(jax.random.key(0), 3, 5).tolist())
    [0, 1, 2, 3, 4]
    """
    if not shuffle:
        return np.arange(n, dtype=np.int32)
    words = np.asarray(jax.random.key_data(key), dtype=np.uint32).ravel().tolist()
    return np.random.default_rng([*words, int(epoch)]).permutation(n).astype(np.int32)


def per_example(c: Config, value, batch):
    """A batch objective as a sum over its rows (history reports the mean per row)."""
    return value * batch if c.reduction == "mean" else value


def batch_rows(a, idx, mesh, shards: int = 1):
    """The batch ``a[idx]``, its rows split over the mesh. With ``shards`` > 1, ``a`` is
    ``(shards, m, ...)`` and ``idx`` ``(shards, b)`` row numbers within each shard: the batch is
    shard 0's rows, then shard 1's, ... ``(shards * b, ...)``, each shard gathered where it lives."""
    if shards == 1:
        return split_rows(a[idx], mesh)
    rows = jax.vmap(lambda part, i: part[i])(a, idx)
    return split_rows(rows.reshape(-1, *a.shape[2:]), mesh)


def epoch_function(c: Config, n: int, batch_size: int, validate: bool, live: bool, mesh: Any = None,
                   shards: int = 1):
    """The compiled epoch ``(params, opt_state, x, t, order[, x_val, t_val])``: scan over the full
    batches of ``order``, one step for a partial last batch, then the validation pass; the
    parameter and optimizer buffers are donated.

    With ``shards`` > 1 (:mod:`jaxmlp.parallel.processes`), ``x, t`` are ``(shards, n, ...)``, ``order``
    is ``(shards, n)`` (each shard's own row order) and batch ``i`` joins every shard's ``i``-th
    ``batch_size / shards`` rows (see :func:`batch_rows`); the validation rows may be
    ``(shards, v, ...)``. One compiled function per distinct setting (cached)."""
    return _epoch_function(c, n, batch_size, validate, live, mesh, shards)


@functools.lru_cache(maxsize=32)
def _epoch_function(c, n, batch_size, validate, live, mesh, shards):
    per = batch_size // shards  # each shard's rows in one batch
    full, rest = divmod(n, per)
    steps = full + (rest > 0)

    def run_batch(carry, idx, i, x, t):
        params, opt_state, total, correct, bad = carry
        xb, tb = batch_rows(x, idx, mesh, shards), batch_rows(t, idx, mesh, shards)
        params, opt_state, value, out = step(c, params, opt_state, xb, tb)
        bad = jnp.where((bad < 0) & ~jnp.isfinite(value), i, bad)
        total = total + per_example(c, value, idx.size)
        correct = correct + count_correct(out, tb)
        if live:
            jax.lax.cond(i % max(1, steps // 30) == 0,
                         lambda: jax.debug.callback(Progress.tick, i), lambda: None)
        return (params, opt_state, total, correct, bad)

    def epoch(params, opt_state, x, t, order, x_val=None, t_val=None):
        zero = jnp.zeros((), x.dtype)
        carry = (params, opt_state, zero, jnp.zeros((), jnp.int32), jnp.full((), -1, jnp.int32))
        if full:
            batches = order[..., : full * per].reshape(*order.shape[:-1], full, per)
            if shards > 1:
                batches = jnp.swapaxes(batches, 0, 1)  # (full, shards, per): scan over the first axis

            def body(carry, inputs):
                i, idx = inputs
                return run_batch(carry, idx, i, x, t), None

            # two steps per loop iteration: XLA overlaps one step's optimizer tail with the next
            # step's gather (measured in the README's "How the epoch got fast")
            carry, _ = jax.lax.scan(body, carry, (jnp.arange(full, dtype=jnp.int32), batches),
                                    unroll=unroll(full))
        if rest:
            carry = run_batch(carry, order[..., full * per:], jnp.asarray(full, jnp.int32), x, t)
        params, opt_state, total, correct, bad = carry
        stats = {"loss": total, "correct": correct, "bad_step": bad}
        if validate:
            if x_val.ndim == 3:  # (shards, v, n_in): the union of the shards' validation rows
                x_val, t_val = x_val.reshape(-1, x_val.shape[-1]), t_val.reshape(-1, t_val.shape[-1])
            value, out = objective_and_output(c.model, c.loss, "mean", params, x_val, t_val, c.l2, c.l1)
            stats |= {"val_loss": value, "val_correct": count_correct(out, t_val)}
        return params, opt_state, stats

    return jax.jit(epoch, donate_argnums=(0, 1))


def replay(c, params, opt_state, x, t, key, epoch, batch_size, shuffle, bad_step):
    """Re-run a failed epoch's first ``bad_step`` updates to recover the last finite parameters."""
    order = shuffle_order(key, epoch, x.shape[0], shuffle)
    update = jax.jit(lambda p, s, xb, tb: step(c, p, s, xb, tb)[:2])
    for i in range(bad_step):
        idx = order[i * batch_size:(i + 1) * batch_size]
        params, opt_state = update(params, opt_state, x[idx], t[idx])
    return jax.device_get(params)


copy = jax.jit(lambda tree: jax.tree.map(jnp.copy, tree))


@functools.partial(jax.jit, static_argnums=0)
def evaluate_jit(c: Config, params, x, t):
    value, out = objective_and_output(c.model, c.loss, c.reduction, params, x, t, c.l2, c.l1)
    return value, count_correct(out, t)


@functools.partial(jax.jit, static_argnums=0)
def predict_jit(model, params, x):
    return jax.vmap(lambda xn: model.forward(params, xn)[1][-1])(x)
