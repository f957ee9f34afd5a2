"""Optimizers by name, as Keras configures them; every one of them is Optax's.

``fit(optimizer=...)`` takes an Optax ``GradientTransformation`` or one of the names in
:data:`OPTIMIZERS`, with Keras's default learning rate unless one is given. A name gives a
:class:`NamedOptimizer`: Optax's transformation, which also says its name and rate, so that a
checkpoint records them and a resume with another rate is refused.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from numbers import Real
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["OPTIMIZERS", "NamedOptimizer", "check_learning_rate", "get_optimizer", "init_state",
           "many_optimizer"]

#: the optimizer names, as Keras configures them, each with Keras's default learning rate
OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": lambda lr=0.01: optax.sgd(lr),
    "momentum": lambda lr=0.01: optax.sgd(lr, momentum=0.9),
    "rmsprop": lambda lr=0.001: optax.rmsprop(lr, decay=0.9, eps=1e-7),
    "adam": lambda lr=0.001: optax.adam(lr, eps=1e-7),
}


class NamedOptimizer(optax.GradientTransformationExtraArgs):
    """An optimizer of :data:`OPTIMIZERS`: Optax's transformation (a subclass of its type, the
    same ``init`` and ``update``) that also says what it is.

    Attributes:
        name: its name in :data:`OPTIMIZERS`.
        learning_rate: its rate, a number; ``None`` for a schedule (a function of the step).

    >>> opt = get_optimizer("sgd", 0.5)
    >>> opt.name, opt.learning_rate, isinstance(opt, optax.GradientTransformation)
    ('sgd', 0.5, True)
    """

    name: str = ""
    learning_rate: float | None = None


def get_optimizer(
    optimizer: str | optax.GradientTransformation, learning_rate: float | Callable | None = None,
) -> optax.GradientTransformation:
    """An Optax transformation, or one of the names in :data:`OPTIMIZERS`.

    A name takes ``learning_rate`` (a number or an Optax schedule), by default Keras's rate for it
    (sgd and momentum 0.01, rmsprop and adam 0.001), and gives a :class:`NamedOptimizer`.

    >>> get_optimizer("adam") is get_optimizer("adam")  # one object: compiled epochs are reused
    True
    """
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {tuple(OPTIMIZERS)} or an Optax "
                             f"GradientTransformation, got {optimizer!r}")
        if learning_rate is None:
            return _named_optimizer(optimizer)
        if not callable(learning_rate):
            learning_rate = check_learning_rate("learning_rate", learning_rate)
        return _named(optimizer, learning_rate)
    if learning_rate is not None:
        raise ValueError("learning_rate: only for an optimizer given by name")
    init = getattr(optimizer, "init", None)
    update = getattr(optimizer, "update", None)
    if not (callable(init) and callable(update)):
        raise TypeError(f"optimizer: expected an optax.GradientTransformation or a name, "
                        f"got {type(optimizer).__name__}")
    return optimizer


def check_learning_rate(name: str, value: Any) -> float:
    """A positive finite number (a learning rate), or an error naming ``name``.

    >>> check_learning_rate("learning_rate[1]", "fast")
    Traceback (most recent call last):
    TypeError: learning_rate[1]: expected a positive number, got 'fast' (str)
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"{name}: expected a positive number, got {value!r} ({type(value).__name__})"
        )
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return float(value)


def many_optimizer(optimizer: Any, learning_rate: Any, models: int
                   ) -> tuple[optax.GradientTransformation, dict[str, np.ndarray] | None]:
    """``(opt, rates)`` for N stacked models: the transformation each runs, ``{name: (N,) rates}``.

    ``rates`` is ``None`` when every model shares :func:`get_optimizer`'s transformation;
    otherwise ``opt`` is ``optax.inject_hyperparams`` of the alias (a name from
    :data:`OPTIMIZERS` or a function such as ``optax.adam``) and :func:`init_state` puts model
    i's rate into its state.
    """
    sequence = isinstance(learning_rate, (list, tuple, np.ndarray, jax.Array))
    transformation = hasattr(optimizer, "init") and hasattr(optimizer, "update")
    alias = callable(optimizer) and not transformation
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
        raise ValueError("learning_rate: expected a number or one per model with an Optax alias "
                         "such as optax.adam, got None")
    if not sequence:
        rates = np.full(models, check_learning_rate("learning_rate", learning_rate))
    elif np.ndim(learning_rate) != 1 or len(learning_rate) != models:
        raise ValueError(f"learning_rate: expected one rate per model ({models}), got shape "
                         f"{np.shape(learning_rate)}")
    else:
        checked = []
        for i, v in enumerate(learning_rate):
            value = v.item() if hasattr(v, "item") else v
            checked.append(check_learning_rate(f"learning_rate[{i}]", value))
        rates = np.array(checked)
    name = next(iter(inspect.signature(factory).parameters))  # an alias's first argument: its rate
    return _injected(factory), {name: rates}


def init_state(opt: optax.GradientTransformation, params: Any, rates: dict[str, np.ndarray] | None,
               opt_state: Any = None) -> Any:
    """The stacked state (``opt.init`` of each model) with model i's rate ``rates[name][i]``."""
    if opt_state is None:
        opt_state = jax.vmap(opt.init)(params)
    if rates is None:
        return opt_state
    hyper = dict(opt_state.hyperparams)
    hyper.update({name: jnp.asarray(value, hyper[name].dtype) for name, value in rates.items()})
    return opt_state._replace(hyperparams=hyper)


@functools.cache
def _injected(factory: Callable[..., optax.GradientTransformation]) -> optax.GradientTransformation:
    """One ``inject_hyperparams`` transformation per alias, so compiled epochs are reused."""
    return optax.inject_hyperparams(factory)(1.0)  # a placeholder rate: init_state sets them


@functools.cache
def _named_optimizer(name: str) -> NamedOptimizer:
    """One object per name, so compiled epochs are reused across fits."""
    default = next(iter(inspect.signature(OPTIMIZERS[name]).parameters.values())).default
    return _named(name, default)


def _named(name: str, learning_rate: float | Callable) -> NamedOptimizer:
    opt = OPTIMIZERS[name](learning_rate)
    named = NamedOptimizer(opt.init, opt.update)
    named.name = name
    named.learning_rate = None if callable(learning_rate) else float(learning_rate)
    return named
