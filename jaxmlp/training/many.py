"""Many models in one compiled program: seeds, hyperparameter grids and k-fold cross-validation.

Research scripts train many networks: several seeds, a grid of learning rates and penalty rates
(deck 004's L1 / L2, the Playground's regularisation rate), k folds (deck 004's k-fold). Here the
N models are one pytree whose every leaf has a leading "models" axis (``model.init(keys)`` with
``keys = jax.random.split(key, N)``), and :func:`fit_many` trains them together: each epoch is one
compiled call, a ``lax.scan`` over the mini-batches of ``fit``'s update mapped over the models with
``jax.vmap`` (:mod:`jaxmlp.training.many_epoch`). Model i equals ``fit`` of model i with its own settings.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmlp.core.checks import (
    check_int,
    check_key,
    check_metrics,
    check_model,
    check_options,
    check_output,
    check_params,
    check_rate,
    check_x,
    prepare,
)
from jaxmlp.core.model import MLP, Params
from jaxmlp.training import epoch as fused
from jaxmlp.training import many_epoch as me
from jaxmlp.training.checkpoint import fingerprint, run_key
from jaxmlp.training.fit import split_validation
from jaxmlp.training.history import hyperparameters, run_history
from jaxmlp.training.progress import Progress
from jaxmlp.training.stopping import EarlyStopping, Tracker, TrainingError

__all__ = ["ensemble", "evaluate_many", "fit_many", "predict_many"]

Array = jax.Array
Rate = float | Sequence[float]


def fit_many(
    model: MLP, params: Params, x: Any, t: Any, *,
    optimizer: str | Callable[..., optax.GradientTransformation] | optax.GradientTransformation = "adam",
    learning_rate: Rate | None = None, l2: Rate = 0.0, l1: Rate = 0.0, folds: int | None = None,
    loss: str = "categorical_crossentropy", epochs: int = 1, batch_size: int = 32,
    validation_split: float = 0.0, validation_data: tuple[Any, Any] | None = None,
    metrics: Sequence[str] = ("accuracy",), key: Array | None = None, grad: str = "backprop",
    reduction: str = "mean", early_stopping: EarlyStopping | None = None, checkpoint: str | None = None,
    resume: str | None = None, verbose: int = 1, shuffle: bool = True,
    on_epoch_end: Callable[[int, dict[str, np.ndarray]], Any] | None = None,
) -> tuple[Params, dict[str, np.ndarray]]:
    """Train N models at once: ``params`` has a leading models axis ``N`` on every leaf.

    Arguments (the others are :func:`jaxmlp.fit`'s, applied to every model):
        model, params: the network and the stacked parameters (``model.init(jax.random.split(key, N))``).
        x, t: the training rows ``(n, n_in)`` and labels ``(n,)`` or targets ``(n, n_out)``, shared.
        optimizer, learning_rate: as :func:`jaxmlp.get_optimizer` when ``learning_rate`` is one
            number (or ``None``); a length-N sequence gives model i the rate ``learning_rate[i]``,
            with ``optimizer`` a name (``"adam"``, ``"sgd"``, ...) or an Optax alias such as
            ``optax.adam``, through ``optax.inject_hyperparams``.
        l2, l1: penalty rates, one number or one per model (length N).
        folds: k-fold cross-validation (deck 004) with N = k models: model i validates on fold i,
            rows ``[i f, (i + 1) f)`` with ``f = n // k``, and trains on the other rows (the
            ``n % k`` rows after the last fold train in every model); shuffle the rows first when
            their order means something. Not with ``validation_split`` / ``validation_data``.
        key, shuffle: epoch ``e`` visits the training rows in the order
            ``jaxmlp.training.epoch.shuffle_order(key, e, n_train)``, the same for every model and the same
            as ``fit(..., key=key)``; with ``folds`` that order indexes each model's own rows.
        early_stopping: per model; a stopped model's updates are masked out, its later history
            entries are NaN, and training ends when every model has stopped.
        checkpoint, resume: ``run.npz`` stands for one checkpoint per model, ``run.0.npz``,
            ``run.1.npz``, ... (each as :func:`jaxmlp.fit` writes it, with that model's history).
        verbose: 0 silent, 1 a progress bar, 2 one line per epoch (the mean of the models training);
            on_epoch_end: called as ``on_epoch_end(epoch, logs)``, ``logs[name]`` of shape ``(N,)``.

    Returns ``(params, history)``: the stacked parameters and ``history[name]`` of shape
    ``(epochs, N)`` (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``) in a :class:`jaxmlp.History`
    (``.params``: the settings, per-model rates as lists; ``.per_epoch``: ``(epochs, N)`` learning rates).
    Raises :class:`TrainingError` on a non-finite loss: ``.params`` holds every model's last
    finite parameters. One process only (across processes, :func:`jaxmlp.fit` trains one model).

    >>> model = MLP((2, 4, 2), ("tanh", "softmax"))
    >>> params = model.init(jax.random.split(jax.random.key(0), 3))
    >>> x, t = jnp.ones((8, 2)), jnp.zeros(8, jnp.int32)
    >>> params, history = fit_many(model, params, x, t, learning_rate=[1e-3, 1e-2, 1e-1], epochs=2, verbose=0)
    >>> params[0]["w"].shape, history["loss"].shape
    ((3, 4, 2), (2, 3))
    """
    if jax.process_count() > 1:
        raise ValueError("fit_many: trains in one process; across processes, train one model with fit")
    models = check_stacked(model, params)
    opt, rates = me.many_optimizer(optimizer, learning_rate, models)
    rates_l2, rates_l1 = _rates("l2", l2, models), _rates("l1", l1, models)
    per_model = {k: v for k, v in (("l2", rates_l2), ("l1", rates_l1)) if isinstance(v, np.ndarray)}
    static = {k: 0.0 if k in per_model else v for k, v in (("l2", rates_l2), ("l1", rates_l1))}
    config = fused.make_config(model, loss, opt, grad, reduction, static["l2"], static["l1"])
    epochs, batch_size = check_int("epochs", epochs, 0), check_int("batch_size", batch_size, 1)
    metrics = check_metrics(metrics)
    check_options(verbose, on_epoch_end, early_stopping)
    key = jax.random.key(0) if key is None else check_key(key)
    checkpoint = None if checkpoint is None else check_output("checkpoint", checkpoint, ".npz")
    x, t = prepare(model, me.take(params, 0), x, t, loss, reduction)
    if folds is not None:
        folds = check_int("folds", folds, 2)
        if folds != models:
            raise ValueError(f"folds: one model per fold, but params stack N={models} models for "
                             f"folds={folds}")
        if validation_split or validation_data is not None:
            raise ValueError("folds: each model validates on its own fold; give no validation_split or "
                             "validation_data")
        if x.shape[0] < folds:
            raise ValueError(f"folds: {folds} folds need at least {folds} rows, got {x.shape[0]}")
        rows, val_rows = me.fold_rows(x.shape[0], folds)
        validation, n_val = (jnp.asarray(val_rows),), val_rows.shape[1]
    else:
        (x, t), validation = split_validation(model, me.take(params, 0), x, t, validation_split,
                                              validation_data, config)
        rows, n_val = None, None if validation is None else validation[0].shape[0]
    names = ["loss", *metrics] + (["val_loss", *(f"val_{m}" for m in metrics)] if validation else [])
    if early_stopping is not None:
        early_stopping.check_monitor(names)
    n = x.shape[0] if rows is None else rows.shape[1]
    steps = math.ceil(n / batch_size)
    run = {"batch_size": batch_size, "shuffle": bool(shuffle), "key": run_key(key), "data": fingerprint(x, t),
           "folds": folds}
    if resume is None:
        params = jax.tree.map(jnp.array, params)  # our own buffers: the caller's are never donated
        opt_state, history = me.init_state(opt, params, rates), {}
    else:
        params, opt_state, history = me.load_many(resume, model, opt, models, run)
        opt_state = me.init_state(opt, params, rates, opt_state)
    history = {name: list(history.get(name, [])) for name in names}
    hyper = {k: jnp.asarray(v, x.dtype) for k, v in per_model.items()}

    progress = Progress(steps, verbose)
    trackers = [Tracker(early_stopping) for _ in range(models)]
    active, changing = np.ones(models, bool), []  # changing: History.per_epoch's readings
    epoch_fn = me.epoch_function(config, n, batch_size, rows is not None, validation is not None,
                                 early_stopping is not None, verbose == 1)
    for epoch in range(len(history["loss"]), epochs):
        progress.start(epoch, epochs)
        start = fused.copy((params, opt_state))  # kept on the device for a replay: the buffers are donated
        order = fused.shuffle_order(key, epoch, n, shuffle)
        order = order if rows is None else rows[:, order]
        params, opt_state, stats = epoch_fn(params, opt_state, hyper, jnp.asarray(active), x, t, order,
                                            *(validation or ()))
        stats = jax.device_get(stats)
        if np.any((stats["bad_step"] >= 0) & active):
            raise _non_finite(config, per_model, params, start, stats["bad_step"], active, x, t, rows, key,
                              epoch, batch_size, shuffle)
        logs = _history_row(stats, n, n_val, metrics, active)
        for name in names:
            history[name].append(logs[name])
        changing.append(hyperparameters(opt_state))
        progress.end({name: float(np.nanmean(value)) for name, value in logs.items()})
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)
        if checkpoint is not None:
            me.save_many(checkpoint, model, params, opt_state, (epoch + 1) * steps, history, run)
        if early_stopping is not None:
            for i in np.flatnonzero(active):
                if trackers[i].update({name: [logs[name][i]] for name in names}, me.take(params, i)):
                    active[i] = False
            if not active.any():
                break
    if early_stopping is not None and early_stopping.restore_best:
        params = _stack([trackers[i].final(me.take(params, i)) for i in range(models)])
    return params, run_history(history, changing, config, optimizer, epochs=epochs, steps=steps, **run,
                               models=models, learning_rate=learning_rate, l2=rates_l2, l1=rates_l1, rows=n)


def evaluate_many(
    model: MLP, params: Params, x: Any, t: Any, loss: str = "categorical_crossentropy",
    metrics: Sequence[str] = ("accuracy",), reduction: str = "mean", l2: Rate = 0.0, l1: Rate = 0.0,
) -> dict[str, np.ndarray]:
    """Each model's objective and metrics on ``(x, t)``: ``{"loss": (N,), "accuracy": (N,)}``.

    >>> model = MLP((2, 2), ("softmax",))
    >>> params = [{"w": jnp.zeros((3, 2, 2)), "b": jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])}]
    >>> evaluate_many(model, params, jnp.zeros((4, 2)), jnp.array([0, 0, 0, 1]))["accuracy"].tolist()
    [0.75, 0.25, 0.75]
    """
    models = check_stacked(model, params)
    metrics = check_metrics(metrics)
    rates = {"l2": _rates("l2", l2, models), "l1": _rates("l1", l1, models)}
    x, t = prepare(model, me.take(params, 0), x, t, loss, reduction)
    config = fused.make_config(model, loss, "sgd", "autodiff", reduction, 0.0, 0.0)
    hyper = {k: jnp.broadcast_to(jnp.asarray(v, x.dtype), (models,)) for k, v in rates.items()}
    value, correct = _evaluate_jit(config, params, hyper, x, t)
    out = {"loss": np.asarray(value, np.float64)}
    if "accuracy" in metrics:
        out["accuracy"] = np.asarray(correct, np.float64) / x.shape[0]
    return out


def predict_many(model: MLP, params: Params, x: Any) -> Array:
    """Every model's outputs for a batch: ``(n, n_in) -> (N, n, n_out)``.

    >>> model = MLP((3, 2), ("softmax",))
    >>> predict_many(model, model.init(jax.random.split(jax.random.key(0), 4)), jnp.ones((5, 3))).shape
    (4, 5, 2)
    """
    check_stacked(model, params)
    x = check_x(model, x)
    return _predict_jit(model, params, x)


def ensemble(model: MLP, params: Params, x: Any) -> Array:
    """The N models' mean output (probabilities for softmax): ``(n, n_in) -> (n, n_out)``.

    >>> model = MLP((3, 2), ("softmax",))
    >>> p = ensemble(model, model.init(jax.random.split(jax.random.key(0), 4)), jnp.ones((5, 3)))
    >>> p.shape, bool(jnp.allclose(p.sum(axis=1), 1.0))
    ((5, 2), True)
    """
    return jnp.mean(predict_many(model, params, x), axis=0)


def check_stacked(model: MLP, params: Params, name: str = "params") -> int:
    """The number N of stacked models: every leaf of ``params`` is model ``i``'s leaf at ``[i]``."""
    check_model(model)
    if not isinstance(params, (list, tuple)) or not all(isinstance(layer, dict) for layer in params):
        raise TypeError(f"{name}: expected stacked parameters, a list of layer dicts (model.init(keys)), "
                        f"got {type(params).__name__}")
    leading = {tuple(jnp.shape(leaf)[:1]) for leaf in jax.tree.leaves(params)}
    if len(leading) != 1 or () in leading:
        raise ValueError(f"{name}: expected stacked parameters, every leaf with the same leading models "
                         f"axis N (model.init(jax.random.split(key, N))), got leading sizes "
                         f"{sorted(s[0] for s in leading if s)}")
    models = leading.pop()[0]
    try:
        check_params(model, me.take(params, 0), name)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{error} (in model 0 of the {models} stacked models)") from None
    return models


