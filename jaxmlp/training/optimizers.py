"""Optimizers by name, as Keras configures them; every one of them is Optax's.

``fit(optimizer=...)`` takes an Optax ``GradientTransformation`` or one of the names in
:data:`OPTIMIZERS`, with Keras's default learning rate unless one is given.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import optax

__all__ = ["OPTIMIZERS", "get_optimizer"]

#: the optimizer names, as Keras configures them, each with Keras's default learning rate
OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": lambda lr=0.01: optax.sgd(lr),
    "momentum": lambda lr=0.01: optax.sgd(lr, momentum=0.9),
    "rmsprop": lambda lr=0.001: optax.rmsprop(lr, decay=0.9, eps=1e-7),
    "adam": lambda lr=0.001: optax.adam(lr, eps=1e-7),
}


def get_optimizer(
    optimizer: str | optax.GradientTransformation, learning_rate: float | Callable | None = None,
) -> optax.GradientTransformation:
    """An Optax transformation, or one of the names in :data:`OPTIMIZERS`.

    A name takes ``learning_rate`` (a number or an Optax schedule), by default Keras's rate for it
    (sgd and momentum 0.01, rmsprop and adam 0.001).

    >>> get_optimizer("adam") is get_optimizer("adam")  # one object: compiled epochs are reused
    True
    """
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {tuple(OPTIMIZERS)} or an Optax "
                             f"GradientTransformation, got {optimizer!r}")
        if learning_rate is None:
            return _named_optimizer(optimizer)
        if not callable(learning_rate) and not (isinstance(learning_rate, (int, float))
                                                and math.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(
                f"learning_rate: expected a positive number or a schedule, got {learning_rate!r}")
        return OPTIMIZERS[optimizer](learning_rate)
    if learning_rate is not None:
        raise ValueError("learning_rate: only for an optimizer given by name")
    if not (callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))):
        raise TypeError(f"optimizer: expected an optax.GradientTransformation or a name, "
                        f"got {type(optimizer).__name__}")
    return optimizer


@functools.cache
def _named_optimizer(name: str) -> optax.GradientTransformation:
    return OPTIMIZERS[name]()  # one object per name, so compiled epochs are reused across fits
