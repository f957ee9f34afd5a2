"""Keras-style training of one model: ``fit``, ``evaluate`` and ``predict``.

Gradients come from the hand-written δ rule (``grad="backprop"``) or from ``jax.grad``
(``grad="autodiff"``); either way they are handed to an Optax ``GradientTransformation``, so SGD,
momentum, RMSprop, Adam and learning-rate schedules are Optax's, never re-implemented here.
``fit`` checks its arguments, describes the run (:class:`~jaxmlp.training.loop.Run`) and hands it
to the one training loop (:mod:`jaxmlp.training.loop`), which :func:`jaxmlp.fit_many` shares.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import optax

from jaxmlp.core.checks import check_metrics, check_model, check_x, prepare
from jaxmlp.core.model import MLP, Params
from jaxmlp.core.params import check_params
from jaxmlp.parallel import processes
from jaxmlp.parallel.devices import make_mesh
from jaxmlp.parallel.layout import Layout
from jaxmlp.training.history import History, run_history
from jaxmlp.training.loop import Run, train
from jaxmlp.training.optimizer_record import optimizer_settings
from jaxmlp.training.optimizers import get_optimizer
from jaxmlp.training.resume import record
from jaxmlp.training.scoring import outputs, score
from jaxmlp.training.setup import agreed_settings, check_peak, key_data, options, split_data
from jaxmlp.training.step import make_config
from jaxmlp.training.stopping import EarlyStopping

__all__ = ["evaluate", "fit", "fit_as_processes", "predict"]

Array = jax.Array


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
) -> tuple[Params, History]:
    """Train ``params`` on ``(x, t)`` for ``epochs`` epochs of mini-batch updates.

    As Keras's ``fit``.

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
        metrics: ``("accuracy",)`` or ``()``; ``val_loss`` is the mean objective on the
            validation rows.
        key: a ``jax.random`` key for the shuffles (default ``jax.random.key(0)``); epoch ``e``
            visits the rows in the order ``jaxmlp.training.epoch.shuffle_order(key, e, n)``, so a
            resumed run repeats an uninterrupted one.
        grad: ``"backprop"`` (the hand-written δ rule) or ``"autodiff"`` (``jax.grad``).
        early_stopping: an :class:`EarlyStopping`, or ``None``.
        checkpoint: a ``.npz`` path written (atomically) after every epoch.
        resume: a checkpoint path to continue from (its parameters, optimizer state, history
            and early stopping state); a checkpoint of another run (data, key, batch size, loss,
            optimizer and its learning rate, validation rows, penalties, metrics) is refused,
            naming what differs. The rate of an opaque Optax transformation
            (``optax.adam(1e-3)``) cannot be compared: a warning says so.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        shuffle: reshuffle the training rows every epoch.
        devices, mesh: data-parallel training (:mod:`jaxmlp.parallel`): ``devices="all"``, a
            count or a list of devices, or a ``Mesh`` with a ``"data"`` axis. Each batch's rows
            are split over the devices (``batch_size`` a multiple of their count), the
            parameters replicated; results equal one device's to float tolerance. After
            :func:`jaxmlp.parallel.initialize`, every process passes its own rows and
            ``devices="all"``: one run over every process's devices
            (:mod:`jaxmlp.parallel.processes`).
        on_epoch_end: called as ``on_epoch_end(epoch, logs)`` after every epoch.

    Returns ``(params, history)``: ``history["loss"]``, ``history["accuracy"]``,
    ``history["val_loss"]``, ``history["val_accuracy"]``, one value per epoch, in a
    :class:`jaxmlp.History` (a dict) whose ``.params`` hold the run's settings and ``.per_epoch``
    the optimizer's injected hyperparameters (the learning rate of each epoch).
    Raises :class:`~jaxmlp.TrainingError` on a non-finite loss, carrying the last finite
    parameters (the checkpoint on disk keeps the last good epoch).
    """
    return _fit(model, params, x, t, optimizer=optimizer, loss=loss, epochs=epochs,
                batch_size=batch_size, validation_split=validation_split,
                validation_data=validation_data, metrics=metrics, key=key, grad=grad,
                reduction=reduction, l2=l2, l1=l1, early_stopping=early_stopping,
                checkpoint=checkpoint, resume=resume, verbose=verbose, shuffle=shuffle,
                devices=devices, mesh=mesh, on_epoch_end=on_epoch_end)


@processes.agreed_first  # an error before the agreement reaches every process
def _fit(model, params, x, t, *, optimizer, loss, epochs, batch_size, validation_split,
         validation_data, metrics, key, grad, reduction, l2, l1, early_stopping, checkpoint, resume,
         verbose, shuffle, devices, mesh, on_epoch_end, shards=None):
    """:func:`fit`; ``shards=P`` trains in one process exactly as P processes would, each holding
    one of P equal consecutive parts of ``(x, t)`` (:mod:`jaxmlp.parallel.processes`)."""
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves((params, x, t))):
        raise TypeError("fit: expected concrete arrays, got tracers (fit loops over epochs in "
                        "Python, prints and writes files); jit the step instead: "
                        "jaxmlp.make_train_step(model, ...)")
    opt = get_optimizer(optimizer)
    config = make_config(model, loss, opt, grad, reduction, l2, l1)
    o = options(epochs, batch_size, metrics, key, checkpoint, verbose, on_epoch_end, early_stopping)
    layout = processes.layout(shards, make_mesh(devices, mesh), o.batch_size)
    check_params(model, params)
    described = optimizer_settings(model, optimizer, opt, params, resume=resume)
    if layout.processes:  # every process's settings, compared before any collective
        agreed = agreed_settings(
            model, params, config, o, validation_split, resume, shuffle, early_stopping, described
        )
        processes.agree(layout, agreed, x, t, validation_data, lambda xs, ts, names: prepare(
            model, params, xs, ts, config.loss, config.reduction, config.l2, config.l1, names))
    data = split_data(layout, model, params, x, t, config, validation_split, validation_data)
    n = data.m * layout.shards
    check_peak(layout, model, opt, params, o.batch_size, data, n,
               validation="validation_data" if validation_data is not None else "validation_split")
    names = data.names(o.metrics)
    if early_stopping is not None:
        early_stopping.check_monitor(names)
    settings = record(batch_size=o.batch_size, shuffle=bool(shuffle), key=key_data(o.key),
                      data=data.digest, loss=loss, reduction=reduction, l2=config.l2,
                      l1=config.l1, **described, validation=data.described,
                      metrics=list(o.metrics), models=None, shards=layout.shards)
    run = Run(config, opt, layout, data.x, data.t, data.validation, None, data.m, n, data.n_val,
              o.batch_size, o.epochs, bool(shuffle), o.key, names, None, {}, early_stopping,
              verbose, on_epoch_end, o.checkpoint, resume, settings)
    with processes.together(o.checkpoint):  # a peer that stops: one line
        params, history, changing, _ = train(run, params)
    processes.finish(layout, o.checkpoint)
    values = {name: [float(v[0]) for v in column] for name, column in history.items()}
    steps = math.ceil(n / o.batch_size)
    return params, run_history(values, changing, config, optimizer, epochs=o.epochs, steps=steps,
                               rows=n, **{k: v for k, v in settings.items()
                                          if k in ("batch_size", "shuffle", "key", "data")})


def fit_as_processes(processes: int, model: MLP, params: Params, x: Any, t: Any,
                     **kwargs: Any) -> tuple[Params, History]:
    """:func:`fit` in one process exactly as ``processes`` processes would train, each holding one
    of ``processes`` equal consecutive parts of ``(x, t)``: the same batches, shuffles and
    validation rows (:mod:`jaxmlp.parallel.processes`), to check a cluster run on one machine.
    """
    return _fit(model, params, x, t, **{**fit.__kwdefaults__, **kwargs}, shards=processes)


def evaluate(
    model: MLP, params: Params, x: Any, t: Any, loss: str = "categorical_crossentropy",
    metrics: Sequence[str] = ("accuracy",), reduction: str = "mean", l2: float = 0.0,
    l1: float = 0.0, local: bool = False,
) -> dict[str, float]:
    """The objective and metrics on ``(x, t)``: ``{"loss": ..., "accuracy": ...}``.

    Across processes (jax.distributed) each process passes its own rows and every process gets
    the metrics of all of them, their rows joined (so every process must call it);
    ``local=True`` scores this process's rows alone.

    >>> import jax, jax.numpy as jnp
    >>> model = MLP((2, 2), ("softmax",))
    >>> params = [{"w": jnp.zeros((2, 2)), "b": jnp.array([1.0, 0.0])}]
    >>> evaluate(model, params, jnp.zeros((4, 2)), jnp.array([0, 0, 0, 1]))["accuracy"]
    0.75
    """
    metrics = check_metrics(metrics)
    params = Layout().local(params)
    x, t = prepare(model, params, x, t, loss, reduction, l2, l1)
    config = make_config(model, loss, "sgd", "autodiff", reduction, l2, l1)
    return score(config, params, {}, x, t, None, metrics, local=local)


def predict(model: MLP, params: Params, x: Any) -> Array:
    """The network outputs for a batch: ``(n, n_in) -> (n, n_out)`` (probabilities for softmax).

    Across processes each process predicts its own rows, with its copy of the parameters."""
    params = Layout().local(params)
    check_model(model)
    check_params(model, params)
    return outputs(model, params, check_x(model, x), None)
