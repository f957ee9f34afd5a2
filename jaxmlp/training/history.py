"""What :func:`jaxmlp.fit` and :func:`jaxmlp.fit_many` return as their history: Keras's ``History``.

A :class:`History` is a ``dict`` of per-epoch values, so ``history["loss"]``, ``json.dump(history)``
and checkpoints work exactly as with a plain dict; it also carries Keras's ``.params`` (the run's
settings), ``.epoch`` and ``.history``, and ``.per_epoch``: the settings that change from epoch to
epoch, read from the optimizer state after each epoch.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import optax

__all__ = ["History", "hyperparameters", "run_history"]


class History(dict):
    """A training history plus settings.

    The history maps names to lists: ``{"loss": [...], "accuracy": [...], "val_loss": [...], ...}``.

    Attributes:
        params: the run's settings, as Keras's ``History.params``: ``epochs`` (asked for), ``steps``
            (updates per epoch), ``batch_size``, ``rows`` (training rows, per model), ``optimizer``
            (a name, or ``"optax"`` for a transformation), ``learning_rate`` (a name's Keras
            default, or ``fit_many``'s rates; ``None`` when only the transformation knows it),
            ``loss``, ``grad``, ``reduction``, ``l2``, ``l1`` (lists when per model), ``metrics``,
            ``shuffle``, ``key`` (the shuffle key's data), ``data`` (the training set's
            fingerprint), and ``models`` / ``folds`` for ``fit_many``.
        per_epoch: ``{name: values}``, one value per epoch, for every hyperparameter an
            ``optax.inject_hyperparams`` state holds (``learning_rate``, ``momentum``, ...): the
            value the epoch's last update used, so a schedule's decay shows epoch by epoch
            (``optax.inject_hyperparams(optax.sgd)(learning_rate=schedule)``). Empty when the
            optimizer holds no injected hyperparameters (a constant rate is in ``params``).
            Epochs trained before a resume have ``None`` (``NaN`` for ``fit_many``): checkpoints
            keep the per-epoch metrics only. For ``fit_many`` each entry has shape ``(epochs, N)``.
        stopped: for ``fit_many``, one entry per model: ``None`` while it trained to the end, or
            ``{"epoch": e, "step": s, "reason": r}`` when it stopped at epoch ``e`` (1-based):
            ``"non-finite loss"`` at step ``s`` (frozen at its last finite parameters) or
            ``"early stopping"`` (``s`` is ``None``). Empty for ``fit``.
        epoch: ``[0, 1, ...]``, the epochs recorded (Keras's ``History.epoch``).
        history: the History itself, so Keras's ``history.history["loss"]`` works too.

    >>> h = History(
    ...     {"loss": [0.9, 0.5]}, params={"epochs": 2}, per_epoch={"learning_rate": [0.1, 0.05]}
    ... )
    >>> h["loss"], h.params["epochs"], h.per_epoch["learning_rate"][1], h.epoch
    ([0.9, 0.5], 2, 0.05, [0, 1])
    >>> import json; json.dumps(h)
    '{"loss": [0.9, 0.5]}'
    """

    def __init__(self, values: Mapping[str, Any] | None = None,
                 params: Mapping[str, Any] | None = None,
                 per_epoch: Mapping[str, Any] | None = None,
                 stopped: Sequence[Any] | None = None) -> None:
        super().__init__(values or {})
        self.params = dict(params or {})
        self.per_epoch = dict(per_epoch or {})
        self.stopped = list(stopped or [])

    @property
    def history(self) -> History:
        return self

    @property
    def epoch(self) -> list[int]:
        return list(range(len(self.get("loss", ()))))


def hyperparameters(opt_state: Any) -> dict[str, Any]:
    """Every hyperparameter of the ``optax.inject_hyperparams`` states in ``opt_state``.

    The values are returned on the host.

    A name held by two states (a chain of two injected transformations) is reported once, from the
    first; ``lr`` (the argument of the functions in
    :data:`~jaxmlp.training.optimizers.OPTIMIZERS`) is called ``learning_rate``. Values are
    floats, or ``(N,)`` arrays for stacked states (``fit_many``).

    >>> opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.5)
    >>> hyperparameters(opt.init({"w": jax.numpy.zeros(2)}))
    {'learning_rate': 0.5}
    >>> hyperparameters(optax.sgd(0.5).init({"w": jax.numpy.zeros(2)}))
    {}
    """
    injected = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)
    found: dict[str, Any] = {}
    for state in jax.tree.leaves(opt_state, is_leaf=lambda s: isinstance(s, injected)):
        if isinstance(state, injected):
            for name, value in state.hyperparams.items():
                value = np.asarray(jax.device_get(value), np.float64)
                name = "learning_rate" if name == "lr" else name  # OPTIMIZERS' argument name
                found.setdefault(name, float(value) if value.ndim == 0 else value)
    return found


def run_history(values: Mapping[str, Any], per_epoch: Sequence[Mapping[str, Any]], config: Any,
                optimizer: Any, stopped: Sequence[Any] | None = None, **settings: Any) -> History:
    """The :class:`History` of a run, as :func:`jaxmlp.fit` and :func:`jaxmlp.fit_many` return it.

    Arguments:
        values: the per-epoch metrics, ``{name: [value per epoch]}`` (each value ``(N,)`` when
            ``settings`` has ``models``: they become ``(epochs, N)`` arrays).
        per_epoch: one :func:`hyperparameters` reading per epoch trained in this call.
        config: the run's :class:`jaxmlp.training.step.Config`; optimizer: the argument as given.
        settings: the rest of ``.params`` (``epochs``, ``steps``, ``batch_size``, ``rows``, ...);
            arrays become lists, and ``learning_rate=None`` a name's Keras default.
    """
    models = settings.get("models")
    if models is not None:
        values = {name: np.array(v, np.float64).reshape(-1, models) for name, v in values.items()}
    rate = settings.pop("learning_rate", None)
    params = {
        "optimizer": optimizer if isinstance(optimizer, str) else "optax",
        "learning_rate": _default_rate(optimizer) if rate is None else rate,
        "loss": config.loss,
        "grad": config.grad,
        "reduction": config.reduction,
        "l2": config.l2,
        "l1": config.l1,
        "metrics": [k for k in values if k != "loss" and not k.startswith("val_")],
    }
    params.update(settings)
    params = {k: v.tolist() if isinstance(v, np.ndarray) else list(v) if isinstance(v, tuple) else v
              for k, v in params.items()}
    missing = len(values.get("loss", ())) - len(per_epoch)
    names = list(dict.fromkeys(name for row in per_epoch for name in row))
    if models is not None:
        rows = [
            [np.broadcast_to(row.get(name, np.nan), (models,)) for row in per_epoch]
            for name in names
        ]
        record = {
            name: np.concatenate(
                [np.full((missing, models), np.nan), np.reshape(r, (-1, models))]
            )
            for name, r in zip(names, rows)
        }
    else:
        record = {name: [None] * missing + [row.get(name) for row in per_epoch] for name in names}
    return History(values, params, record, stopped)


def _default_rate(optimizer: Any) -> float | None:
    """A name's Keras default learning rate (``"adam"`` 0.001); ``None`` for a transformation."""
    from jaxmlp.training.optimizers import OPTIMIZERS

    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        return None
    default = next(iter(inspect.signature(OPTIMIZERS[optimizer]).parameters.values())).default
    return None if default is inspect.Parameter.empty else float(default)