# --- helpers ------------------------------------------------------------------------------

def _rates(name: str, value: Any, models: int) -> float | np.ndarray:
    """One rate for every model (a float), or one rate per model (an ``(N,)`` array)."""
    if isinstance(value, (list, tuple, np.ndarray, jax.Array)) and np.ndim(value) == 1:
        if len(value) != models:
            raise ValueError(f"{name}: expected a number or one rate per model ({models}), got {len(value)}")
        return np.array([check_rate(f"{name}[{i}]", v) for i, v in enumerate(value)])
    return check_rate(name, value)


def _history_row(stats, n: int, n_val: int | None, metrics, active) -> dict[str, np.ndarray]:
    """One epoch's ``(N,)`` entries; NaN for the models that had already stopped."""
    row = {"loss": stats["loss"] / n, "accuracy": stats["correct"] / n}
    if n_val is not None:
        row |= {"val_loss": stats["val_loss"], "val_accuracy": stats["val_correct"] / n_val}
    return {k: np.where(active, np.asarray(v, np.float64), np.nan) for k, v in row.items()
            if "accuracy" in metrics or not k.endswith("accuracy")}


def _non_finite(config, per_model, params, start, bad, active, x, t, rows, key, epoch, batch_size, shuffle):
    """The error for a non-finite loss, holding each failed model's replayed last finite parameters."""
    failed = [int(i) for i in np.flatnonzero((bad >= 0) & active)]
    last = [jax.device_get(me.take(params, i)) for i in range(len(active))]
    for i in failed:
        c = dataclasses.replace(config, **{k: float(v[i]) for k, v in per_model.items()})
        xi, ti = (x, t) if rows is None else (x[rows[i]], t[rows[i]])
        last[i] = fused.replay(c, me.take(start[0], i), me.take(start[1], i), xi, ti, key, epoch, batch_size,
                               shuffle, int(bad[i]))
    first = min(int(bad[i]) for i in failed)
    return TrainingError(f"non-finite loss at epoch {epoch + 1} in models {failed} (first at step "
                         f"{first + 1}); every model's last finite parameters are in this error's .params",
                         _stack(last), epoch + 1, first + 1)


def _stack(trees: list) -> Params:
    return jax.tree.map(lambda *leaves: jnp.stack([jnp.asarray(a) for a in leaves]), *trees)


@functools.partial(jax.jit, static_argnums=0)
def _evaluate_jit(c, params, hyper, x, t):
    return me.evaluate_models(c, params, hyper, x, t, c.reduction)


@functools.partial(jax.jit, static_argnums=0)
def _predict_jit(model, params, x):
    return jax.vmap(lambda p: fused.predict_jit(model, p, x))(params)
