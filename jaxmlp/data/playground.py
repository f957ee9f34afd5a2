"""The TensorFlow Playground's toy data sets (deck 004), generated with `jax.random` keys.

Four classification sets (circle, xor, gauss, spiral) and two regression sets (plane,
multigauss) of 2-D points in about [-6, 6]², with the same distributions, noise settings and
train/test split as the Playground (tensorflow/playground, ``src/dataset.ts`` for the
generators, ``src/playground.ts`` for the sample counts, the noise / 100 scaling, the shuffle
and the split, ``src/state.ts`` for the defaults). The Playground draws from ``Math.random``;
here the same distributions are drawn from a key, so the points are reproducible but are not
the Playground's own stream.

Labels: the Playground labels a class +1 or -1 and trains a tanh output on them. For a sigmoid
output with binary cross-entropy the labels are wanted in {0, 1}: `playground_data` returns
{0, 1} by default and ±1 with ``labels="pm1"``. Regression targets are the Playground's values
as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import jax
import numpy as np

from jaxmlp.core.values import check_int, check_key

__all__ = ["FEATURES", "PLAYGROUND_DATASETS", "features", "playground_data", "playground_points"]

#: name -> (problem, description).
PLAYGROUND_DATASETS: dict[str, tuple[str, str]] = {
    "circle": ("classification", "a disc of radius 2.5 (+1) inside a ring 3.5..5 (-1)"),
    "xor": ("classification", "uniform in [-5.3, 5.3]², +1 where x·y >= 0 (quadrants 1, 3)"),
    "gauss": ("classification", "two Gaussian clouds around (2, 2) (+1) and (-2, -2) (-1)"),
    "spiral": ("classification", "two interleaved spirals of 1.75 turns, radius 0..5"),
    "plane": ("regression", "uniform in [-6, 6]², target (x + y) / 10"),
    "multigauss": ("regression", "uniform in [-6, 6]², target from six signed Gaussian bumps"),
}

#: Input feature names accepted by `features`, in the Playground's order.
FEATURES: tuple[str, ...] = ("x", "y", "x2", "y2", "xy", "sinx", "siny")

#: Sample counts the Playground uses (NUM_SAMPLES_CLASSIFY, NUM_SAMPLES_REGRESS).
_DEFAULT_N = {"classification": 500, "regression": 1200}


def playground_data(
    name: str,
    key: jax.Array,
    n: int | None = None,
    noise: float = 0,
    train_ratio: float = 50,
    labels: str = "01",
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A Playground data set, shuffled and split into training and test points.

    As ``generateData`` in tensorflow/playground ``src/playground.ts``: generate ``n`` points,
    shuffle them, and keep the first ``floor(n * train_ratio / 100)`` for training.

    Arguments:
        name: ``circle | xor | gauss | spiral`` (classification) or ``plane | multigauss``
            (regression).
        key: a `jax.random` key.
        n: number of points, >= 2; default as the Playground: 500 for classification, 1200
            for regression.
        noise: the Playground's noise slider, 0 to 50 (used as ``noise / 100``).
        train_ratio: the Playground's "ratio of training to test data", in percent, (0, 100).
        labels: classification labels ``"01"`` ({0, 1}, default) or ``"pm1"`` (±1, as the
            Playground); ignored for regression.

    Returns:
        ``((xy_train, t_train), (xy_test, t_test))``: points ``(m, 2)`` and targets ``(m, 1)``,
        float32 (one output unit, as the Playground's network).

    >>> import jax
    >>> (xy, t), (xy_test, t_test) = playground_data("xor", jax.random.key(0), n=10)
    >>> xy.shape, t.shape, xy_test.shape
    ((5, 2), (5, 1), (5, 2))
    """
    problem = _problem(name)
    check_key(key)
    n = _DEFAULT_N[problem] if n is None else check_int("n", n, 2)
    train_ratio = _check_real("train_ratio", train_ratio)
    if not 0 < train_ratio < 100:
        raise ValueError(f"train_ratio: expected a percentage strictly between 0 and 100, "
                         f"got {train_ratio}")
    if labels not in ("01", "pm1"):
        raise ValueError(f"labels: expected '01' or 'pm1', got {labels!r}")
    key_points, key_shuffle = jax.random.split(key)
    xy, t = playground_points(name, key_points, n, noise)
    if problem == "classification" and labels == "01":
        t = (t + 1) / 2
    order = np.asarray(jax.random.permutation(key_shuffle, n))
    split_at = math.floor(n * train_ratio / 100)
    if split_at == 0 or split_at == n:
        empty = "training" if split_at == 0 else "test"
        raise ValueError(f"train_ratio: expected a share of n={n} points that leaves both sets "
                         f"non-empty, got {train_ratio}, which leaves an empty {empty} set")
    xy, t = xy[order], t[order, None]
    return (xy[:split_at], t[:split_at]), (xy[split_at:], t[split_at:])


