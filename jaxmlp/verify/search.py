"""The search for a counterexample: problems drawn by Hypothesis, judged against ``jax.grad``, shrunk.

A :class:`Problem` is four numbers: the ``seed`` of its values, its ``batch`` size (rows), a
``scale`` that multiplies inputs and parameters (1×, 10×, 100×: saturation, where a hand gradient
written as a product of a huge and a tiny factor turns into NaN), and its ``kind``:

* ``"random"``: the values of :func:`jaxmlp.problems.random_problem` (MLP form) or of ``sample(key)``;
* ``"kink"`` (MLP form): all-zero inputs and biases, so that every pre-activation after an
  activation with ``f(0) = 0`` is exactly 0, on the kink of relu, leaky_relu, prelu, elu, selu, step;
* ``"clip"`` (MLP form): the output layer's weights zeroed and its biases set so that the outputs
  sit on the cross-entropies' clipping bounds ``ε``, ``1 − ε`` (or saturate beyond them).

Fixed probes (batch 1; a kink; 100×; the clipping bounds) come first, then Hypothesis draws, and a
failure shrinks towards batch 1, scale 1, seed 0. Problems differ in values, not shapes (three batch
sizes), so the reference compiles at most three times per file and precision, however many are drawn.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import random
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.check import LeafError, compare, reference_grads
from jaxmlp.core.activations import get_activation
from jaxmlp.core.backprop import objective
from jaxmlp.core.losses import EPSILON
from jaxmlp.problems import random_problem
from jaxmlp.verify.userfile import BadFileError, Subject, one_line

__all__ = ["KINKED", "Outcome", "Problem", "Result", "evaluate", "search"]

BATCHES, SCALES, KINDS = (1, 2, 5), (1.0, 10.0, 100.0), ("random", "kink", "clip")
KINKED = ("step", "relu", "leaky_relu", "prelu", "elu", "selu")  #: activations with a kink at u = 0
#: the tolerance of a problem scaled 10× or 100×: saturated, where jax.grad's own float64 rounding
#: reaches ~1e-4 of a leaf (1 − tanh² and σ − t cancel); there a hand gradient must above all be finite
SATURATED_RTOL = 1e-3


@dataclasses.dataclass(frozen=True)
class Problem:
    """One test problem: the seed of its values, its batch size, a scale and a kind (module docstring)."""

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
        return cls(int(fields["seed"]), int(fields["batch"]), float(fields["scale"]), fields["kind"])


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A problem's verdict: its rows, the gradient's leaves and (with ``deltas``) each layer's δ."""

    problem: Problem
    x: object
    t: object
    grads: tuple[LeafError, ...] = ()
    deltas: tuple[LeafError, ...] = ()
    skipped: bool = False  #: jax.grad itself is not finite here

    @property
    def failed(self) -> bool:
        """Whether any leaf or δ is out of tolerance."""
        return not all(leaf.passed for leaf in self.grads + self.deltas)

    @property
    def first_wrong_delta(self) -> int | None:
        """The wrong δ nearest the output (layers below inherit its error), or ``None``."""
        wrong = [i for i, leaf in enumerate(self.deltas) if not leaf.passed]
        return wrong[-1] if wrong else None


@dataclasses.dataclass(frozen=True)
class Result:
    """What the search found: the counterexample (or ``None``), whether it is only a kink, the count."""

    counterexample: Outcome | None
    kink_only: bool
    tried: int


def search(subject: Subject, examples: int = 100, seed: int = 0, dtype=jnp.float64) -> Result:
    """Probe, then let Hypothesis draw up to ``examples`` problems; return the shrunk counterexample.

    A failure found only on kink problems is searched again without them: if nothing else fails,
    the result says ``kink_only``. Raises :class:`BadFileError` when the file's functions fail.
    """
    kinds = KINDS if subject.model is not None else ("random",)
    found, tried = _search(subject, examples, seed, dtype, kinds)
    if found is None or found.problem.kind != "kink":
        return Result(found, False, tried)
    other, more = _search(subject, examples, seed, dtype, tuple(k for k in kinds if k != "kink"))
    return Result(other or found, other is None, tried + more)


def evaluate(subject: Subject, problem: Problem, dtype=jnp.float64) -> Outcome:
    """Draw ``problem`` and judge the file's ``grads`` (and ``deltas``) against ``jax.grad`` on it.

    Below float64 a leaf may also pass by being as accurate as ``jax.grad`` against float64.
    """
    params, x, t = draw(subject, problem, dtype)
    want, want_deltas = _reference(subject, params, x, t)
    if not all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves((want, want_deltas))):
        return Outcome(problem, x, t, skipped=True)
    truth = truth_deltas = None
    if jnp.finfo(dtype).bits < 64:
        with jax.enable_x64(True):
            truth, truth_deltas = _reference(subject, *jax.tree.map(
                lambda a: _as(np.asarray(a), jnp.float64), (params, x, t)))
    got = _call(subject, "grads", params, x, t)
    rtol = SATURATED_RTOL if problem.scale > 1 else None
    grads = _judge(subject, "grads", "a pytree shaped like params", got, want, truth, rtol)
    deltas = ()
    if want_deltas is not None:
        got = _call(subject, "deltas", params, x, t)
        deltas = _judge(subject, "deltas", "a list of (B, fan_out) arrays, one per layer",
                        list(got) if isinstance(got, tuple) else got, want_deltas, truth_deltas, rtol)
    return Outcome(problem, x, t, grads, deltas)


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
        return jax.tree.map(lambda a: _as(a, dtype), (params, x, t))
    model = subject.model
    params, x, t = jax.tree.map(np.asarray, random_problem(model, subject.loss, problem.seed, problem.batch,
                                                           dtype))
    params = [{k: v * problem.scale if k != "a" else v for k, v in layer.items()} for layer in params]
    x = x * problem.scale
    if problem.kind == "kink":
        x, params = np.zeros_like(x), [{**layer, "b": np.zeros_like(layer["b"])} for layer in params]
    elif problem.kind == "clip":
        params[-1] = {**params[-1], "w": np.zeros_like(params[-1]["w"]), "b": _on_the_bounds(
            model.activations[-1], np.random.default_rng(problem.seed), params[-1]["b"].shape, dtype)}
    return jax.tree.map(lambda a: jnp.asarray(a, dtype), (params, x, t))


