"""The compiled pieces of training: one Optax update, the scan-fused epoch, and the replay.

An epoch is one jitted call: ``lax.scan`` over the shuffled full batches, one more step for a
partial last batch, then the validation pass, with the parameter and optimizer buffers donated.
The epoch's row order is drawn on the host (:func:`shuffle_order`) and passed in: NumPy's
Fisher-Yates shuffle is far cheaper than the sort-based ``jax.random.permutation`` inside the
epoch (the README's benchmark section has the numbers).
A non-finite loss is located with a scalar in the scan's carry; only then is the epoch replayed
step by step (:func:`replay`) to recover the last finite parameters, so the hot loop carries no
guard. :mod:`jaxmlp.train` builds the user-facing ``fit`` on these.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmlp.backprop import loss_and_grads, objective_and_output
from jaxmlp.compiles import relieve
from jaxmlp.inputs import check_model, check_rate, prepare
from jaxmlp.losses import REDUCTIONS, get_loss
from jaxmlp.model import MLP, Params
from jaxmlp.optimizers import get_optimizer
from jaxmlp.parallel import batch_sharding, make_mesh
from jaxmlp.progress import Progress

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


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything static about a training run (hashable: a jit static argument)."""

    model: MLP
    loss: str
    optimizer: Any
    grad: str
    reduction: str
    l2: float
    l1: float


def make_config(model, loss, optimizer, grad, reduction, l2, l1) -> Config:
    """The checked :class:`Config` of a run (errors name the argument)."""
    check_model(model)
    get_loss(loss)
    if grad not in GRADS:
        raise ValueError(f"grad: expected one of {GRADS}, got {grad!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    l2, l1 = check_rate("l2", l2), check_rate("l1", l1)
    return Config(model, loss, get_optimizer(optimizer), grad, reduction, l2, l1)


def make_train_step(
    model: MLP, loss: str = "categorical_crossentropy",
    optimizer: str | optax.GradientTransformation = "adam", grad: str = "backprop",
    reduction: str = "mean", l2: float = 0.0, l1: float = 0.0, mesh: Any = None,
) -> Callable[[Params, Any, tuple[Array, Array]], tuple[Params, Any, dict[str, Array]]]:
    """A pure, jitted ``step(params, opt_state, (x, t)) -> (params, opt_state, {"loss": E})``.

    ``x`` is ``(B, n_in)`` and ``t`` integer labels ``(B,)`` or targets ``(B, n_out)``, checked and
    one-hot encoded as :func:`fit` does, outside the compiled function (``step.jitted`` is the bare
    compiled step, for prepared targets inside your own ``jit``); ``grad`` picks the
    hand-written δ rule (``"backprop"``) or ``jax.grad`` (``"autodiff"``). Initialise the optimizer
    state with ``get_optimizer(optimizer).init(params)``. With a ``mesh`` (see
    :mod:`jaxmlp.parallel`) the batch rows are split over its ``"data"`` axis and the parameters
    replicated: data-parallel training, also across hosts with global batches.

    >>> import jax, jax.numpy as jnp, optax
    >>> model = MLP((2, 3, 1), ("tanh", "sigmoid"))
    >>> params = model.init(jax.random.key(0))
    >>> step = make_train_step(model, "binary_crossentropy", optax.sgd(0.1))
    >>> batch = (jnp.ones((4, 2)), jnp.ones((4, 1)))
    >>> params, state, metrics = step(params, optax.sgd(0.1).init(params), batch)
    >>> metrics["loss"].shape
    ()
    """
    config = make_config(model, loss, optimizer, grad, reduction, l2, l1)
    mesh = make_mesh(None, mesh)
    states: dict = {}  # the optimizer state's structure for each parameter structure seen

    @jax.jit
    def jitted(params, opt_state, batch):
        x, t = (split_rows(a, mesh) for a in batch)
        params, opt_state, value, _ = step(config, params, opt_state, x, t)
        return params, opt_state, {"loss": value}

    def checked_step(params, opt_state, batch):
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError(f"batch: expected a pair (x, t), got {type(batch).__name__}")
        x, t = prepare(model, params, *batch, loss, reduction, l2, l1, names=("batch[0] (x)", "batch[1] (t)"))
        shapes = jax.tree.structure(params), tuple(jnp.shape(v) for v in jax.tree.leaves(params))
        want = states.setdefault(shapes, jax.tree.structure(jax.eval_shape(config.optimizer.init, params)))
        if jax.tree.structure(opt_state) != want:
            raise TypeError(f"opt_state: does not match this step's optimizer; create it with "
                            f"optimizer.init(params) (expected {want}, got {jax.tree.structure(opt_state)})")
        relieve()
        return jitted(params, opt_state, (x, t))

    checked_step.jitted = jitted  # the bare compiled step: no checks, for use inside your own jit
    return checked_step


def step(c: Config, params, opt_state, x, t):
    """One update; returns the new state, the batch objective and the outputs."""
    if c.grad == "backprop":
        (value, out), grads = loss_and_grads(c.model, c.loss, c.reduction, params, x, t, c.l2, c.l1)
    else:
        (value, out), grads = jax.value_and_grad(objective_and_output, argnums=3, has_aux=True)(
            c.model, c.loss, c.reduction, params, x, t, c.l2, c.l1)
    updates, opt_state = c.optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value, out


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


def split_rows(a, mesh):
    """Split a batch's rows over the mesh's devices (when they divide evenly)."""
    if mesh is None or a.shape[0] % mesh.size:
        return a
    return jax.lax.with_sharding_constraint(a, batch_sharding(mesh))


def count_correct(out, t):
    if out.shape[-1] == 1:
        return jnp.sum((out[:, 0] > 0.5) == (t[:, 0] > 0.5), dtype=jnp.int32)
    return jnp.sum(jnp.argmax(out, axis=-1) == jnp.argmax(t, axis=-1), dtype=jnp.int32)


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

    With ``shards`` > 1 (:mod:`jaxmlp.distributed`), ``x, t`` are ``(shards, n, ...)``, ``order``
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
