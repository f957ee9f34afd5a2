"""The optimizer as a run records it: a name or the structure of its state, the learning rate
and the other hyperparameters, so that a resume with another rate is refused by name and every
process of one run trains with the same one (:func:`jaxmlp.training.setup.agreed_settings`).

A :class:`~jaxmlp.training.optimizers.NamedOptimizer` says its rate; ``optax.inject_hyperparams``
keeps its values in the optimizer state, read at the start; an opaque Optax transformation
(``optax.adam(1e-3)``) keeps its rate in a closure. Every optimizer, however it was built, is also
compared by what it does (:func:`fingerprint`): a digest of its first updates from its own
``init`` on a fixed gradient, so ``optax.adam(1e-2)`` is told from ``optax.adam(1e-3)`` (and a
changed β, ε, weight decay or schedule start) while the same optimizer built again matches.
"""

from __future__ import annotations

import hashlib
import math
import sys
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmlp.core.programs import PROGRAMS
from jaxmlp.training.history import hyperparameters
from jaxmlp.training.optimizers import NamedOptimizer

__all__ = ["STEPS", "describe_optimizer", "fingerprint", "optimizer_settings"]

STEPS = 3  #: the updates a fingerprint digests


def describe_optimizer(optimizer, opt, params) -> str:
    """The optimizer as a checkpoint records it: a name, or the structure of its state."""
    if isinstance(optimizer, str):
        return optimizer
    if isinstance(opt, NamedOptimizer):
        return opt.name
    return str(jax.tree.structure(jax.eval_shape(opt.init, params)))


def optimizer_settings(model, optimizer, opt, params, models: int | None = None,
                       rates: dict | None = None, resume: Any = None) -> dict[str, Any]:
    """The optimizer as a run records it and every process must share it (JSON values).

    ``optimizer``: :func:`describe_optimizer`. ``learning_rate``: a :class:`NamedOptimizer`'s
    rate, or the value ``optax.inject_hyperparams`` puts in the state at the start; for ``N``
    stacked models a list, model i's rate (``rates``: ``fit_many``'s per-model rates); ``None``
    for an opaque Optax transformation (``optax.adam(1e-3)`` keeps its rate in a closure), whose
    rate a resume cannot compare: it warns. ``hyperparameters``: every other injected value.
    """
    values = {k: _short(v) for k, v in _injected(model, opt, params).items()}
    rate = values.pop("learning_rate", getattr(opt, "learning_rate", None))
    if rates:  # fit_many's rates, one per model, in the place of the placeholder
        rate = [_short(v) for v in np.ravel(next(iter(rates.values())))]
    elif models is not None and rate is not None:
        rate = [rate] * models
    updates = fingerprint(opt, params)
    if rate is None and updates is None and resume is not None:
        warnings.warn("resume: the optimizer is an Optax transformation that does not say its "
                      "learning rate, so it cannot be compared with the checkpoint's; pass a name "
                      "(optimizer='adam'), jaxmlp.get_optimizer('adam', rate) or "
                      "optax.inject_hyperparams(optax.adam)(learning_rate=rate) to have it checked",
                      UserWarning, stacklevel=_user_level())
    return {"optimizer": describe_optimizer(optimizer, opt, params), "learning_rate": rate,
            "hyperparameters": values, "optimizer_updates": updates}


def fingerprint(opt, params, steps: int = STEPS) -> str | None:
    """A digest of ``opt``'s first ``steps`` updates, from its own ``init``, on a fixed problem
    shaped like ``params`` (each dimension cut to at most 3, so it costs nothing at any size).

    The same optimizer built again gives the same digest; another rate, β, ε, weight decay or
    schedule start gives another. Values are digested to 6 significant digits, so that devices
    that round the last bit differently still agree. ``None`` when ``opt`` cannot run on the
    problem (an optimizer of stacked models, say): nothing to compare.

    >>> import optax
    >>> params = {"w": jnp.zeros((4, 5))}
    >>> fingerprint(optax.adam(1e-3), params) == fingerprint(optax.adam(1e-3), params)
    True
    >>> fingerprint(optax.adam(1e-3), params) == fingerprint(optax.adam(1e-2), params)
    False
    """
    shapes = jax.eval_shape(lambda p: p, params)
    leaves, tree = jax.tree.flatten(shapes)

    def fixed(phase, scale):  # deterministic, non-zero, different in every entry and leaf
        return tree.unflatten([
            (scale * np.sin(np.arange(math.prod(shape)) + 7 * i + phase)).reshape(shape)
            .astype(leaf.dtype)
            for i, leaf in enumerate(leaves)
            for shape in [tuple(min(d, 3) for d in leaf.shape)]])

    try:
        p = jax.tree.map(jnp.asarray, fixed(0.5, 1.0))
        state = opt.init(p)
        digest = hashlib.blake2b(digest_size=8)
        for k in range(steps):
            g = jax.tree.map(jnp.asarray, fixed(1.5 + k, 0.1 * (k + 1)))
            updates, state = opt.update(g, state, p)
            p = optax.apply_updates(p, updates)
            for leaf in jax.tree.leaves(jax.device_get(updates)):
                digest.update(" ".join(f"{v:.5e}" for v in np.ravel(leaf)).encode())
    except Exception:  # an optimizer this problem does not suit: not compared
        return None
    return digest.hexdigest()


def _injected(model, opt, params) -> dict[str, Any]:
    """The values ``optax.inject_hyperparams`` puts in ``opt``'s state at the start (none for
    another transformation). Read from a compiled ``opt.init`` of zeros that returns only them,
    so nothing of the parameters' size is allocated or copied; the program is ``model``'s (the
    parameters' shapes), kept in :data:`jaxmlp.core.programs.PROGRAMS`."""
    kinds = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)

    def injected(state):
        nodes = jax.tree.leaves(state, is_leaf=lambda s: isinstance(s, kinds))
        return [s._replace(inner_state=()) for s in nodes if isinstance(s, kinds)]

    shapes = jax.eval_shape(lambda p: p, params)  # read from the arrays: nothing is copied
    if not injected(jax.eval_shape(opt.init, shapes)):
        return {}

    def build():
        def start():
            return injected(opt.init(jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)))

        return jax.jit(start)

    dtypes = tuple(str(s.dtype) for s in jax.tree.leaves(shapes))
    return hyperparameters(PROGRAMS.get(model, ("injected", opt, dtypes), build)())


def _user_level() -> int:
    """The ``stacklevel`` of the first caller outside jaxmlp: a warning names the user's line."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "jaxmlp":
        level, frame = level + 1, frame.f_back
    return level


def _short(value: Any) -> float | list:
    """A float32 value as its shortest decimal (``0.001``, not ``0.0010000000474974513``); an
    array as a list of them."""
    if np.ndim(value):
        return [_short(v) for v in np.ravel(value)]
    with np.errstate(over="ignore"):  # a rate past float32's range (1e300) stays as it is
        single = np.float32(value)
    return float(str(single)) if float(single) == value else float(value)
