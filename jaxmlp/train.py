"""Training with Optax: a jitted step, scan-fused epochs, and Keras-style fit / evaluate / predict.

Gradients come from the hand-written δ rule (``grad="backprop"``) or from ``jax.grad``
(``grad="autodiff"``); either way they are handed to an Optax ``GradientTransformation``, so SGD,
momentum, RMSprop, Adam and learning-rate schedules are Optax's, never re-implemented here.

Speed by design: the training data is put on the device once; an epoch is one compiled call, a
``lax.scan`` over the shuffled mini-batches followed by the validation pass, with the parameter and
optimizer buffers donated; the metrics stay on the device until the epoch ends; and nothing is
recompiled between epochs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmlp import epoch as fused
from jaxmlp.backprop import check_params, prepare
from jaxmlp.losses import REDUCTIONS, get_loss
from jaxmlp.model import MLP, Params
from jaxmlp.optimizers import OPTIMIZERS, get_optimizer
from jaxmlp.parallel import check_batch_size, make_mesh, replicated
from jaxmlp.progress import Progress
from jaxmlp.stopping import EarlyStopping, TrainingError

__all__ = [
    "METRICS",
    "OPTIMIZERS",
    "EarlyStopping",
    "TrainingError",
    "evaluate",
    "fit",
    "get_optimizer",
    "make_train_step",
    "predict",
]

Array = jax.Array
METRICS = ("accuracy",)
GRADS = ("backprop", "autodiff")


def make_train_step(
    model: MLP, loss: str = "categorical_crossentropy",
    optimizer: str | optax.GradientTransformation = "adam", grad: str = "backprop",
    reduction: str = "mean", l2: float = 0.0, l1: float = 0.0, mesh: Any = None,
) -> Callable[[Params, Any, tuple[Array, Array]], tuple[Params, Any, dict[str, Array]]]:
    """A pure, jitted ``step(params, opt_state, (x, t)) -> (params, opt_state, {"loss": E})``.

    ``x`` is ``(B, n_in)`` and ``t`` the prepared targets ``(B, n_out)``; ``grad`` picks the
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
    config = _config(model, loss, optimizer, grad, reduction, l2, l1)
    mesh = make_mesh(None, mesh)

    @jax.jit
    def step(params, opt_state, batch):
        x, t = (fused.split_rows(a, mesh) for a in batch)
        params, opt_state, value, _ = fused.step(config, params, opt_state, x, t)
        return params, opt_state, {"loss": value}

    return step