def _search(subject, examples, seed, dtype, kinds):
    probes = [Problem(0, 1, 1.0, "random"), Problem(0, 1, 1.0, "kink"), Problem(0, 1, 100.0, "random"),
              Problem(0, 1, 1.0, "clip"), Problem(1, 5, 1.0, "random"), Problem(2, 5, 10.0, "random")]
    probes = [p for p in probes if p.kind in kinds]
    for tried, problem in enumerate(probes, 1):
        outcome = evaluate(subject, problem, dtype)
        if outcome.failed:
            return outcome, tried
    count = [len(probes)]
    if examples < 1:
        return None, count[0]

    def fails(problem):  # an unusable file stops the search here, and raises again below
        count[0] += 1
        try:
            return evaluate(subject, problem, dtype).failed
        except BadFileError:
            return True

    try:
        import hypothesis
        from hypothesis import strategies as st
    except ImportError:  # without Hypothesis: the same draws, unshrunk
        rng = random.Random(seed)
        for _ in range(examples):
            problem = Problem(rng.randrange(2**32), rng.choice(BATCHES), rng.choice(SCALES),
                              rng.choice(kinds))
            if fails(problem):
                return evaluate(subject, problem, dtype), count[0]
        return None, count[0]
    problems = st.builds(Problem, st.integers(0, 2**32 - 1), st.sampled_from(BATCHES),
                         st.sampled_from(SCALES), st.sampled_from(kinds))
    settings = hypothesis.settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                                   suppress_health_check=list(hypothesis.HealthCheck))
    try:
        with _storage_directory():
            problem = hypothesis.find(problems, fails, settings=settings, random=random.Random(seed))
    except hypothesis.errors.NoSuchExample:
        return None, count[0]
    return evaluate(subject, problem, dtype), count[0]


@contextlib.contextmanager
def _storage_directory():
    """Hypothesis caches what it learns under ./.hypothesis unless told otherwise: during the search,
    point it at ~/.cache/jaxmlp/hypothesis (keeping a student's folder clean), then restore the
    caller's environment exactly (a process whose Hypothesis already chose a folder keeps it)."""
    name = "HYPOTHESIS_STORAGE_DIRECTORY"
    before = os.environ.get(name)
    if before is None:
        os.environ[name] = str(Path.home() / ".cache" / "jaxmlp" / "hypothesis")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)


def _reference(subject, params, x, t):
    """``jax.grad`` of the objective, and (MLP form with ``deltas``) every δ_l = ∂ℓ_n/∂u_l."""
    if subject.model is None:
        return _general_grad(subject, params, x, t), None
    m, loss = subject.model, subject.loss
    grads = reference_grads(m, loss, subject.reduction, params, x, t, subject.l2, subject.l1)
    return grads, None if subject.deltas is None else _reference_deltas(m, loss, params, x, t)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _reference_deltas(model, loss, params, x, t):
    def one(x_n, t_n):  # ∂ℓ_n/∂u_l = ∂ℓ_n/∂b_l, since u_l = w_l o_{l−1} + b_l
        g = jax.grad(objective, argnums=3)(model, loss, "sum", params, x_n[None], t_n[None])
        return [layer["b"] for layer in g]
    return jax.vmap(one)(x, t)


def _general_grad(subject, params, x, t):
    """``jax.grad(objective)``, jitted once per file (op by op when the objective cannot be traced)."""
    try:
        return _jitted_grad(subject.objective)(params, x, t)
    except Exception:
        pass
    try:
        return jax.grad(subject.objective)(params, x, t)
    except Exception as error:
        raise BadFileError(f"{subject.path}: jax.grad(objective) raised {one_line(error)}") from None


@functools.lru_cache(maxsize=4)
def _jitted_grad(objective):
    return jax.jit(jax.grad(objective))


def _call(subject, name, params, x, t):
    try:
        return getattr(subject, name)(params, x, t)
    except Exception as error:
        raise BadFileError(f"{subject.path}: {name}(params, x, t) raised {one_line(error)}") from None


def _judge(subject, name, shape, got, want, truth, rtol):
    try:
        return compare(got, want, rtol, truth=truth)
    except (TypeError, ValueError) as error:
        text = one_line(error, 300).replace("ValueError: got: ", "")
        raise BadFileError(f"{subject.path}: {name} returned a result that does not match: {text} "
                           f"(expected {shape})") from None


def _on_the_bounds(name, rng, shape, dtype):
    """Biases whose outputs ``f(b)`` are exactly ``ε`` or ``1 − ε`` where ``f(u) = u`` there, else ±40."""
    act = get_activation(name)
    bounds = np.array([EPSILON, 1 - EPSILON], dtype)
    with jax.disable_jit():
        f = act.f(jnp.asarray(bounds), *([jnp.full(2, 0.25, dtype)] if act.parametric else []))
    if np.array_equal(np.asarray(f), bounds):
        return rng.choice(bounds, shape)
    return rng.choice(np.array([-40.0, 40.0]), shape)


def _scaled(a, scale):
    return a * scale if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a


def _as(a, dtype):
    return jnp.asarray(a, dtype) if jnp.issubdtype(jnp.result_type(a), jnp.floating) else jnp.asarray(a)
