"""A test problem of ``jaxmlp verify``'s search: four numbers, and the values they stand for.

A :class:`Problem` is four numbers: the ``seed`` of its values, its ``batch`` size (rows), a
``scale`` that multiplies inputs and parameters (1×, 10×, 100×: saturation, where a hand gradient
written as a product of a huge and a tiny factor turns into NaN), and its ``kind``:

* ``"random"``: the values of :func:`jaxmlp.core.random_problem.random_problem` (MLP form);
* ``"kink"`` (MLP form): all-zero inputs and biases, so that every pre-activation after an
  activation with ``f(0) = 0`` is exactly 0, on the kink of relu, leaky_relu, prelu, elu, selu,
  step;
* ``"clip"`` (MLP form): the output layer's weights zeroed and its biases set so that the outputs
  sit on the cross-entropies' clipping bounds ``ε``, ``1 − ε`` (or saturate beyond them);
* ``"sample"`` (general form): exactly what the user's ``sample(key)`` returns, nothing changed
  after it. The problem is the user's: verify passes ``rows=`` and ``scale=`` only to a
  ``sample`` whose signature names them (by naming them the user declares every such value
  legitimate); otherwise ``batch`` and ``scale`` are ``None`` and only the key varies. Integer
  and boolean leaves (labels, masks, indices) are kept as they are.

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
from jaxmlp.verify.userfile import BadFileError, Subject, located, one_line

__all__ = ["BATCHES", "DECLARABLE", "KINDS", "KINKED", "SCALES", "Problem", "cast", "draw",
           "region"]

BATCHES = (1, 2, 5)
SCALES = (1.0, 10.0, 100.0)
KINDS = ("random", "kink", "clip")
#: the parameters of ``sample`` that verify may choose, and the values it chooses from
DECLARABLE = {"rows": BATCHES, "scale": SCALES}
#: activations with a kink at u = 0
KINKED = ("step", "relu", "leaky_relu", "prelu", "elu", "selu")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One test problem: the seed of its values, its batch size, a scale and a kind.

    The module docstring says what each stands for.
    """

    seed: int = 0
    batch: int | None = 1
    scale: float | None = 1.0
    kind: str = "random"

    def __str__(self) -> str:
        if self.kind == "sample":
            return f"sample(jax.random.key({self.seed}){self._chosen(', {}={}')})"
        return f"batch {self.batch}, scale {self.scale:g}×, {self.kind}, seed {self.seed}"

    def spec(self) -> str:
        """``"batch=1,scale=100,kind=random,seed=3"``, read back by :meth:`parse`."""
        if self.kind == "sample":
            return f"kind=sample,seed={self.seed}{self._chosen(',{}={}')}"
        return f"batch={self.batch},scale={self.scale:g},kind={self.kind},seed={self.seed}"

    def chosen(self) -> dict:
        """The keywords verify passes to ``sample``: ``rows`` and ``scale`` where chosen."""
        pairs = (("rows", self.batch), ("scale", self.scale))
        return {name: value for name, value in pairs if value is not None}

    def _chosen(self, form: str) -> str:
        return "".join(form.format(k, f"{v:g}") for k, v in self.chosen().items())

    @classmethod
    def parse(cls, spec: str) -> Problem:
        """The problem that :meth:`spec` wrote."""
        fields = dict(re.findall(r"(\w+)=([\w.]+)", spec))
        batch = fields.get("batch", fields.get("rows"))
        scale = fields.get("scale")
        return cls(int(fields["seed"]), None if batch is None else int(batch),
                   None if scale is None else float(scale), fields.get("kind", "random"))


def region(subject: Subject) -> tuple[tuple, tuple, tuple]:
    """``(batches, scales, kinds)`` the search draws from for ``subject``.

    The general form's batches and scales are ``(None,)`` unless its ``sample`` declares them.
    """
    if subject.model is not None:
        return BATCHES, SCALES, KINDS
    takes = subject.sample_takes
    return (DECLARABLE["rows"] if "rows" in takes else (None,),
            DECLARABLE["scale"] if "scale" in takes else (None,), ("sample",))


def draw(subject: Subject, problem: Problem, dtype=jnp.float64):
    """``(params, x, t)`` of ``problem`` for the file, in ``dtype``."""
    if subject.model is None:
        return _sampled(subject, problem, dtype)
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


def _sampled(subject: Subject, problem: Problem, dtype):
    """``sample(key, **chosen)`` as the user wrote it, float leaves in ``dtype``."""
    call = str(problem)
    try:
        drawn = subject.sample(jax.random.key(problem.seed), **problem.chosen())
    except Exception as error:
        raise BadFileError(f"{subject.path}: {call} raised {located(error, subject)}") from None
    if not (isinstance(drawn, tuple | list) and len(drawn) == 3):
        raise BadFileError(f"{subject.path}: sample(key) must return (params, x, t); "
                           f"{call} returned {_what(drawn)}")
    arrays = []
    for name, tree in zip(("params", "x", "t"), drawn):
        leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
        for path, leaf in leaves:
            arrays.append(_array(subject, call, name + jax.tree_util.keystr(path), leaf,
                                 name == "params"))
    params, x, t = jax.tree.unflatten(jax.tree.structure(tuple(drawn)), arrays)
    return jax.tree.map(lambda a: cast(a, dtype), (params, x, t))


def _array(subject, call, name, leaf, differentiated):
    """A leaf of the drawn problem as an array; a :class:`BadFileError` naming it otherwise."""
    try:
        array = np.asarray(leaf)
    except Exception as error:
        raise BadFileError(f"{subject.path}: {call} returned {name} = {_what(leaf)}, which is "
                           f"not an array ({one_line(error, 80)})") from None
    kind = array.dtype.kind
    if kind not in "biuf":
        raise BadFileError(f"{subject.path}: {call} returned {name} of dtype {array.dtype}; "
                           "expected numbers (float, integer or boolean arrays)")
    if differentiated and kind != "f":
        raise BadFileError(f"{subject.path}: {call} returned {name} of dtype {array.dtype}; "
                           "jax.grad differentiates float leaves only: keep integer and boolean "
                           "data (labels, masks, indices) in x or t")
    return leaf


def _what(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'…' if len(text) > 60 else ''}"