def fit(
    model: MLP, params: Params, x: Any, t: Any, *,
    optimizer: str | optax.GradientTransformation = "adam", loss: str = "categorical_crossentropy",
    epochs: int = 1, batch_size: int = 32, validation_split: float = 0.0,
    validation_data: tuple[Any, Any] | None = None, metrics: Sequence[str] = ("accuracy",),
    key: Array | None = None, grad: str = "backprop", reduction: str = "mean", l2: float = 0.0,
    l1: float = 0.0, early_stopping: EarlyStopping | None = None, checkpoint: str | None = None,
    resume: str | None = None, verbose: int = 1, shuffle: bool = True,
    devices: str | int | Sequence[Any] | None = None, mesh: Any = None,
    on_epoch_end: Callable[[int, dict[str, float]], Any] | None = None,
) -> tuple[Params, dict[str, list[float]]]:
    """Train ``params`` on ``(x, t)`` for ``epochs`` epochs of mini-batch updates (as Keras's ``fit``).

    Arguments:
        model, params: the network and its initial parameters (not modified).
        x: inputs ``(n, n_in)``; t: integer labels ``(n,)`` or targets ``(n, n_out)``.
        optimizer: an Optax ``GradientTransformation`` (schedules included) or ``"sgd"``,
            ``"momentum"``, ``"rmsprop"``, ``"adam"`` with Keras's default rates.
        loss, reduction, l2, l1: the objective, as :func:`jaxmlp.loss`.
        epochs, batch_size: the number of the last epoch and the rows per update; the last partial
            batch is trained on, not dropped (48,000 rows at 64 give 750 updates per epoch). When
            resuming, training continues from the checkpoint's epoch up to ``epochs``.
        validation_split: hold out the LAST fraction of the rows, taken before shuffling (Keras's
            rule); or pass ``validation_data=(x_val, t_val)`` instead.
        metrics: ``("accuracy",)`` or ``()``; ``val_loss`` is the mean objective on the validation rows.
        key: a ``jax.random`` key for the shuffles (default ``jax.random.key(0)``); epoch ``e``
            visits the rows in the order ``jaxmlp.epoch.shuffle_order(key, e, n)``, so a resumed
            run repeats an uninterrupted one.
        grad: ``"backprop"`` (the hand-written δ rule) or ``"autodiff"`` (``jax.grad``).
        early_stopping: an :class:`EarlyStopping`, or ``None``.
        checkpoint: a ``.npz`` path written (atomically) after every epoch.
        resume: a checkpoint path to continue from (its parameters, optimizer state and history).
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        shuffle: reshuffle the training rows every epoch.
        devices, mesh: data-parallel training (:mod:`jaxmlp.parallel`): ``devices="all"``, a count
            or a list of devices, or a ``Mesh`` with a ``"data"`` axis. Each batch's rows are split
            over the devices (``batch_size`` must divide evenly; a partial last batch is
            replicated), the parameters replicated; results equal one device's to float tolerance.

    Returns ``(params, history)``: ``history["loss"]``, ``history["accuracy"]``,
    ``history["val_loss"]``, ``history["val_accuracy"]``, one value per epoch.
    Raises :class:`TrainingError` on a non-finite loss, carrying the last finite parameters.
    """
    from jaxmlp.checkpoint import load, save
    from jaxmlp.data.split import validation_split as split_last

    opt = get_optimizer(optimizer)
    config = _config(model, loss, opt, grad, reduction, l2, l1)
    epochs = _check_int("epochs", epochs, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    mesh = make_mesh(devices, mesh)
    check_batch_size(batch_size, mesh)
    metrics = _check_metrics(metrics)
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose: expected 0, 1 or 2, got {verbose!r}")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(f"on_epoch_end: expected a callable (epoch, logs), got {on_epoch_end!r}")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping: expected a jaxmlp.EarlyStopping, got {early_stopping!r}")
    key = jax.random.key(0) if key is None else _check_key(key)
    x, t = prepare(model, params, x, t, loss, reduction, l2, l1)
    if validation_split and validation_data is not None:
        raise ValueError("validation_split and validation_data: give one of them, not both")
    if validation_split:
        if not isinstance(validation_split, (int, float)):
            raise TypeError(f"validation_split: expected a fraction, got {validation_split!r}")
        (x, t), validation = split_last(x, t, validation_split)
    elif validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise TypeError("validation_data: expected a pair (x_val, t_val)")
        validation = prepare(model, params, *validation_data, loss, reduction, l2, l1)
    else:
        validation = None
    if early_stopping is not None and early_stopping.monitor.startswith("val_") and validation is None:
        raise ValueError(f"early_stopping: monitors {early_stopping.monitor!r} but there is no "
                         "validation data (set validation_split or validation_data)")

    n = x.shape[0]
    steps = math.ceil(n / batch_size)
    opt_state = opt.init(params)
    history: dict[str, list[float]] = {}
    if resume is not None:
        ckpt = load(resume, optimizer=opt)
        if ckpt.model != model:
            raise ValueError(f"resume: checkpoint {resume} holds {ckpt.model}, not {model}")
        params, opt_state, history = ckpt.params, ckpt.opt_state, ckpt.history
    params = jax.tree.map(jnp.array, params)  # our own buffers: the caller's are never donated
    if mesh is not None:
        params, opt_state, x, t, validation = jax.device_put(
            (params, opt_state, x, t, validation), replicated(mesh))
    done = len(history.get("loss", []))
    names = ["loss", *metrics] + (["val_loss", *(f"val_{m}" for m in metrics)] if validation else [])
    for name in names:
        history.setdefault(name, [])
    if early_stopping is not None and early_stopping.monitor not in names:
        raise ValueError(f"early_stopping: monitor {early_stopping.monitor!r} is not one of {names}")

    progress = Progress(steps, verbose)
    epoch_fn = fused.epoch_function(config, n, batch_size, bool(validation), verbose == 1, mesh)
    best, best_params, wait = None, params, 0
    for epoch in range(done, epochs):
        progress.start(epoch, epochs)
        start = fused.copy((params, opt_state))  # kept on the device for a replay: the buffers are donated
        order = fused.shuffle_order(key, epoch, n, shuffle)
        if mesh is not None:
            order = jax.device_put(order, replicated(mesh))
        params, opt_state, stats = epoch_fn(params, opt_state, x, t, order, *(validation or ()))
        stats = jax.device_get(stats)
        if stats["bad_step"] >= 0:
            last_finite = fused.replay(config, *start, x, t, key, epoch, batch_size, shuffle,
                                  int(stats["bad_step"]))
            if checkpoint is not None:
                save(checkpoint, model, last_finite, step=epoch * steps + int(stats["bad_step"]),
                     history=history)
            raise TrainingError(
                f"non-finite loss at epoch {epoch + 1}, step {int(stats['bad_step']) + 1}; "
                "the last finite parameters are in this error's .params", last_finite, epoch + 1,
                int(stats["bad_step"]) + 1)
        row = {"loss": stats["loss"] / n}
        if "accuracy" in metrics:
            row["accuracy"] = stats["correct"] / n
        if validation:
            row["val_loss"] = stats["val_loss"]
            if "accuracy" in metrics:
                row["val_accuracy"] = stats["val_correct"] / validation[0].shape[0]
        for name in names:
            history[name].append(float(row[name]))
        logs = {name: history[name][-1] for name in names}
        progress.end(logs)
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)
        if checkpoint is not None:
            save(checkpoint, model, params, opt_state, step=(epoch + 1) * steps, history=history)
        if early_stopping is not None:
            value = history[early_stopping.monitor][-1]
            if best is None or early_stopping.better(value, best):
                best, wait = value, 0
                if early_stopping.restore_best:
                    best_params = jax.device_get(params)
            else:
                wait += 1
                if wait >= early_stopping.patience:  # as Keras: patience epochs without improvement
                    break
    if early_stopping is not None and early_stopping.restore_best and best is not None:
        params = jax.tree.map(jnp.asarray, best_params)
    return params, history