def playground_points(
    name: str, key: jax.Array, n: int, noise: float = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The raw output of one Playground generator: ``n`` points in generation order.

    Classification sets put the +1 class first (``n - n // 2`` points), then the -1 class
    (``n // 2``); the Playground always asks for an even count, where the halves are equal.

    Arguments:
        name: a key of `PLAYGROUND_DATASETS`.
        key: a `jax.random` key.
        n: number of points, >= 2.
        noise: the Playground's noise setting, 0 to 50.

    Returns:
        ``(xy, t)``: float32 ``(n, 2)`` points and ``(n,)`` targets (±1 for classification).

    >>> import jax
    >>> xy, t = playground_points("circle", jax.random.key(0), 4)
    >>> t.tolist()
    [1.0, 1.0, -1.0, -1.0]
    """
    _problem(name)
    check_key(key)
    n = check_int("n", n, 2)
    noise = _check_real("noise", noise)
    if not 0 <= noise <= 50:
        raise ValueError(f"noise: expected a number between 0 and 50 (the Playground's slider), "
                         f"got {noise}")
    xy, t = _GENERATORS[name](key, n, noise / 100)
    return xy.astype(np.float32), t.astype(np.float32)


def features(xy: Any, names: Sequence[str] = ("x", "y")) -> np.ndarray:
    """The Playground's input features of 2-D points, as columns in the order of ``names``.

    ``x``, ``y``; ``x2`` = x², ``y2`` = y²; ``xy`` = x·y; ``sinx`` = sin x, ``siny`` = sin y
    (the ``INPUTS`` table of tensorflow/playground ``src/playground.ts``).

    Arguments:
        xy: points ``(n, 2)``.
        names: feature names from `FEATURES`, at least one, no repeats.

    Returns:
        float32 ``(n, len(names))``.

    >>> features([[2.0, 3.0]], ("x2", "xy", "y")).tolist()
    [[4.0, 6.0, 3.0]]
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"xy: expected shape (n, 2), got {xy.shape}")
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"names: expected a sequence of feature names, got {names!r}")
    unknown = [f for f in names if f not in FEATURES]
    if unknown:
        raise ValueError(f"names: expected feature names from {list(FEATURES)}, "
                         f"got unknown feature name(s) {unknown}")
    if not names or len(set(names)) != len(names):
        raise ValueError(f"names: expected a non-empty sequence without repeats, "
                         f"got {list(names)}")
    x, y = xy[:, 0], xy[:, 1]
    columns = {"x": x, "y": y, "x2": x * x, "y2": y * y, "xy": x * y,
               "sinx": np.sin(x), "siny": np.sin(y)}
    return np.stack([columns[f] for f in names], axis=1).astype(np.float32)


# --- the generators (float64 geometry on float32 uniform / normal draws) ------------------


def _circle(key: jax.Array, n: int, s: float) -> tuple[np.ndarray, np.ndarray]:
    """classifyCircleData in tensorflow/playground src/dataset.ts."""
    u = _uniform(key, (n, 4))
    inside = np.arange(n) < n - n // 2
    r = np.where(inside, 2.5 * u[:, 0], 3.5 + 1.5 * u[:, 0])
    angle = 2 * np.pi * u[:, 1]
    xy = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    shifted = xy + s * (10 * u[:, 2:] - 5)  # the label is read off a perturbed copy
    return xy, np.where(np.hypot(shifted[:, 0], shifted[:, 1]) < 2.5, 1.0, -1.0)


def _xor(key: jax.Array, n: int, s: float) -> tuple[np.ndarray, np.ndarray]:
    """classifyXORData in tensorflow/playground src/dataset.ts."""
    u = _uniform(key, (n, 4))
    xy = 10 * u[:, :2] - 5
    xy += np.where(xy > 0, 0.3, -0.3)  # push points 0.3 away from the axes
    shifted = xy + s * (10 * u[:, 2:] - 5)
    return xy, np.where(shifted[:, 0] * shifted[:, 1] >= 0, 1.0, -1.0)


def _gauss(key: jax.Array, n: int, s: float) -> tuple[np.ndarray, np.ndarray]:
    """classifyTwoGaussData in tensorflow/playground src/dataset.ts."""
    variance = 0.5 + 7.0 * s  # noise 0 .. 0.5 maps linearly to variance 0.5 .. 4
    positive = np.arange(n) < n - n // 2
    centre = np.where(positive, 2.0, -2.0)[:, None]
    z = np.asarray(jax.random.normal(key, (n, 2)), dtype=np.float64)
    return centre + math.sqrt(variance) * z, np.where(positive, 1.0, -1.0)


def _spiral(key: jax.Array, n: int, s: float) -> tuple[np.ndarray, np.ndarray]:
    """classifySpiralData in tensorflow/playground src/dataset.ts."""
    u = _uniform(key, (n, 2))
    arms = []
    for m, phase in ((n - n // 2, 0.0), (n // 2, np.pi)):
        fraction = np.arange(m) / m
        r, angle = 5 * fraction, 1.75 * 2 * np.pi * fraction + phase
        arms.append(np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1))
    xy = np.concatenate(arms) + s * (2 * u - 1)
    return xy, np.where(np.arange(n) < n - n // 2, 1.0, -1.0)


def _plane(key: jax.Array, n: int, s: float) -> tuple[np.ndarray, np.ndarray]:
    """regressPlane in tensorflow/playground src/dataset.ts: (x + y) mapped from [-10, 10] to
    [-1, 1] without clamping, so targets reach ±1.2 in the corners."""
    u = _uniform(key, (n, 4))
    xy = 12 * u[:, :2] - 6
    shifted = xy + s * (12 * u[:, 2:] - 6)
    return xy, (shifted[:, 0] + shifted[:, 1]) / 10


_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1],
                   [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]], dtype=np.float64)


