"""The compiled pieces of :func:`jaxmlp.fit_many`: N models' epoch as one program, and its set-up.

Every leaf of the parameters and of the optimizer state has a leading "models" axis ``N``. One
epoch is a ``lax.scan`` over the mini-batches of ``jax.vmap(jaxmlp.training.epoch.step)``: the very update
:func:`jaxmlp.fit` makes, mapped over the models. When the models share a batch (the same row
order), ``vmap`` leaves the batch unmapped, so each layer's product for the N models on one batch
becomes a single matrix product (``(B, 784) · (784, 32 N)`` for the first layer of deck 002).
Per-model hyperparameters travel as arrays with a leading ``N``: penalty rates are swapped into
the step's :class:`~jaxmlp.training.epoch.Config`, learning rates live in the optimizer state through
``optax.inject_hyperparams``. A stopped model (early stopping) keeps computing but its update is
masked out, so it stays where it stopped.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmlp.core.backprop import objective_and_output
from jaxmlp.data.split import kfold
from jaxmlp.training import epoch as fused
from jaxmlp.training.checkpoint import load, save
from jaxmlp.training.optimizers import OPTIMIZERS, get_optimizer
from jaxmlp.training.progress import Progress

__all__ = ["checkpoint_paths", "epoch_function", "evaluate_models", "fold_rows", "init_state", "load_many",
           "many_optimizer", "save_many", "take"]


@functools.lru_cache(maxsize=32)
def epoch_function(c: fused.Config, n: int, batch_size: int, per_model: bool, validate: bool,
                   masked: bool, live: bool):
    """The compiled epoch ``(params, opt_state, hyper, active, x, t, order[, val...])``.

    ``order`` is ``(n,)`` row indices shared by the models, or ``(N, n)`` one row order per model
    (``per_model``); ``hyper`` maps Config fields (``"l2"``, ``"l1"``) to ``(N,)`` rates;
    ``active`` ``(N,)`` masks the updates when ``masked``. Validation takes ``(x_val, t_val)``
    shared, or ``(N, n_val)`` row indices into ``x, t`` per model. Returns the new parameters and
    state and ``(N,)`` statistics as :func:`jaxmlp.training.epoch.epoch_function` does for one model.
    """
    full, rest = divmod(n, batch_size)
    steps = full + (rest > 0)
    data_axis = 0 if per_model else None

    def model_step(params, opt_state, hyper, active, xb, tb):
        new_params, new_state, value, out = fused.step(dataclasses.replace(c, **hyper), params, opt_state,
                                                       xb, tb)
        if masked:
            new_params, new_state = jax.tree.map(lambda a, b: jnp.where(active, a, b),
                                                 (new_params, new_state), (params, opt_state))
        return new_params, new_state, value, fused.count_correct(out, tb)

    mapped = jax.vmap(model_step, in_axes=(0, 0, 0, 0, data_axis, data_axis))

    def run_batch(carry, idx, i, hyper, active, x, t):
        params, opt_state, total, correct, bad = carry
        params, opt_state, value, hits = mapped(params, opt_state, hyper, active, x[idx], t[idx])
        bad = jnp.where((bad < 0) & ~jnp.isfinite(value), i, bad)
        total = total + fused.per_example(c, value, idx.shape[-1])
        if live:
            jax.lax.cond(i % max(1, steps // 30) == 0,
                         lambda: jax.debug.callback(Progress.tick, i), lambda: None)
        return params, opt_state, total, correct + hits, bad

    def epoch(params, opt_state, hyper, active, x, t, order, *val):
        models = active.shape[0]
        carry = (params, opt_state, jnp.zeros((models,), x.dtype), jnp.zeros((models,), jnp.int32),
                 jnp.full((models,), -1, jnp.int32))
        if full:
            batches = order[..., : full * batch_size].reshape(*order.shape[:-1], full, batch_size)
            batches = jnp.moveaxis(batches, -2, 0)  # (full, [N,] B): the scan runs over the first axis

            def body(carry, inputs):
                i, idx = inputs
                return run_batch(carry, idx, i, hyper, active, x, t), None

            carry, _ = jax.lax.scan(body, carry, (jnp.arange(full, dtype=jnp.int32), batches),
                                  unroll=fused.unroll(full))
        if rest:
            last = jnp.asarray(full, jnp.int32)
            carry = run_batch(carry, order[..., full * batch_size:], last, hyper, active, x, t)
        params, opt_state, total, correct, bad = carry
        stats = {"loss": total, "correct": correct, "bad_step": bad}
        if validate:
            xv, tv = (x[val[0]], t[val[0]]) if per_model else val
            value, hits = evaluate_models(c, params, hyper, xv, tv, "mean")
            stats |= {"val_loss": value, "val_correct": hits}
        return params, opt_state, stats

    return jax.jit(epoch, donate_argnums=(0, 1))


def evaluate_models(c: fused.Config, params, hyper, x, t, reduction: str):
    """``(E (N,), correct (N,))``: each model's objective and correct count on ``x, t``, shared
    ``(n, n_in)`` or one set per model ``(N, n, n_in)``."""
    def one(params, hyper, x, t):
        h = dataclasses.replace(c, **hyper)
        value, out = objective_and_output(c.model, c.loss, reduction, params, x, t, h.l2, h.l1)
        return value, fused.count_correct(out, t)

    axis = 0 if x.ndim == 3 else None
    return jax.vmap(one, in_axes=(0, 0, axis, axis))(params, hyper, x, t)


def many_optimizer(optimizer: Any, learning_rate: Any, models: int
                   ) -> tuple[optax.GradientTransformation, dict[str, np.ndarray] | None]:
    """``(opt, rates)``: the transformation every model runs and ``{name: (N,) learning rates}``.

    ``rates`` is ``None`` when the optimizer is shared as :func:`jaxmlp.get_optimizer` builds it;
    otherwise ``opt`` is ``optax.inject_hyperparams`` of the alias (a name from
    :data:`jaxmlp.OPTIMIZERS` or a function such as ``optax.adam``) and the rates go into each
    model's state with :func:`init_state`.
    """
    sequence = isinstance(learning_rate, (list, tuple, np.ndarray, jax.Array))
    alias = callable(optimizer) and not (hasattr(optimizer, "init") and hasattr(optimizer, "update"))
    if not sequence and not alias:
        return get_optimizer(optimizer, learning_rate), None
    if isinstance(optimizer, str):
        get_optimizer(optimizer)  # the error for an unknown name
        factory = OPTIMIZERS[optimizer]
    elif alias:
        factory = optimizer
    else:
        raise TypeError(f"optimizer: with a learning_rate per model, expected a name from "
                        f"{tuple(OPTIMIZERS)} or an Optax alias such as optax.adam, got "
                        f"{type(optimizer).__name__}")
    if learning_rate is None:
        raise ValueError("learning_rate: required with an Optax alias such as optax.adam")
    rates = np.broadcast_to(np.asarray(learning_rate, dtype=np.float64), (models,)) if not sequence else \
        np.asarray(learning_rate, dtype=np.float64)
    if rates.shape != (models,):
        raise ValueError(f"learning_rate: expected one rate per model ({models}), got shape {rates.shape}")
    if not (np.all(np.isfinite(rates)) and np.all(rates > 0)):
        raise ValueError(f"learning_rate: expected positive numbers, got {rates.tolist()}")
    name = next(iter(inspect.signature(factory).parameters))  # an alias's first argument is its rate
    return _injected(factory), {name: rates}


@functools.cache
def _injected(factory: Callable[..., optax.GradientTransformation]) -> optax.GradientTransformation:
    """One ``inject_hyperparams`` transformation per alias, so compiled epochs are reused."""
    return optax.inject_hyperparams(factory)(1.0)  # 1.0 is a placeholder: init_state sets the rates


def init_state(opt: optax.GradientTransformation, params: Any, rates: dict[str, np.ndarray] | None,
               opt_state: Any = None) -> Any:
    """The stacked optimizer state (``opt.init`` of each model), with model i's rate ``rates[name][i]``."""
    if opt_state is None:
        opt_state = jax.vmap(opt.init)(params)
    if rates is None:
        return opt_state
    hyper = dict(opt_state.hyperparams)
    hyper.update({name: jnp.asarray(value, hyper[name].dtype) for name, value in rates.items()})
    return opt_state._replace(hyperparams=hyper)


