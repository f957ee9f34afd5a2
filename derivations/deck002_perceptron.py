"""Deck 002 (4MLP): the step-function perceptron, the parameter counts and the fit arithmetic.

* **Perceptron**: ``μ = x_1 × w_1 + x_2 × w_2 + x_3 × w_3`` and, with the step function and
  threshold 0, ``z = 1`` (fires) when ``μ > 0``, else 0. The deck's example
  ``x = (1, 2, 0.5)``, ``w = (0.5, 0.2, −1)`` gives ``μ = 1 × 0.5 + 2 × 0.2 + 0.5 × (−1) = 0.4``:
  it fires. In jaxmlp: ``MLP((3, 1), ("step",))`` with ``b = 0``.
* **summary()** of ``Dense(32, relu) → Dense(10, softmax)`` on 784 inputs: each Dense layer has
  ``(inputs + 1) × units`` parameters (the +1 is the bias): ``(784 + 1) × 32 = 25,120`` and
  ``(32 + 1) × 10 = 330``, total 25,450.
* **fit(epochs=30, batch_size=64, validation_split=0.2)** on the 60,000 training images: the last
  20 % (12,000) validate, 48,000 train, and ``64 × 750 = 48,000``: 750 weight updates per epoch.
  jaxmlp also trains on a last partial batch, so the count is ``ceil(48,000 / 64)``.

The step function's derivative is 0 everywhere, so this deck has no gradient to derive; its
checks are the worked numbers.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

import jaxmlp
from jaxmlp import data
from jaxmlp.activations import get_activation
from jaxmlp.verify import Check, check_number

__all__ = ["W", "X", "checks", "fit_arithmetic", "keras_mnist_model", "mu", "perceptron"]

Array = jax.Array
X = (1.0, 2.0, 0.5)    #: the deck's inputs x_1, x_2, x_3
W = (0.5, 0.2, -1.0)   #: the deck's weights w_1, w_2, w_3


def mu(x, w):
    """``μ = x_1 × w_1 + x_2 × w_2 + x_3 × w_3`` in plain arithmetic (exact for fractions).

    >>> from fractions import Fraction as F
    >>> mu([F(1), F(2), F("0.5")], [F("0.5"), F("0.2"), F(-1)])
    Fraction(2, 5)
    """
    return sum(x_i * w_i for x_i, w_i in zip(x, w))


def perceptron(x, w) -> tuple[Array, Array]:
    """``(μ, z)`` with ``z = step(μ)``: 1 (fires) when ``μ > 0``, else 0 (jaxmlp's ``"step"``).

    >>> m, z = perceptron(X, W)
    >>> round(float(m), 12), float(z)
    (0.4, 1.0)
    """
    μ = jnp.asarray(mu(x, w))
    return μ, get_activation("step").f(μ)


def keras_mnist_model():
    """The deck's ``Dense(32, input_shape=(784,), activation='relu')``, ``Dense(10, 'softmax')``."""
    return jaxmlp.MLP((784, 32, 10), ("relu", "softmax"))


def fit_arithmetic(n: int = 60_000, validation_split: float = 0.2, batch_size: int = 64) -> dict[str, int]:
    """How ``fit`` splits ``n`` rows: ``{"train", "validation", "updates_per_epoch"}``.

    >>> fit_arithmetic()
    {'train': 48000, 'validation': 12000, 'updates_per_epoch': 750}
    """
    (x_train, _), (x_val, _) = data.validation_split(np.zeros((n, 0)), np.zeros(n), validation_split)
    return {"train": len(x_train), "validation": len(x_val),
            "updates_per_epoch": math.ceil(len(x_train) / batch_size)}


def checks(seed: int = 0) -> list[Check]:
    """The deck's numbers: μ = 0.4 (fires), 25,120 / 330 / 25,450, 48,000 / 12,000, 750."""
    _, z = perceptron(X, W)
    neuron = jaxmlp.MLP((3, 1), ("step",)).apply([{"w": jnp.asarray([W]), "b": jnp.zeros(1)}],
                                                 jnp.asarray(X))[0]
    model = keras_mnist_model()
    fit = fit_arithmetic()
    return [
        check_number("deck 002 perceptron μ = Σ x_i w_i", mu(X, W), 0.4),
        check_number("deck 002 step(μ) fires: z = 1", z, 1.0, rtol=0.0),
        check_number("deck 002 MLP((3, 1), ('step',)) fires", neuron, 1.0, rtol=0.0),
        check_number("deck 002 (784 + 1) × 32", model.layer_params(0), 25_120, rtol=0.0),
        check_number("deck 002 (32 + 1) × 10", model.layer_params(1), 330, rtol=0.0),
        check_number("deck 002 total params", model.num_params, 25_450, rtol=0.0),
        check_number("deck 002 validation_split 0.2: train", fit["train"], 48_000, rtol=0.0),
        check_number("deck 002 validation_split 0.2: validation", fit["validation"], 12_000, rtol=0.0),
        check_number("deck 002 updates per epoch (batch 64)", fit["updates_per_epoch"], 750, rtol=0.0),
    ]
