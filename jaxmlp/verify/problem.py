"""A test problem of ``jaxmlp verify``'s search: four numbers, and the values they stand for.

A :class:`Problem` is four numbers: the ``seed`` of its values, its ``batch`` size (rows), a
``scale`` that multiplies inputs and parameters (1×, 10×, 100×: saturation, where a hand gradient
written as a product of a huge and a tiny factor turns into NaN), and its ``kind``:

* ``"random"``: the values of :func:`jaxmlp.core.random_problem.random_problem` (MLP form) or of
  ``sample(key)``;
* ``"kink"`` (MLP form): all-zero inputs and biases, so that every pre-activation after an
  activation with ``f(0) = 0`` is exactly 0, on the kink of relu, leaky_relu, prelu, elu, selu,
  step;
* ``"clip"`` (MLP form): the output layer's weights zeroed and its biases set so that the outputs
  sit on the cross-entropies' clipping bounds ``ε``, ``1 − ε`` (or saturate beyond them).

:func:`draw` makes its ``(params, x, t)``. Problems differ in values, not shapes (three batch
sizes), so the reference compiles at most three times per file and precision.
"""

from __future__ import annotations

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.core.activations import get_activation
from jaxmlp.core.losses import EPSILON
from jaxmlp.core.random_problem import random_problem
from jaxmlp.verify.userfile import BadFileError, Subject, one_line

__all__ = ["BATCHES", "KINDS", "KINKED", "SCALES", "Problem", "cast", "draw"]

BATCHES = (1, 2, 5)
SCALES = (1.0, 10.0, 100.0)
KINDS = ("random", "kink", "clip")
#: activations with a kink at u = 0
KINKED = ("step", "relu", "leaky_relu", "prelu", "elu", "selu")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One test problem: the seed of its values, its batch size, a scale and a kind.

    The module docstring says what each stands for.
    """

    seed: int = 0
    batch: int = 1
    scale: float = 1.0
    kind: str = "random"

    def __str__(self) -> str:
        return f"batch {self.batch}, scale {self.scale:g}×, {self.kind}, seed {self.seed}"

    def spec(self) -> str:
        """``"batch=1,scale=100,kind=random,seed=3"``, read back by :meth:`parse`."""
        return f"batch={self.batch},scale={self.scale:g},kind={self.kind},seed={self.seed}"

    @classmethod
    def parse(cls, spec: str) -> Problem:
        """The problem that :meth:`spec` wrote."""
        fields = dict(re.findall(r"(\w+)=([\w.]+)", spec))
        seed = int(fields["seed"])
        batch = int(fields["batch"])
        scale = float(fields["scale"])
        return cls(seed, batch, scale, fields["kind"])


def draw(subject: Subject, problem: Problem, dtype=jnp.float64):
    """``(params, x, t)`` of ``problem`` for the file, in ``dtype``."""
    if subject.model is None:
        try:
            params, x, t = subject.sample(jax.random.key(problem.seed))
        except Exception as error:
            raise BadFileError(f"{subject.path}: sample(key) raised {one_line(error)}") from None
        if np.ndim(x) and np.ndim(t) and np.shape(x)[0] == np.shape(t)[0]:
            x, t = x[:problem.batch], t[:problem.batch]
        params, x = jax.tree.map(lambda a: _scaled(a, problem.scale), (params, x))
        return jax.tree.map(lambda a: cast(a, dtype), (params, x, t))
    model = subject.model
    drawn = random_problem(model, subject.loss, problem.seed, problem.batch, dtype)
    params, x, t = jax.tree.map(np.asarray, drawn)
    params = [{k: v * problem.scale if k != "a" else v for k, v in layer.items()}
              for layer in params]
    x = x * problem.scale
    if problem.kind == "kink":
        x = np.zeros_like(x)
        params = [{**layer, "b": np.zeros_like(layer["b"])} for layer in params]
    elif problem.kind == "clip":
        rng = np.random.default_rng(problem.seed)
        last = params[-1]
        b = _on_the_bounds(model.activations[-1], rng, last["b"].shape, dtype)
        params[-1] = {**last, "w": np.zeros_like(last["w"]), "b": b}
    return jax.tree.map(lambda a: jnp.asarray(a, dtype), (params, x, t))


def cast(a, dtype):
    """A float array in ``dtype``; any other array (integer labels) as it is."""
    if jnp.issubdtype(jnp.result_type(a), jnp.floating):
        return jnp.asarray(a, dtype)
    return jnp.asarray(a)


def _on_the_bounds(name, rng, shape, dtype):
    """Biases whose outputs ``f(b)`` are exactly ``ε`` or ``1 − ε``.

    That is where ``f(u) = u`` there; elsewhere ±40.
    """
    act = get_activation(name)
    bounds = np.array([EPSILON, 1 - EPSILON], dtype)
    with jax.disable_jit():
        f = act.f(jnp.asarray(bounds), *([jnp.full(2, 0.25, dtype)] if act.parametric else []))
    if np.array_equal(np.asarray(f), bounds):
        return rng.choice(bounds, shape)
    return rng.choice(np.array([-40.0, 40.0]), shape)


def _scaled(a, scale):
    return a * scale if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a
