"""Keras-style training of one model: ``fit``, ``evaluate`` and ``predict``.

Gradients come from the hand-written δ rule (``grad="backprop"``) or from ``jax.grad``
(``grad="autodiff"``); either way they are handed to an Optax ``GradientTransformation``, so SGD,
momentum, RMSprop, Adam and learning-rate schedules are Optax's, never re-implemented here.
``fit`` checks its arguments, describes the run (:class:`~jaxmlp.training.loop.Run`) and hands it
to the one training loop (:mod:`jaxmlp.training.loop`), which :func:`jaxmlp.fit_many` shares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import optax

from jaxmlp.core.checks import check_metrics, check_model, check_x, prepare
from jaxmlp.core.model import MLP, Params
from jaxmlp.core.params import check_params
from jaxmlp.parallel.layout import Layout
from jaxmlp.training.build import door_keywords, train_run
from jaxmlp.training.history import History
from jaxmlp.training.scoring import outputs, score
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
            visits the rows in the order ``jaxmlp.data.shuffle_order(key, e, n)``, so a
            resumed run repeats an uninterrupted one.
        grad: ``"backprop"`` (the hand-written δ rule) or ``"autodiff"`` (``jax.grad``).
        early_stopping: an :class:`EarlyStopping`, or ``None``.
        checkpoint: a ``.npz`` path written (atomically) after every epoch.
        resume: a checkpoint path to continue from (its parameters, optimizer state, history
            and early stopping state); a checkpoint of another run (data, key, batch size, loss,
            optimizer and its learning rate, validation rows, penalties, metrics) is refused,
            naming what differs. An opaque Optax transformation (``optax.adam(1e-3)``) is
            compared by its first updates on a fixed gradient: another rate is refused too.
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
    return train_run(model, params, x, t, models=None, optimizer=optimizer, loss=loss,
                     epochs=epochs, batch_size=batch_size, validation_split=validation_split,
                     validation_data=validation_data, metrics=metrics, key=key, grad=grad,
                     reduction=reduction, l2=l2, l1=l1, early_stopping=early_stopping,
                     checkpoint=checkpoint, resume=resume, verbose=verbose, shuffle=shuffle,
                     devices=devices, mesh=mesh, on_epoch_end=on_epoch_end)


def fit_as_processes(processes: int, model: MLP, params: Params, x: Any, t: Any,
                     **kwargs: Any) -> tuple[Params, History]:
    """:func:`fit` in one process exactly as ``processes`` processes would train, each holding one
    of ``processes`` equal consecutive parts of ``(x, t)``: the same batches, shuffles and
    validation rows (:mod:`jaxmlp.parallel.processes`), to check a cluster run on one machine.
    ``kwargs`` are :func:`fit`'s keywords.
    """
    return train_run(model, params, x, t, models=None, shards=processes,
                     **door_keywords(fit, kwargs))


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
