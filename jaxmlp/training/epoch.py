"""The epoch, written once for one model: N models are its ``jax.vmap``.

An epoch is one compiled call: ``lax.scan`` over the full batches of the epoch's row order, one
more step for a partial last batch, then the validation pass. Its inputs are not donated: the
caller keeps the epoch's start for a replay at no cost (donated, the start had to be copied every
epoch, one more call and as much memory as the kept inputs). The row order is drawn on the host
(:func:`jaxmlp.data.shuffle_order`, the library's one shuffle, re-exported here) and passed in.

Each model has a step ``limit``: its updates stop after that many steps of the epoch (``jnp.where``
keeps the old state). One mechanism serves three needs: a model stopped early (limit 0), a model
that diverged and is frozen at its last finite parameters (limit 0 from then on), and the replay
of a failed epoch up to the step before the non-finite loss (limit = that step). The unmasked
program, compiled for the common case where every model trains, carries no such select.

N models are ``jax.vmap`` of the same function, with a leading models axis on the parameters, the
optimizer state, the per-model rates and the limits; the data is shared (``in_axes=None``), so each
layer's N products on a batch become one, or (k-fold) each model has its own row order.
Folds of unequal size (``Plan.ragged``) pad each model's rows to the longest with -1: a padding
entry gathers a real row (the last) but weighs 0 in the batch's mean, its loss sum, its correct
count and the validation pass, so model i's batches are exactly those of ``fit`` on its own rows
(only its last batch is short), and a model whose batch is all padding stops at its ``limit``.
Rows over devices and processes are layouts of this epoch (:mod:`jaxmlp.parallel`): the arrays
arrive sharded and ``Plan.batches`` splits each batch's rows; nothing here branches on them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxmlp.core.backprop import objective_and_output
from jaxmlp.core.programs import PROGRAMS
from jaxmlp.data.split import shuffle_order
from jaxmlp.training.progress import tick
from jaxmlp.training.step import Config, count_correct, step

__all__ = ["Plan", "epoch_program", "shuffle_order", "unroll"]

UNROLL = 2  # steps per iteration of the epoch's loop
UNROLL_FROM = 16  # full batches per epoch from which unrolling pays for compiling the step twice
TICKS = 30  # progress ticks per epoch


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything static about an epoch besides the update itself (hashable)."""

    rows: int  # the length of the epoch's row order (per model)
    batch_size: int
    validate: bool  # a validation pass after the batches
    live: bool  # progress ticks from inside the epoch
    masked: bool = False  # each model's updates stop at its step limit
    models: int | None = None  # None: one model; N: a leading models axis (jax.vmap)
    own_rows: bool = False  # N models: each its own row order and validation rows (k-fold)
    ragged: bool = False  # own rows padded with -1 to the longest (folds of unequal size)
    hyper: tuple[str, ...] = ()  # Config fields given per model ("l2", "l1")
    batches: Any = None  # a sharding for each batch's rows (data parallelism), or None

    @property
    def steps(self) -> int:
        return -(-self.rows // self.batch_size)


def unroll(full_batches: int) -> int:
    """Steps per loop iteration for an epoch of ``full_batches``: :data:`UNROLL` for long epochs,
    1 for short ones (a few batches gain nothing from overlap, and compile the step once)."""
    return UNROLL if full_batches >= UNROLL_FROM else 1


def epoch_program(c: Config, plan: Plan):
    """The compiled epoch ``(params, opt_state, hyper, limit, x, t, order, run, val) ->
    (params, opt_state, stats)``.

    ``hyper`` maps the fields ``plan.hyper`` to per-model rates; ``limit`` is each model's step
    limit (read when ``plan.masked``); ``order`` the epoch's row order ``(rows,)`` (``(N, rows)``
    with ``own_rows``); ``run`` the progress id (:mod:`jaxmlp.training.progress`); ``val`` is
    ``(x_val, t_val)``, ``(val_rows,)`` with ``own_rows``, or ``()``. ``stats`` holds the summed
    ``loss``, the ``correct`` count, ``bad_step`` (the first step with a non-finite loss, or -1),
    and ``val_loss`` / ``val_correct``, each ``(N,)`` for N models. With ``plan.ragged`` the -1
    entries of ``order`` and of the validation rows are padding, counted nowhere.
    """
    return PROGRAMS.get(c.model, ("epoch", c, plan), lambda: _build(c, plan))


def _build(c: Config, plan: Plan):
    full, rest = divmod(plan.rows, plan.batch_size)
    every = max(1, plan.steps // TICKS)

    def one_model(params, opt_state, hyper, limit, x, t, order, run, val):
        cm = dataclasses.replace(c, **hyper)

        def run_batch(carry, idx, i):
            params, opt_state, total, correct, bad = carry
            xb, tb = x[idx], t[idx]
            if plan.batches is not None:
                xb, tb = (jax.lax.with_sharding_constraint(a, plan.batches) for a in (xb, tb))
            weights = (idx >= 0).astype(x.dtype) if plan.ragged else None  # padding weighs 0
            new_params, new_state, value, out = step(cm, params, opt_state, xb, tb, weights)
            counts = True
            if plan.masked:
                counts = i < limit
                new_params, new_state = jax.tree.map(lambda a, b: jnp.where(counts, a, b),
                                                     (new_params, new_state), (params, opt_state))
            bad = jnp.where((bad < 0) & counts & ~jnp.isfinite(value), i, bad)
            rows = idx.shape[-1] if weights is None else jnp.sum(weights)
            summed = value * rows if c.reduction == "mean" else value
            if plan.ragged:  # a step past the model's limit adds nothing (its penalty neither)
                summed = jnp.where(counts, summed, 0)
            total = total + summed
            correct = correct + count_correct(out, tb, weights)
            if plan.live:
                jax.lax.cond(i % every == 0, lambda: jax.debug.callback(tick, run, i), lambda: None)
            return new_params, new_state, total, correct, bad

        carry = (params, opt_state, jnp.zeros((), x.dtype), jnp.zeros((), jnp.int32),
                 jnp.full((), -1, jnp.int32))
        if full:
            batches = order[: full * plan.batch_size].reshape(full, plan.batch_size)

            def body(carry, inputs):
                i, idx = inputs
                return run_batch(carry, idx, i), None

            # two steps per loop iteration: XLA overlaps one step's optimizer tail with the next
            # step's gather (docs: "How the epoch got fast")
            steps = (jnp.arange(full, dtype=jnp.int32), batches)
            carry, _ = jax.lax.scan(body, carry, steps, unroll=unroll(full))
        if rest:
            carry = run_batch(carry, order[full * plan.batch_size:], jnp.int32(full))
        params, opt_state, total, correct, bad = carry
        stats = {"loss": total, "correct": correct, "bad_step": bad}
        if plan.validate:
            xv, tv = (x[val[0]], t[val[0]]) if plan.own_rows else val
            weights = (val[0] >= 0).astype(x.dtype) if plan.ragged else None
            value, out = objective_and_output(c.model, c.loss, "mean", params, xv, tv, cm.l2, cm.l1,
                                              weights)
            stats |= {"val_loss": value, "val_correct": count_correct(out, tv, weights)}
        return params, opt_state, stats

    epoch = one_model
    if plan.models is not None:
        own = 0 if plan.own_rows else None
        epoch = jax.vmap(one_model, in_axes=(0, 0, 0, 0, None, None, own, None, own))
    return jax.jit(epoch)
