"""Many models in one compiled program: seeds, hyperparameter grids and k-fold cross-validation.

Research scripts train many networks: several seeds, a grid of learning rates and penalty rates
(deck 004's L1 / L2, the Playground's regularisation rate), k folds (deck 004's k-fold). Here the
N models are one pytree whose every leaf has a leading "models" axis (``model.init(keys)`` with
``keys = jax.random.split(key, N)``), and :func:`fit_many` trains them together: the epoch of
:func:`jaxmlp.fit`, mapped over the models with ``jax.vmap``, in the same training loop. Model i
equals ``fit`` of model i with its own settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmlp.core.checks import check_metrics, check_model, check_x, prepare
from jaxmlp.core.model import MLP, Params
from jaxmlp.core.params import check_params
from jaxmlp.training.build import door_keywords, model_rates, train_run
from jaxmlp.training.history import History
from jaxmlp.training.scoring import outputs, score
from jaxmlp.training.step import make_config
from jaxmlp.training.stopping import EarlyStopping

__all__ = ["check_stacked", "ensemble", "evaluate_many", "fit_many", "fit_many_as_processes",
           "predict_many"]

Array = jax.Array
Rate = float | Sequence[float]


def fit_many(
    model: MLP, params: Params, x: Any, t: Any, *,
    optimizer: str | Callable[..., optax.GradientTransformation] | optax.GradientTransformation
    = "adam",
    learning_rate: Rate | None = None, l2: Rate = 0.0, l1: Rate = 0.0, folds: int | None = None,
    loss: str = "categorical_crossentropy", epochs: int = 1, batch_size: int = 32,
    validation_split: float = 0.0, validation_data: tuple[Any, Any] | None = None,
    metrics: Sequence[str] = ("accuracy",), key: Array | None = None, grad: str = "backprop",
    reduction: str = "mean", early_stopping: EarlyStopping | None = None,
    checkpoint: str | None = None, resume: str | None = None, verbose: int = 1,
    shuffle: bool = True, devices: str | int | Sequence[Any] | None = None, mesh: Any = None,
    strict: bool = False, on_epoch_end: Callable[[int, dict[str, np.ndarray]], Any] | None = None,
) -> tuple[Params, History]:
    """Train N models at once: ``params`` has a leading models axis ``N`` on every leaf.

    Arguments (the others are :func:`jaxmlp.fit`'s, applied to every model):
        model, params: the network and the stacked parameters
            (``model.init(jax.random.split(key, N))``).
        x, t: the training rows ``(n, n_in)`` and labels ``(n,)`` or targets ``(n, n_out)``,
            shared by the models (across processes, each process's own rows, as in ``fit``).
        optimizer, learning_rate: as :func:`jaxmlp.get_optimizer` when ``learning_rate`` is one
            number (or ``None``); a length-N sequence gives model i the rate
            ``learning_rate[i]``, with ``optimizer`` a name (``"adam"``, ``"sgd"``, ...) or an
            Optax alias such as ``optax.adam``, through ``optax.inject_hyperparams``.
        l2, l1: penalty rates, one number or one per model (length N).
        folds: k-fold cross-validation (deck 004) with N = k models. The rows are cut into k
            contiguous folds whose sizes differ by at most one (the first ``n % k`` folds hold
            one row more): the folds of ``jaxmlp.data.kfold(None, n, k, shuffle=False)``
            (:func:`jaxmlp.data.fold_rows`). Model i validates on fold i and trains on every
            other row, so every row validates exactly once, and model i equals ``fit`` on its
            training rows with ``validation_data`` its fold (when folds differ in size, the
            shorter models' batches are padded with rows that weigh 0). Shuffle the rows first
            when their order means something. Not with ``validation_split`` /
            ``validation_data``, nor across processes.
        key, shuffle: epoch ``e`` visits the training rows in the order
            ``shuffle_order(key, e, n_train)``, the same for every model and the same as
            ``fit(..., key=key)``; with ``folds`` each model's order is that of its own
            ``n_train`` rows, and indexes them.
        early_stopping: per model; a stopped model's updates are masked out, its later history
            entries are NaN, and training ends when every model has stopped.
        checkpoint, resume: one checkpoint per model, ``run.0.npz``, ``run.1.npz``, ... (each
            as :func:`jaxmlp.fit` writes it, with that model's history), committed each epoch as
            one unit by the manifest ``run.npz`` (:mod:`jaxmlp.training.checkpoint_set`): a kill
            at any moment leaves a set that ``resume="run.npz"`` continues.
        devices, mesh: the models split over devices (``devices="all"``, a count, a list, or a
            ``("data",)`` mesh): N must be a multiple of the device count; each device trains
            its models with no communication. Across processes, every process passes its own
            rows and ``devices="all"``, and the models train on every process's rows, as ``fit``.
        strict: end the run with :class:`~jaxmlp.TrainingError` when any model's loss is
            non-finite. By default a diverging model stops alone: it is frozen at its last
            finite parameters, its later history entries are NaN and ``history.stopped[i]``
            says when; the error comes only when every model has diverged.
        verbose: 0 silent, 1 a progress bar, 2 one line per epoch (the mean of the models
            training); on_epoch_end: called as ``on_epoch_end(epoch, logs)``, each log ``(N,)``.

    Returns ``(params, history)``: the stacked parameters and ``history[name]`` of shape
    ``(epochs, N)`` (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``) in a
    :class:`jaxmlp.History` (``.params``: the settings, per-model rates as lists, and ``rows`` and
    ``steps`` per model for folds of unequal size; ``.per_epoch``: ``(epochs, N)`` learning rates;
    ``.stopped``: how each model stopped, or ``None``).

    >>> model = MLP((2, 4, 2), ("tanh", "softmax"))
    >>> params = model.init(jax.random.split(jax.random.key(0), 3))
    >>> x, t = jnp.ones((8, 2)), jnp.zeros(8, jnp.int32)
    >>> params, history = fit_many(model, params, x, t, learning_rate=[1e-3, 1e-2, 1e-1],
    ...                            epochs=2, verbose=0)
    >>> params[0]["w"].shape, history["loss"].shape
    ((3, 4, 2), (2, 3))
    """
    return train_run(model, params, x, t, models=check_stacked(model, params),
                     optimizer=optimizer, learning_rate=learning_rate, l2=l2, l1=l1, folds=folds,
                     loss=loss, epochs=epochs, batch_size=batch_size,
                     validation_split=validation_split, validation_data=validation_data,
                     metrics=metrics, key=key, grad=grad, reduction=reduction,
                     early_stopping=early_stopping, checkpoint=checkpoint, resume=resume,
                     verbose=verbose, shuffle=shuffle, devices=devices, mesh=mesh, strict=strict,
                     on_epoch_end=on_epoch_end)


def fit_many_as_processes(processes: int, model: MLP, params: Params, x: Any, t: Any,
                          **kwargs: Any) -> tuple[Params, History]:
    """:func:`fit_many` in one process exactly as ``processes`` processes would train, each
    holding one of ``processes`` equal consecutive parts of ``(x, t)``
    (:func:`jaxmlp.training.fit.fit_as_processes` for N models); ``kwargs`` are
    :func:`fit_many`'s keywords."""
    return train_run(model, params, x, t, models=check_stacked(model, params),
                     shards=processes, **door_keywords(fit_many, kwargs))


def evaluate_many(
    model: MLP, params: Params, x: Any, t: Any, loss: str = "categorical_crossentropy",
    metrics: Sequence[str] = ("accuracy",), reduction: str = "mean", l2: Rate = 0.0,
    l1: Rate = 0.0,
) -> dict[str, np.ndarray]:
    """Each model's objective and metrics on ``(x, t)``: ``{"loss": (N,), "accuracy": (N,)}``.

    >>> model = MLP((2, 2), ("softmax",))
    >>> b = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> params = [{"w": jnp.zeros((3, 2, 2)), "b": b}]
    >>> scores = evaluate_many(model, params, jnp.zeros((4, 2)), jnp.array([0, 0, 0, 1]))
    >>> scores["accuracy"].tolist()
    [0.75, 0.25, 0.75]
    """
    models = check_stacked(model, params)
    metrics = check_metrics(metrics)
    x, t = prepare(model, jax.tree.map(lambda a: a[0], params), x, t, loss, reduction)
    config = make_config(model, loss, "sgd", "autodiff", reduction, 0.0, 0.0)
    rates = {"l2": model_rates("l2", l2, models), "l1": model_rates("l1", l1, models)}
    hyper = {k: jnp.broadcast_to(jnp.asarray(v, x.dtype), (models,)) for k, v in rates.items()}
    return score(config, params, hyper, x, t, models, metrics)


def predict_many(model: MLP, params: Params, x: Any) -> Array:
    """Every model's outputs for a batch: ``(n, n_in) -> (N, n, n_out)``.

    >>> model = MLP((3, 2), ("softmax",))
    >>> params = model.init(jax.random.split(jax.random.key(0), 4))
    >>> predict_many(model, params, jnp.ones((5, 3))).shape
    (4, 5, 2)
    """
    models = check_stacked(model, params)
    return outputs(model, params, check_x(model, x), models)


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
    if not isinstance(params, (list, tuple)) or not all(isinstance(la, dict) for la in params):
        raise TypeError(f"{name}: expected stacked parameters, a list of layer dicts "
                        f"(model.init(keys)), got {type(params).__name__}")
    leading = {tuple(jnp.shape(leaf)[:1]) for leaf in jax.tree.leaves(params)}
    if len(leading) != 1 or () in leading:
        raise ValueError(f"{name}: expected stacked parameters, every leaf with the same leading "
                         f"models axis N (model.init(jax.random.split(key, N))), got leading "
                         f"sizes {sorted(s[0] for s in leading if s)}")
    models = leading.pop()[0]
    try:
        check_model(model)
        check_params(model, jax.tree.map(lambda a: a[0], params), name)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{error} (in model 0 of the {models} stacked models)") from None
    return models