def evaluate(
    model: MLP, params: Params, x: Any, t: Any, loss: str = "categorical_crossentropy",
    metrics: Sequence[str] = ("accuracy",), reduction: str = "mean", l2: float = 0.0, l1: float = 0.0,
) -> dict[str, float]:
    """The objective and metrics on ``(x, t)``: ``{"loss": ..., "accuracy": ...}``.

    >>> import jax, jax.numpy as jnp
    >>> model = MLP((2, 2), ("softmax",))
    >>> params = [{"w": jnp.zeros((2, 2)), "b": jnp.array([1.0, 0.0])}]
    >>> evaluate(model, params, jnp.zeros((4, 2)), jnp.array([0, 0, 0, 1]))["accuracy"]
    0.75
    """
    metrics = _check_metrics(metrics)
    x, t = prepare(model, params, x, t, loss, reduction, l2, l1)
    value, correct = fused.evaluate_jit(_config(model, loss, "sgd", "autodiff", reduction, l2, l1),
                                   params, x, t)
    out = {"loss": float(value)}
    if "accuracy" in metrics:
        out["accuracy"] = float(correct) / x.shape[0]
    return out


def predict(model: MLP, params: Params, x: Any) -> Array:
    """The network outputs for a batch: ``(n, n_in) -> (n, n_out)`` (probabilities for softmax)."""
    if not isinstance(model, MLP):
        raise TypeError(f"model: expected a jaxmlp.MLP, got {type(model).__name__}")
    check_params(model, params)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"x: expected floating-point inputs, got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[1] != model.sizes[0]:
        raise ValueError(f"x: expected shape (n, {model.sizes[0]}), got {x.shape}")
    return fused.predict_jit(model, params, x)


# --- helpers ------------------------------------------------------------------------------

def _config(model, loss, optimizer, grad, reduction, l2, l1) -> fused.Config:
    if not isinstance(model, MLP):
        raise TypeError(f"model: expected a jaxmlp.MLP, got {type(model).__name__}")
    get_loss(loss)
    if grad not in GRADS:
        raise ValueError(f"grad: expected one of {GRADS}, got {grad!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    for name, rate in (("l2", l2), ("l1", l1)):
        if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate >= 0):
            raise ValueError(f"{name}: expected a non-negative number, got {rate!r}")
    return fused.Config(model, loss, get_optimizer(optimizer), grad, reduction, float(l2), float(l1))


def _check_key(key: Any) -> Array:
    """A typed ``jax.random.key`` or a legacy ``uint32`` ``PRNGKey`` (a single one)."""
    typed = isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    legacy = (isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32 and key.ndim == 1
              and key.shape[0] >= 2)
    if not ((typed and key.ndim == 0) or legacy):
        shape = f" of shape {key.shape}" if hasattr(key, "shape") else ""
        raise TypeError(f"key: expected one jax.random key such as jax.random.key(0), got "
                        f"{type(key).__name__}{shape}")
    return key


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _check_metrics(metrics) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"metrics: expected names from {METRICS}, got {m!r}")
    return metrics