def fold_rows(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train (k, n - n // k), val (k, n // k))``: row indices of k equal contiguous folds.

    Fold i is rows ``[i f, (i + 1) f)`` with ``f = n // k`` (:func:`jaxmlp.data.kfold` without
    shuffling); the ``n % k`` rows after the last fold train in every model and validate in none,
    so every model has the same number of rows (one compiled program). Shuffle the data first
    when its order means something.

    >>> [v.tolist() for v in fold_rows(7, 3)[1]]
    [[0, 1], [2, 3], [4, 5]]
    """
    f = n // k
    folds = list(kfold(None, f * k, k, shuffle=False))
    extra = np.arange(f * k, n)
    train = np.stack([np.concatenate([tr, extra]) for tr, _ in folds]).astype(np.int32)
    return train, np.stack([va for _, va in folds]).astype(np.int32)


def take(tree: Any, i: int) -> Any:
    """Model ``i`` of a stacked pytree."""
    return jax.tree.map(lambda a: a[i], tree)


def checkpoint_paths(path: str | os.PathLike, models: int) -> list[Path]:
    """One checkpoint per model: ``run.npz`` becomes ``run.0.npz``, ``run.1.npz``, ..."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"checkpoint: a checkpoint is a .npz file, got {str(path)!r}")
    return [path.with_suffix(f".{i}.npz") for i in range(models)]


def save_many(path, model, params, opt_state, step: int, history: dict[str, list[np.ndarray]], run) -> None:
    """Write model i's parameters, optimizer state and history column to its own checkpoint."""
    for i, file in enumerate(checkpoint_paths(path, jax.tree.leaves(params)[0].shape[0])):
        own = {name: [float(row[i]) for row in rows] for name, rows in history.items()}
        save(file, model, take(params, i), take(opt_state, i), step=step, history=own, run=run)


def load_many(path, model, opt, models: int, run: dict) -> tuple[Any, Any, dict[str, list[np.ndarray]]]:
    """Read the N checkpoints of :func:`save_many` back into stacked parameters, state and history."""
    ckpts = []
    for file in checkpoint_paths(path, models):
        if not file.is_file():
            raise ValueError(f"resume: {file} is missing (fit_many writes one checkpoint per model)")
        ckpt = load(file, optimizer=opt)
        if ckpt.model != model:
            raise ValueError(f"resume: checkpoint {file} holds {ckpt.model}, not {model}")
        if ckpt.opt_state is None:
            raise ValueError(f"resume: checkpoint {file} holds no optimizer state")
        for name, value in run.items():
            if ckpt.run.get(name) not in (None, value):
                raise ValueError(f"resume: checkpoint {file} was trained with other settings ({name}); "
                                 "resuming would change the run")
        ckpts.append(ckpt)
    lengths = {len(c.history.get("loss", [])) for c in ckpts}
    if len(lengths) != 1:
        raise ValueError(f"resume: the {models} checkpoints hold different numbers of epochs "
                         f"{sorted(lengths)}")
    stack, epochs = functools.partial(jax.tree.map, lambda *leaves: jnp.stack(leaves)), lengths.pop()
    history = {name: [np.array([c.history[name][e] for c in ckpts]) for e in range(epochs)]
               for name in ckpts[0].history}
    return stack(*(c.params for c in ckpts)), stack(*(c.opt_state for c in ckpts)), history
