"""scikit-learn's MLP settings as jaxmlp's: their checks, the hidden sizes, activation names, the
solver as one Optax transformation, and the validation rows of early stopping.

The estimators of :mod:`jaxmlp.sklearn` call these; every error names the estimator's own parameter
(``validation_fraction``, never scikit-learn's internal ``test_size``).
"""

from __future__ import annotations

import functools
import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import optax

from jaxmlp.core.activations import get_activation

__all__ = ["RULES", "activation_name", "check_settings", "hidden_sizes", "solver",
           "validation_rows"]

RULES = {  # each setting: a test of its value, and what it expects (scikit-learn's constraints)
    "solver": (lambda v: v in ("adam", "sgd"), "'adam' or 'sgd'"),
    "learning_rate": (lambda v: v in ("constant", "invscaling"), "'constant' or 'invscaling'"),
    "batch_size": (lambda v: v == "auto" or is_int(v), "'auto' or an integer >= 1"),
    "max_iter": (lambda v: is_int(v), "an integer >= 1"),
    "n_iter_no_change": (lambda v: is_int(v) or v == math.inf, "an integer >= 1 or inf"),
    **dict.fromkeys(("alpha", "power_t", "tol"), (lambda v: real(v) and v >= 0, "a number >= 0")),
    **dict.fromkeys(("learning_rate_init", "epsilon"),
                    (lambda v: real(v) and v > 0, "a number > 0")),
    **dict.fromkeys(("beta_1", "beta_2", "validation_fraction"),
                    (lambda v: real(v) and 0 <= v < 1, "a number in [0, 1)")),
    "momentum": (lambda v: real(v) and 0 <= v <= 1, "a number in [0, 1]"),
}


def check_settings(estimator: Any, incremental: bool) -> None:
    """Each setting of :data:`RULES` valid, and early stopping possible; else a ``ValueError``."""
    for name, (test, expected) in RULES.items():
        if not test(getattr(estimator, name)):
            raise ValueError(f"{name}: expected {expected}, got {getattr(estimator, name)!r}")
    if estimator.early_stopping and (incremental or estimator.validation_fraction == 0):
        raise ValueError("early_stopping: needs validation_fraction > 0; partial_fit cannot "
                         "stop early")


def validation_rows(X: np.ndarray, T: np.ndarray, fraction: float, seed: int, stratify: bool):
    """``X, X_val, T, T_val``: scikit-learn's split of early stopping (``ceil(fraction · n)``
    validation rows, stratified by class when ``stratify``); errors name ``validation_fraction``."""
    from sklearn.model_selection import train_test_split

    n = X.shape[0]
    n_val = math.ceil(fraction * n)
    classes = T.shape[1] if T.shape[1] > 1 else 2
    if n_val < 2 or n - n_val < 1 or (stratify and min(n_val, n - n_val) < classes):
        each = f" and at least one row of each of the {classes} classes in both" * stratify
        raise ValueError(f"validation_fraction: {fraction} of {n} rows gives {n_val} validation "
                         f"and {n - n_val} training rows; early stopping needs at least 2 "
                         f"validation rows and 1 training row{each}: give more rows or another "
                         "validation_fraction")
    try:
        return train_test_split(X, T, test_size=n_val, random_state=seed,
                                stratify=T if stratify else None)
    except ValueError as error:  # e.g. a class of one row cannot be stratified
        reason = str(error).replace("test_size", "validation rows")
        raise ValueError(f"validation_fraction: {fraction} of {n} rows cannot be split for early "
                         f"stopping ({reason})") from None


def is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1


def real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def hidden_sizes(sizes) -> tuple[int, ...]:
    sizes = tuple(sizes) if hasattr(sizes, "__iter__") else (sizes,)
    if not all(is_int(s) for s in sizes):
        raise ValueError(f"hidden_layer_sizes: expected integers >= 1, got {sizes!r}")
    return tuple(int(s) for s in sizes)


def activation_name(argument: str, name: str) -> str:
    """scikit-learn's activation name (``"logistic"``) or jaxmlp's, as jaxmlp's name."""
    try:
        return get_activation("sigmoid" if name == "logistic" else name).name
    except ValueError as error:
        raise ValueError(f"{argument}: {error}") from None


@functools.lru_cache(maxsize=64)
def solver(solver, rate, beta_1, beta_2, epsilon, momentum, nesterov, schedule, scale):
    """scikit-learn's solver as one Optax transformation, cached so that compiled epochs are
    reused."""
    if solver == "adam":
        optimizer = optax.adam(rate, b1=beta_1, b2=beta_2, eps=epsilon)
    else:
        rate = rate if schedule is None else functools.partial(_invscaling, rate, *schedule)
        optimizer = optax.sgd(rate, momentum=momentum or None, nesterov=nesterov and momentum > 0)
    return optimizer if scale == 1 else optax.chain(optax.scale(1.0 / scale), optimizer)


def _invscaling(rate, power_t, n, steps, t0, count):
    """scikit-learn's ``rate / (t + 1)^power_t``, ``t`` the rows seen."""
    return rate / ((count // steps) * n + t0 + 1.0) ** power_t