def _multigauss(key: jax.Array, n: int, s: float) -> tuple[np.ndarray, np.ndarray]:
    """regressGaussian in tensorflow/playground src/dataset.ts: each bump contributes
    sign * max(0, 1 - distance / 2); the target is the contribution largest in absolute value
    (the first one on ties, 0 far from every bump)."""
    u = _uniform(key, (n, 4))
    xy = 12 * u[:, :2] - 6
    shifted = xy + s * (12 * u[:, 2:] - 6)
    distance = np.hypot(shifted[:, None, 0] - _BUMPS[:, 0], shifted[:, None, 1] - _BUMPS[:, 1])
    value = _BUMPS[:, 2] * np.clip(1 - distance / 2, 0, 1)
    return xy, value[np.arange(n), np.argmax(np.abs(value), axis=1)]


_GENERATORS: dict[str, Callable[[jax.Array, int, float], tuple[np.ndarray, np.ndarray]]] = {
    "circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral,
    "plane": _plane, "multigauss": _multigauss,
}


def _uniform(key: jax.Array, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(jax.random.uniform(key, shape), dtype=np.float64)


def _problem(name: Any) -> str:
    if name not in PLAYGROUND_DATASETS:
        raise ValueError(f"name: expected a playground data set, one of "
                         f"{', '.join(PLAYGROUND_DATASETS)}, got {name!r}")
    return PLAYGROUND_DATASETS[name][0]


def _check_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    return float(value)
