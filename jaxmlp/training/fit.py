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
import optax

from jaxmlp.core.checks import (
    METRICS,
    check_int,
    check_key,
    check_metrics,
    check_options,
    check_output,
    check_params,
    check_x,
    prepare,
)
from jaxmlp.core.model import MLP, Params
from jaxmlp.data.split import split_index
from jaxmlp.parallel import processes as distributed
from jaxmlp.parallel.devices import check_batch_size, make_mesh, replicated
from jaxmlp.training import epoch as fused
from jaxmlp.training.checkpoint import fingerprint, load, run_key, save
from jaxmlp.training.history import hyperparameters, run_history
from jaxmlp.training.optimizers import OPTIMIZERS, get_optimizer
from jaxmlp.training.progress import Progress
from jaxmlp.training.stopping import EarlyStopping, Tracker, TrainingError

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

make_train_step = fused.make_train_step

Array = jax.Array


def fit(
    model: MLP, params: Params, x: Any, t: Any, *,
    optimizer: str | optax.GradientTransformation = "adam", loss: str = "categorical_crossentropy",
    epochs: int = 1, batch_size: int = 32, validation_split: float = 0.0,
    validation_data: tuple[Any, Any] | None = None, metrics: Sequence[str] = ("accuracy",),
    key: Array | None = None, grad: str = "backprop", reduction: str = "mean", l2: float = 0.0,
    l1: float = 0.0, early_stopping: EarlyStopping | None = None, checkpoint: str | None = None,
    resume: str | None = None, verbose: int = 1, shuffle: bool = True,
    devices: str | int | Sequence[Any] | None = None, mesh: Any = None, shards: int | None = None,
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
            visits the rows in the order ``jaxmlp.training.epoch.shuffle_order(key, e, n)``, so a resumed
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
            After :func:`jaxmlp.parallel.initialize`, every process passes its own rows and
            ``devices="all"``: one run over every process's devices (:mod:`jaxmlp.parallel.processes`).
        shards: in one process, train exactly as ``shards`` processes would, each holding one of
            ``shards`` equal consecutive parts of ``(x, t)`` (:mod:`jaxmlp.parallel.processes` defines
            the batches, shuffles and validation rows); default 1, a plain run.

    Returns ``(params, history)``: ``history["loss"]``, ``history["accuracy"]``,
    ``history["val_loss"]``, ``history["val_accuracy"]``, one value per epoch, in a
    :class:`jaxmlp.History` (a dict) whose ``.params`` hold the run's settings and ``.per_epoch``
    the optimizer's injected hyperparameters (the learning rate of each epoch).
    Raises :class:`TrainingError` on a non-finite loss, carrying the last finite parameters.
    """
    if _traced(params, x, t):
        raise TypeError("fit: is not traceable (it loops over epochs in Python, prints and writes "
                        "files); jit the step instead: jaxmlp.make_train_step(model, ...)")
    opt = get_optimizer(optimizer)
    config = fused.make_config(model, loss, opt, grad, reduction, l2, l1)
    epochs, batch_size = check_int("epochs", epochs, 0), check_int("batch_size", batch_size, 1)
    shards, mesh = distributed.check_shards(shards, make_mesh(devices, mesh), batch_size)
    check_batch_size(batch_size, mesh)
    metrics = check_metrics(metrics)
    check_options(verbose, on_epoch_end, early_stopping)
    key = jax.random.key(0) if key is None else check_key(key)
    checkpoint = None if checkpoint is None else check_output("checkpoint", checkpoint, ".npz")
    x, t = prepare(model, params, x, t, loss, reduction, l2, l1)
    if shards > 1:
        x, t = distributed.split_shards(x, t, shards)  # (shards here, rows per shard, ...)
    (x, t), validation = split_validation(model, params, x, t, validation_split, validation_data, config)
    names = ["loss", *metrics] + (["val_loss", *(f"val_{m}" for m in metrics)] if validation else [])
    if early_stopping is not None:
        early_stopping.check_monitor(names)
    m = x.shape[-2]  # rows per shard; n in all
    n, steps = m * shards, math.ceil(m / (batch_size // shards))
    run = {"batch_size": batch_size, "shuffle": bool(shuffle), "key": run_key(key),
           "data": fingerprint(x, t) if shards == 1 else distributed.fingerprint(x, t)}
    run |= {"shards": shards} if shards > 1 else {}
    params, opt_state, history = _start(model, opt, params, resume, run)
    if mesh is not None:
        params, opt_state = jax.device_put((params, opt_state), replicated(mesh))
        x, t, validation = distributed.place((x, t, validation), mesh, shards)
    for name in names:
        history.setdefault(name, [])

    progress, tracker = Progress(steps, verbose if distributed.writes() else 0), Tracker(early_stopping)
    changing = []  # per epoch: the optimizer's injected hyperparameters (History.per_epoch)
    epoch_fn = fused.epoch_function(config, m, batch_size, bool(validation), verbose == 1, mesh, shards)
    for epoch in range(len(history["loss"]), epochs):
        progress.start(epoch, epochs)
        start = fused.copy((params, opt_state))  # kept on the device for a replay: the buffers are donated
        order = distributed.order(key, epoch, m, shuffle, shards, mesh)
        params, opt_state, stats = epoch_fn(params, opt_state, x, t, order, *(validation or ()))
        stats = jax.device_get(stats)
        if stats["bad_step"] >= 0:  # the checkpoint keeps the last good epoch, untouched
            bad = int(stats["bad_step"])
            last = (fused.replay(config, *start, x, t, key, epoch, batch_size, shuffle, bad) if shards == 1
                    else distributed.replay(config, *start, x, t, order, batch_size, bad, shards, mesh))
            raise TrainingError(f"non-finite loss at epoch {epoch + 1}, step {bad + 1}; the last finite "
                                "parameters are in this error's .params", last, epoch + 1, bad + 1)
        for name, value in _history_row(stats, n, validation, metrics).items():
            history[name].append(value)
        changing.append(hyperparameters(opt_state))
        logs = {name: history[name][-1] for name in names}
        progress.end(logs)
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)
        if checkpoint is not None and distributed.writes():  # process 0 only; the same file for all
            save(checkpoint, model, *distributed.local_copy((params, opt_state)), step=(epoch + 1) * steps,
                 history=history, run=run)
        if tracker.update(history, params):
            break
    params = distributed.finish(params, checkpoint)  # across processes: this process's copy
    return tracker.final(params), run_history(history, changing, config, optimizer, epochs=epochs,
                                              steps=steps, rows=n, **run)


def evaluate(
    model: MLP, params: Params, x: Any, t: Any, loss: str = "categorical_crossentropy",
    metrics: Sequence[str] = ("accuracy",), reduction: str = "mean", l2: float = 0.0, l1: float = 0.0,
    local: bool = False,
) -> dict[str, float]:
    """The objective and metrics on ``(x, t)``: ``{"loss": ..., "accuracy": ...}``.

    Across processes (jax.distributed) each process passes its own rows and every process gets the
    metrics of all of them, their rows joined (so every process must call it); ``local=True``
    scores this process's rows alone.

    >>> import jax, jax.numpy as jnp
    >>> model = MLP((2, 2), ("softmax",))
    >>> params = [{"w": jnp.zeros((2, 2)), "b": jnp.array([1.0, 0.0])}]
    >>> evaluate(model, params, jnp.zeros((4, 2)), jnp.array([0, 0, 0, 1]))["accuracy"]
    0.75
    """
    metrics = check_metrics(metrics)
    params = distributed.local_copy(params)
    x, t = prepare(model, params, x, t, loss, reduction, l2, l1)
    config, rows = fused.make_config(model, loss, "sgd", "autodiff", reduction, l2, l1), x.shape[0]
    if jax.process_count() > 1 and not local:
        value, correct, rows = distributed.evaluate(config, params, x, t)
    else:
        value, correct = fused.evaluate_jit(config, params, x, t)
    out = {"loss": float(value)}
    if "accuracy" in metrics:
        out["accuracy"] = float(correct) / rows
    return out


def predict(model: MLP, params: Params, x: Any) -> Array:
    """The network outputs for a batch: ``(n, n_in) -> (n, n_out)`` (probabilities for softmax).

    Across processes each process predicts its own rows, with its copy of the parameters."""
    params = distributed.local_copy(params)
    check_params(model, params)
    x = check_x(model, x)
    return fused.predict_jit(model, params, x)


# --- helpers ------------------------------------------------------------------------------

def split_validation(model, params, x, t, validation_split, validation_data, c: fused.Config):
    """``((x, t), validation)``: the training rows and the validation pair (or ``None``), by
    ``validation_split`` (Keras's last fraction) or ``validation_data`` (checked like ``x, t``).
    Sharded ``(shards, m, ...)`` rows give each shard's last fraction."""
    if validation_split and validation_data is not None:
        raise ValueError("validation_split and validation_data: give one of them, not both")
    if validation_split:
        at = split_index(x.shape[-2], validation_split)
        return (x[..., :at, :], t[..., :at, :]), (x[..., at:, :], t[..., at:, :])
    if validation_data is None:
        return (x, t), None
    if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
        raise TypeError("validation_data: expected a pair (x_val, t_val)")
    names = ("validation_data[0] (x_val)", "validation_data[1] (t_val)")
    return (x, t), prepare(model, params, *validation_data, c.loss, c.reduction, c.l2, c.l1, names=names)


def _start(model, opt, params, resume, run):
    """``(params, opt_state, history)``: fresh, or from the checkpoint ``resume`` (same run only)."""
    if resume is None:
        params = jax.tree.map(jnp.array, params)  # our own buffers: the caller's are never donated
        return params, opt.init(params), {}
    try:
        ckpt = load(resume, optimizer=opt)
    except (OSError, ValueError) as error:
        raise type(error)(f"resume: {error}") from None
    if ckpt.model != model:
        raise ValueError(f"resume: checkpoint {resume} holds {ckpt.model}, not {model}")
    if ckpt.opt_state is None:
        raise ValueError(f"resume: checkpoint {resume} holds no optimizer state (it was not written by fit)")
    for name, value in run.items():
        saved = ckpt.run.get(name)
        if saved is not None and saved != value:
            what = "the training data" if name == "data" else f"{name}={saved!r}"
            raise ValueError(f"resume: checkpoint {resume} was trained with {what}; this call "
                             f"differs ({name}={value!r}): resuming would change the run")
    return ckpt.params, ckpt.opt_state, ckpt.history


def _history_row(stats, n, validation, metrics) -> dict[str, float]:
    row = {"loss": float(stats["loss"]) / n}
    if "accuracy" in metrics:
        row["accuracy"] = float(stats["correct"]) / n
    if validation:
        row["val_loss"] = float(stats["val_loss"])
        if "accuracy" in metrics:
            row["val_accuracy"] = float(stats["val_correct"]) / math.prod(validation[0].shape[:-1])
    return row


def _traced(*trees) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(trees))
