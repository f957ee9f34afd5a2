"""Random test problems ``(params, x, t)`` for a network and a loss, drawn with NumPy.

Nothing is compiled.

Used by the lecture derivations' checks and by ``jaxmlp verify``'s search.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.core.activations import PRELU_INIT, get_activation
from jaxmlp.core.model import MLP

__all__ = ["BATCH", "random_problem", "random_targets"]

BATCH = 5  #: rows per random batch unless told


def random_problem(model: MLP, loss: str, seed: int = 0, batch: int = BATCH, dtype=None):
    """``(params, x (batch, n_in), t (batch, n_out))`` for ``model`` and ``loss``, from ``seed``.

    Glorot-uniform weights, biases ``N(0, 0.5²)`` (zero biases would hide bias errors), PReLU slopes
    0.25, inputs ``N(0, 1)`` and targets from :func:`random_targets`. ``dtype`` defaults to float64
    under ``jax.enable_x64``, else float32.

    >>> import jaxmlp
    >>> model = jaxmlp.MLP((3, 2), ("softmax",))
    >>> params, x, t = random_problem(model, "categorical_crossentropy", batch=4)
    >>> params[0]["w"].shape, x.shape, t.sum(axis=1).tolist()
    ((2, 3), (4, 3), [1.0, 1.0, 1.0, 1.0])
    """
    dtype = jax.dtypes.canonicalize_dtype(jnp.float64) if dtype is None else dtype
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out, f in zip(model.sizes[:-1], model.sizes[1:], model.activations):
        limit = math.sqrt(6 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, (fan_out, fan_in))
        b = rng.normal(0, 0.5, fan_out)
        layer = {"w": w, "b": b}
        if get_activation(f).parametric:
            layer["a"] = np.full(fan_out, PRELU_INIT)
        params.append({k: jnp.asarray(v, dtype) for k, v in layer.items()})
    x = rng.normal(size=(batch, model.sizes[0]))
    t = random_targets(rng, loss, batch, model.sizes[-1])
    return params, jnp.asarray(x, dtype), jnp.asarray(t, dtype)


def random_targets(rng: np.random.Generator, loss: str, batch: int, n_out: int) -> np.ndarray:
    """Targets ``(batch, n_out)`` the loss accepts: one-hot rows (categorical cross-entropy), 0/1
    entries (binary cross-entropy) or ``N(0, 1)`` (the squared errors).

    >>> random_targets(np.random.default_rng(0), "binary_crossentropy", 2, 3).shape
    (2, 3)
    """
    if loss == "categorical_crossentropy":
        return np.eye(n_out)[rng.integers(0, n_out, batch)]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, (batch, n_out)).astype(np.float64)
    return rng.normal(size=(batch, n_out))
