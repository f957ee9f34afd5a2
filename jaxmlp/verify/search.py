"""The search for a counterexample: problems drawn by Hypothesis, judged against jax.grad, shrunk.

Fixed probes (batch 1; a kink; 100×; the clipping bounds) come first, then Hypothesis draws
problems (:mod:`jaxmlp.verify.problem`), and a failure shrinks towards batch 1, scale 1, seed 0.
In the general form the problems are the user's ``sample``'s, with only the parameters it declares
(``rows``, ``scale``) chosen. :func:`evaluate` judges one problem: the file's ``grads`` (and
``deltas``) against ``jax.grad``, with the evidence of rounding gathered only for a leaf that
needs it: the δ rule's rounding bound (MLP form) or both sides' measured rounding noise (general
form, :mod:`jaxmlp.core.random_rounding`), and the same problem in the other precision.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import os
import random
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.check import (
    float_bits,
    in_other_precision,
    rounding_bound_of,
)
from jaxmlp.core.random_rounding import rounding_spread
from jaxmlp.tolerance import TOLERANCE, LeafError, compare
from jaxmlp.verify.problem import Problem, draw, region
from jaxmlp.verify.reference import jitted_grad, reference
from jaxmlp.verify.userfile import BadFileError, Subject, located, one_line

__all__ = ["NOISE_MARGIN", "Outcome", "Result", "agrees", "evaluate", "search"]

#: a difference of at most this many times the sum of both sides' measured rounding spreads is
#: rounding (measured: a right tanh step, 1 − h² against jax.grad's (1 − h)(1 + h), differs by at
#: most 0.22 times the sum at 600 problems up to 100× in both precisions)
NOISE_MARGIN = 4


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
    """What the search found: the counterexample (or ``None``), whether only a kink, the count."""

    counterexample: Outcome | None
    kink_only: bool
    tried: int
    #: the problems that passed only because rounding explained a difference, by the rule that
    #: explained it (a problem counts once per rule), as ``((rule, problems), ...)``
    explained: tuple[tuple[str, int], ...] = ()


def search(subject: Subject, examples: int = 100, seed: int = 0, dtype=jnp.float64) -> Result:
    """Probe, then let Hypothesis draw up to ``examples`` problems; return the shrunk failure.

    A failure found only on kink problems is searched again without them: if nothing else fails,
    the result says ``kink_only``. Raises :class:`BadFileError` when the file's functions fail.
    """
    kinds = region(subject)[2]
    tally = collections.Counter()
    found, tried = _search(subject, examples, seed, dtype, kinds, tally)
    if found is None or found.problem.kind != "kink":
        return Result(found, False, tried, tuple(tally.items()))
    other, more = _search(subject, examples, seed, dtype, tuple(k for k in kinds if k != "kink"),
                          tally)
    return Result(other or found, other is None, tried + more, tuple(tally.items()))


def evaluate(subject: Subject, problem: Problem, dtype=jnp.float64) -> Outcome:
    """Draw ``problem`` and judge the file's ``grads`` (and ``deltas``) against ``jax.grad`` on it.

    A leaf out of tolerance is judged again with the evidence of rounding
    (:func:`jaxmlp.tolerance.compare`): the bound of a right δ rule at this point (MLP form), the
    same problem in the other precision (float32 for float64, float64 for float32), and (in
    float32) ``jax.grad`` in float64.
    """
    params, x, t = draw(subject, problem, dtype)
    want = reference(subject, params, x, t)
    if not all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(want)):
        return Outcome(problem, x, t, skipped=True)
    got = (_call(subject, "grads", params, x, t),
           None if want[1] is None else _listed(_call(subject, "deltas", params, x, t)))
    judged = _judge(subject, got, want)
    if all(leaf.passed for leaf in judged[0] + judged[1]):
        return Outcome(problem, x, t, *judged)
    other = _other_precision(subject, params, x, t)
    bounds = _bounds(subject, params, x, t)
    judged = _judge(subject, got, want, other, bounds)
    if subject.model is not None or all(leaf.passed for leaf in judged[0] + judged[1]):
        return Outcome(problem, x, t, *judged)
    # the general form's rounding is measured, and only where nothing cheaper explained it
    noise = _noise(subject, params, x, t)
    there = in_other_precision(functools.partial(_noise, subject), params, x, t)
    other = other if other is None else (*other[:2], there or (None, None))
    return Outcome(problem, x, t, *_judge(subject, got, want, other, noise))


def agrees(subject: Subject, problem: Problem, rtol: float = 1e-6) -> bool:
    """Whether ``grads`` (and ``deltas``) equal ``jax.grad`` on ``problem`` in float64 within
    ``rtol``, with no evidence of rounding gathered: a cheap filter (``--suggest``'s first probe),
    never a verdict. ``False`` when the file cannot be used there."""
    try:
        with jax.enable_x64(True):
            params, x, t = draw(subject, problem, jnp.float64)
            want = reference(subject, params, x, t)
            got = (_call(subject, "grads", params, x, t),
                   None if want[1] is None else _listed(_call(subject, "deltas", params, x, t)))
            leaves = [leaf for i in (0, 1) if want[i] is not None
                      for leaf in compare(got[i], want[i], rtol)]
    except (BadFileError, TypeError, ValueError):
        return False
    return all(leaf.passed for leaf in leaves)


def _judge(subject, got, want, other=None, bounds=(None, None)):
    """``(grads, deltas)`` judged, each a tuple of :class:`LeafError` (``()`` without deltas)."""
    parts = (("grads", "a pytree shaped like params"),
             ("deltas", "a list of (B, fan_out) arrays, one per layer"))
    judged = []
    for i, (name, shape) in enumerate(parts):
        if want[i] is None:
            judged.append(())
            continue
        pair = None if other is None else (other[0][i], other[1][i], other[2][i])
        wider = pair is not None and float_bits(pair[1]) > float_bits(want[i])
        truth = pair[1] if wider else None
        evidence = {"bound" if subject.model is not None else "noise": bounds[i]}
        try:
            judged.append(compare(got[i], want[i], truth=truth, other=pair, **evidence))
        except (TypeError, ValueError) as error:
            text = one_line(error, 300).replace("ValueError: got: ", "")
            raise BadFileError(f"{subject.path}: {name} returned a result that does not match: "
                               f"{text} (expected {shape})") from None
    return tuple(judged)


def _other_precision(subject, params, x, t):
    """``((grads, deltas), (jax.grad, its δ), (their rounding bounds))`` of the same problem in
    the other precision.

    ``None`` when the file's functions fail there: no evidence.
    """
    def both(params, x, t):
        want = reference(subject, params, x, t)
        deltas = None if want[1] is None else _listed(subject.deltas(params, x, t))
        return (subject.grads(params, x, t), deltas), want, _bounds(subject, params, x, t)

    return in_other_precision(both, params, x, t)


def _bounds(subject, params, x, t):
    """The rounding bound of a right δ rule on this problem: ``(grads, deltas)`` (MLP form).

    ``(None, None)`` in the general form: its rounding is measured (:func:`_noise`).
    """
    if subject.model is None:
        return None, None
    grads, deltas = rounding_bound_of(subject.model, subject.loss, subject.reduction, params, x, t,
                                      subject.l2, subject.l1)
    return grads, deltas if subject.deltas is not None else None


def _noise(subject, params, x, t):
    """``(grads, None)``: the rounding both sides were measured to have on this problem (general
    form), times :data:`NOISE_MARGIN`; ``None`` for a side that cannot be traced."""
    try:
        hand = rounding_spread(subject.grads, params, x, t)
        reference = rounding_spread(jitted_grad(subject.objective), params, x, t)
        noise = jax.tree.map(lambda a, b: NOISE_MARGIN * (a + b), hand, reference)
    except Exception:  # not traceable, or not shaped like params: no evidence
        noise = None
    return noise, None


def _listed(value):
    return list(value) if isinstance(value, tuple) else value


def _search(subject, examples, seed, dtype, kinds, tally):
    batches, scales, _ = region(subject)
    probes = [
        Problem(0, 1, 1.0, "random"),
        Problem(0, 1, 1.0, "kink"),
        Problem(0, 1, 100.0, "random"),
        Problem(0, 1, 1.0, "clip"),
        Problem(1, 5, 1.0, "random"),
        Problem(2, 5, 10.0, "random"),
    ]
    if subject.model is None:  # the same corners, where sample declares them
        probes = [Problem(p.seed, p.batch if batches[0] else None,
                          p.scale if scales[0] else None, "sample") for p in probes]
    probes = list(dict.fromkeys(p for p in probes if p.kind in kinds))
    for tried, problem in enumerate(probes, 1):
        outcome = _tallied(evaluate(subject, problem, dtype), tally)
        if outcome.failed:
            return outcome, tried
    count = [len(probes)]
    if examples < 1:
        return None, count[0]

    def fails(problem):  # an unusable file stops the search here, and raises again below
        count[0] += 1
        try:
            return _tallied(evaluate(subject, problem, dtype), tally).failed
        except BadFileError:
            return True

    try:
        import hypothesis
        from hypothesis import strategies as st
    except ImportError:  # without Hypothesis: the same draws, unshrunk
        rng = random.Random(seed)
        for _ in range(examples):
            problem = Problem(rng.randrange(2**32), rng.choice(batches), rng.choice(scales),
                              rng.choice(kinds))
            if fails(problem):
                return evaluate(subject, problem, dtype), count[0]
        return None, count[0]
    problems = st.builds(Problem, st.integers(0, 2**32 - 1), st.sampled_from(batches),
                         st.sampled_from(scales), st.sampled_from(kinds))
    settings = hypothesis.settings(max_examples=examples, database=None, deadline=None,
                                   derandomize=False,
                                   suppress_health_check=list(hypothesis.HealthCheck))
    try:
        with _storage_directory():
            problem = hypothesis.find(problems, fails, settings=settings,
                                      random=random.Random(seed))
    except hypothesis.errors.NoSuchExample:
        return None, count[0]
    return evaluate(subject, problem, dtype), count[0]


def _tallied(outcome: Outcome, tally: collections.Counter) -> Outcome:
    """``outcome``, its rounding rules counted in ``tally`` when it passed."""
    if not outcome.failed:
        tally.update({leaf.rule for leaf in outcome.grads + outcome.deltas} - {TOLERANCE})
    return outcome


@contextlib.contextmanager
def _storage_directory():
    """Point Hypothesis's storage at ~/.cache/jaxmlp/hypothesis during the search.

    Hypothesis caches what it learns under ./.hypothesis unless told otherwise; elsewhere keeps a
    student's folder clean. Afterwards the caller's environment is restored exactly (a process
    whose Hypothesis already chose a folder keeps it).
    """
    name = "HYPOTHESIS_STORAGE_DIRECTORY"
    before = os.environ.get(name)
    if before is None:
        os.environ[name] = str(Path.home() / ".cache" / "jaxmlp" / "hypothesis")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)


def _call(subject, name, params, x, t):
    try:
        return getattr(subject, name)(params, x, t)
    except Exception as error:
        message = f"{subject.path}: {name}(params, x, t) raised {located(error, subject)}"
        raise BadFileError(message) from None
