"""Deck 002 (4MLP): the data's shapes, the step perceptron, the parameter counts, fit, softmax.

* **The data** (データを読み込む, データを加工する): MNIST loads as ``x_train (60000, 28, 28)``,
  ``y_train (60000,)``, ``x_test (10000, 28, 28)``, ``y_test (10000,)``;
  ``x.reshape(x.shape[0], 784) / 255`` gives ``(60000, 784)`` and ``(10000, 784)`` with pixels in
  [0, 1], and ``to_categorical(y, 10)`` gives the one-hot ``(60000, 10)`` and ``(10000, 10)``
  (:func:`preprocess`, :func:`to_categorical`, :func:`shapes_after_preprocessing`).

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
* **softmax** (多値分類) outputs probabilities that add up to 1, e.g. 晴れ 0.7, 雨 0.2, 曇り 0.1
  (:func:`softmax`); so do the deck's printed predictions ``test[1]`` before training and
  ``test2[1]`` after (to their printed digits), and ``np.around(test2[1], 3)`` is the one-hot
  ``[0. 0. 1. 0. 0. 0. 0. 0. 0. 0.]`` of the true class 2 (:data:`TEST_1`, :data:`TEST2_1`).

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
from jaxmlp.check import Check, check_number
from jaxmlp.core.activations import get_activation

__all__ = [
    "DECK_SHAPES",
    "LOADED",
    "TEST2_1",
    "TEST_1",
    "W",
    "X",
    "checks",
    "fit_arithmetic",
    "keras_mnist_model",
    "largest",
    "mu",
    "perceptron",
    "preprocess",
    "shapes_after_preprocessing",
    "softmax",
    "to_categorical",
]

Array = jax.Array
X = (1.0, 2.0, 0.5)    #: the deck's inputs x_1, x_2, x_3
W = (0.5, 0.2, -1.0)   #: the deck's weights w_1, w_2, w_3
#: the shapes mnist.load_data() prints
LOADED = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}
#: the shapes after reshape(n, 784) / 255 and to_categorical(y, 10)
DECK_SHAPES = {
    "x_train": (60000, 784),
    "y_train": (60000, 10),
    "x_test": (10000, 784),
    "y_test": (10000, 10),
}
#: print(test[1]) before training, and print(test2[1]) after (the true class is 2)
TEST_1 = (0.06218787, 0.13608842, 0.06215866, 0.06640156, 0.28793582, 0.04967605, 0.067972,
          0.10699823, 0.11715493, 0.04342646)
TEST2_1 = (8.0701529e-11, 3.9249046e-10, 9.9999940e-01, 8.3521821e-09, 1.4485680e-28, 6.2819618e-07,
           2.5197353e-11, 1.3647900e-22, 2.3160052e-10, 1.9060435e-24)


def preprocess(x: Array) -> Array:
    """``x.reshape(x.shape[0], 784) / 255``.

    28×28 images of 0 … 255 become rows of 784 values in [0, 1].
    """
    return jnp.reshape(x, (x.shape[0], 784)) / 255


def to_categorical(y: Array, num_classes: int = 10) -> Array:
    """Keras's ``to_categorical(y, 10)``: each label becomes a row with a single 1 at its class.

    >>> to_categorical(jnp.array([2]), 4)
    Array([[0., 0., 1., 0.]], dtype=float32)
    """
    classes = jnp.arange(num_classes).reshape((1,) * y.ndim + (num_classes,))
    return (y[..., None] == classes).astype(jnp.float32)


def shapes_after_preprocessing() -> dict[str, tuple[int, ...]]:
    """The shapes :func:`preprocess` and :func:`to_categorical` give for :data:`LOADED`.

    Traced, not run.

    >>> shapes_after_preprocessing()
    {'x_train': (60000, 784), 'y_train': (60000, 10),
     'x_test': (10000, 784), 'y_test': (10000, 10)}
    """
    steps = {"x": preprocess, "y": to_categorical}
    return {name: jax.eval_shape(steps[name[0]], jax.ShapeDtypeStruct(shape, jnp.uint8)).shape
            for name, shape in LOADED.items()}


def softmax(u: Array) -> Array:
    """jaxmlp's ``"softmax"``: ``exp(u_i) / Σ_j exp(u_j)``, probabilities that add up to 1.

    >>> [round(float(p), 6) for p in softmax(jnp.log(jnp.array([0.7, 0.2, 0.1])))]  # 晴れ, 雨, 曇り
    [0.7, 0.2, 0.1]
    """
    return get_activation("softmax").f(u)


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


def fit_arithmetic(
    n: int = 60_000, validation_split: float = 0.2, batch_size: int = 64
) -> dict[str, int]:
    """How ``fit`` splits ``n`` rows: ``{"train", "validation", "updates_per_epoch"}``.

    >>> fit_arithmetic()
    {'train': 48000, 'validation': 12000, 'updates_per_epoch': 750}
    """
    rows, labels = np.zeros((n, 0)), np.zeros(n)
    (x_train, _), (x_val, _) = data.validation_split(rows, labels, validation_split)
    return {"train": len(x_train), "validation": len(x_val),
            "updates_per_epoch": math.ceil(len(x_train) / batch_size)}


def checks(seed: int = 0) -> list[Check]:
    """The deck's numbers.

    Shapes, μ = 0.4 (fires), 25,120 / 330 / 25,450, 48,000 / 12,000, 750, Σ p = 1.
    """
    _, z = perceptron(X, W)
    neuron = jaxmlp.MLP((3, 1), ("step",)).apply([{"w": jnp.asarray([W]), "b": jnp.zeros(1)}],
                                                 jnp.asarray(X))[0]
    model = keras_mnist_model()
    fit = fit_arithmetic()
    shapes = shapes_after_preprocessing()
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 0, :3] = 255, 51, 0             # the first row's pixels 255, 51 and 0 …
    row = np.zeros((1, 784))
    row[0, :3] = 1.0, 0.2, 0.0               # … are the first three of 784 values: 1, 0.2, 0
    weather = softmax(jnp.log(jnp.asarray([0.7, 0.2, 0.1])))
    labels = jnp.arange(10)
    return [
        *(check_number(f"deck 002 {name} {LOADED[name]} → {want}", shapes[name] == want, 1.0,
                       rtol=0.0)
          for name, want in DECK_SHAPES.items()),
        check_number("deck 002 x.reshape(n, 784) / 255: 255, 51, 0 → 1, 0.2, 0",
                     largest(preprocess(image), row), 0.0, rtol=1e-7),
        check_number("deck 002 to_categorical(y, 10) = one_hot",
                     largest(to_categorical(labels), data.one_hot(labels, 10)), 0.0, rtol=0.0),
        check_number("deck 002 softmax(log (0.7, 0.2, 0.1)) = 0.7, 0.2, 0.1",
                     largest(weather, [0.7, 0.2, 0.1]), 0.0),
        check_number("deck 002 softmax sums to 1", jnp.sum(weather), 1.0),
        check_number("deck 002 Σ test[1] (before training)", sum(TEST_1), 1.0, rtol=1e-7),
        check_number("deck 002 Σ test2[1] (after training)", sum(TEST2_1), 1.0, rtol=1e-7),
        check_number("deck 002 np.around(test2[1], 3) = [0. 0. 1. 0. …]",
                     largest(np.around(TEST2_1, 3), np.eye(10)[2]), 0.0, rtol=0.0),
        check_number("deck 002 perceptron μ = Σ x_i w_i", mu(X, W), 0.4),
        check_number("deck 002 step(μ) fires: z = 1", z, 1.0, rtol=0.0),
        check_number("deck 002 MLP((3, 1), ('step',)) fires", neuron, 1.0, rtol=0.0),
        check_number("deck 002 (784 + 1) × 32", model.layer_params(0), 25_120, rtol=0.0),
        check_number("deck 002 (32 + 1) × 10", model.layer_params(1), 330, rtol=0.0),
        check_number("deck 002 total params", model.num_params, 25_450, rtol=0.0),
        check_number("deck 002 validation_split 0.2: train", fit["train"], 48_000, rtol=0.0),
        check_number("deck 002 validation_split 0.2: validation", fit["validation"], 12_000,
                     rtol=0.0),
        check_number("deck 002 updates per epoch (batch 64)", fit["updates_per_epoch"], 750,
                     rtol=0.0),
    ]


def largest(a, b) -> float:
    """``max |a − b|``, the worked numbers' distance (0 when they agree)."""
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
