"""No false alarms: right derivations pass verify's search wherever it looks, at more effort too.

A right derivation written the way a student writes it (:mod:`jaxmlp.verify.lecture`: ``o − t``
at a saturated sigmoid, ``1 − h²`` at a saturated tanh, ``o + 1`` for elu′) carries rounding that
``jax.grad`` does not; the judge must explain it, never call it wrong. Random networks of depth
1-4 and every written pair, float32 and float64, the search's whole region (100× scale,
saturation, u = 0 at the kinks, the clipping bounds). The shipped example at 10 times the
default effort. ``jaxmlp bench verdicts`` runs the same at every effort up to 2,000
problems.
"""

import math
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxmlp
from jaxmlp import verify
from jaxmlp.core.random_problem import random_problem
from jaxmlp.core.rounding import rounding_bound
from jaxmlp.verify.lecture import DERIVATIVES, OUTPUT_ERRORS, lecture_derivation

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: problems per search in the property (the default effort is 100; the bench runs up to 2,000)
EFFORT = 20


@st.composite
def networks(draw):
    """A network of depth 1-4 written in the lectures' forms, its loss and settings."""
    depth = draw(st.integers(1, 4))
    hidden = draw(st.lists(st.sampled_from(sorted(DERIVATIVES)), min_size=depth - 1,
                           max_size=depth - 1))
    out, loss = draw(st.sampled_from(sorted(OUTPUT_ERRORS)))
    n_out = 3 if out == "softmax" else draw(st.sampled_from([1, 2]))
    sizes = (2, *(draw(st.sampled_from([1, 3, 8])) for _ in hidden), n_out)
    reduction = draw(st.sampled_from(["mean", "sum"]))
    l2, l1 = draw(st.sampled_from([(0.0, 0.0), (0.1, 0.0), (0.0, 0.01)]))
    return jaxmlp.MLP(sizes, (*hidden, out)), loss, reduction, l2, l1


# verify's own search is a Hypothesis search, nested in this one: that is the point here
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.nested_given])
@given(networks(), st.sampled_from(["float32", "float64"]), st.integers(0, 2**16))
def test_lecture_forms_are_never_called_wrong(network, dtype, seed):
    model, loss, reduction, l2, l1 = network
    grads, deltas = lecture_derivation(model, loss, reduction, l2, l1)
    report = verify.derivation(grads, model=model, loss=loss, reduction=reduction, l2=l2, l1=l1,
                               deltas=deltas, examples=EFFORT, seed=seed, dtype=dtype)
    assert report.passed, str(report)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_jax_grad_itself_passes(dtype):
    model = jaxmlp.MLP((2, 8, 8, 3), ("tanh", "relu", "softmax"))

    def grads(params, x, t):
        return jax.grad(lambda p: jaxmlp.loss(model, p, x, t))(params)

    report = verify.derivation(grads, model=model, loss="categorical_crossentropy",
                               examples=EFFORT, seed=7, dtype=dtype)
    assert report.passed, str(report)


# 10x the default effort (100 problems), beyond the issue's --examples 600 --seed 1 (whose shrunk
# counterexample is replayed below). The issue's other command, --dtype float32 --examples 300,
# and the general form at 1,000 problems are docs/verify.md's commands, run as written by
# tests/test_docs_verdicts.py: running them here too proved nothing more.
@pytest.mark.parametrize(("name", "dtype", "seed", "effort"), [
    ("my_derivation.py", "float64", 1, 1000),
])
def test_the_shipped_examples_pass_at_more_effort(name, dtype, seed, effort, capsys):
    status = verify.run(str(EXAMPLES / name), examples=effort, seed=seed, dtype=dtype)
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.splitlines()[-1].startswith("PASS")


def test_the_issue_counterexample_is_rounding_and_judged_so(tmp_path):
    """The shrunk problem of the issue: batch 1, 100×, o within an ulp of t = 1 (float64)."""
    path = EXAMPLES / "my_derivation.py"
    spec = "batch=1,scale=100,kind=random,seed=2449"
    subject = verify.userfile.read(str(path))
    with jax.enable_x64(True):
        outcome = verify.search.evaluate(subject, verify.problem.Problem.parse(spec), np.float64)
    rules = {leaf.rule for leaf in outcome.grads + outcome.deltas}
    assert not outcome.failed and rules - {"tolerance"}, rules
    assert verify.replay(str(path), spec, dtype="float64", out=lambda line: None) == 0


def test_the_rounding_bound_covers_o_minus_t_at_saturation():
    """The bound's claim by hand: σ(40) rounds to 1 in float64, so o − t = 0 where the truth is
    −e⁻⁴⁰ ≈ −4e-18; the bound on δ must cover it, and must be far below a real error."""
    model = jaxmlp.MLP((1, 1), ("sigmoid",))
    with jax.enable_x64(True):
        params = [{"w": np.ones((1, 1)), "b": np.zeros(1)}]
        x, t = np.array([[40.0]]), np.array([[1.0]])
        _, (bound,) = rounding_bound(model, "binary_crossentropy", "sum", params, x, t)
    assert math.exp(-40) <= float(bound[0, 0]) <= 1e-13


def test_a_mathematical_error_is_not_explained_even_at_saturation():
    """The same saturated point, δ off by 1 %: the error survives float32 → float64 and exceeds
    the bound wherever the output is not already all rounding."""
    model = jaxmlp.MLP((2, 8, 1), ("tanh", "sigmoid"))
    grads, _ = lecture_derivation(model, "binary_crossentropy")

    def off(params, x, t):
        return [{k: 1.01 * v for k, v in layer.items()} for layer in grads(params, x, t)]

    params, x, t = random_problem(model, "binary_crossentropy", 3, 5)
    report = jaxmlp.check_gradients(off, model, params, x, t, "binary_crossentropy")
    assert not report.passed and {leaf.rule for leaf in report.failures} == {"not rounding"}
    assert "NO" in str(report)
