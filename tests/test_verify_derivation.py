"""``jaxmlp.verify.derivation``: the search of ``jaxmlp verify FILE`` on functions, from Python.

It gives the same verdict as the file path on the shipped examples and on a wrong derivation (the
file path is a thin reader over it), its report holds what the printed form says, unusable
functions raise one clear ``ValueError``, and a search leaves ``os.environ`` as it found it.
"""

import os
import runpy
from pathlib import Path

import pytest

from jaxmlp import verify

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = ("grads", "model", "loss", "reduction", "l2", "l1", "deltas", "objective", "sample")

#: examples/my_derivation.py with tanh′ forgotten in the hidden δ: δ of layer 0 is wrong
WRONG = ('δ1 = (δ2 @ params[1]["w"]) * (1 - h**2)', 'δ1 = (δ2 @ params[1]["w"])')


def functions(path: Path) -> dict:
    """The names ``jaxmlp verify`` reads from a file, as keyword arguments of ``derivation``."""
    module = runpy.run_path(str(path))
    return {name: module[name] for name in NAMES if name in module}


def both(path: Path, capsys, examples: int = 5):
    """``(exit status and printed lines of run(FILE), the Report of derivation(...))``."""
    capsys.readouterr()
    status = verify.run(str(path), examples=examples)
    printed = capsys.readouterr().out.splitlines()
    found = functions(path)
    report = verify.derivation(found.pop("grads"), examples=examples, **found)
    return status, printed, report


def _without_reproduce(lines):
    return [line for line in "\n".join(lines).splitlines() if not line.startswith("reproduce:")]


@pytest.mark.parametrize("name", ["my_derivation.py", "my_logistic_regression.py"])
def test_the_shipped_examples_pass_both_ways(name, capsys):
    status, printed, report = both(EXAMPLES / name, capsys)
    assert status == 0 and report.passed and report.counterexample is None
    assert report.wrong == [] and report.first_wrong_delta is None
    assert printed[-1] == report.lines()[-1] and printed[-1].startswith("PASS")


def test_a_wrong_derivation_gets_the_same_verdict_both_ways(tmp_path, capsys):
    text = (EXAMPLES / "my_derivation.py").read_text()
    assert WRONG[0] in text
    path = tmp_path / "wrong.py"
    path.write_text(text.replace(*WRONG))
    status, printed, report = both(path, capsys)
    assert status == 1 and not report.passed
    assert report.first_wrong_delta == 0
    assert {w["leaf"] for w in report.wrong} >= {"deltas[0]", "grads[0]['w']", "grads[0]['b']"}
    assert all(w["problem"] == report.counterexample.problem.spec() for w in report.wrong)
    # the file's printed lines are the report's, after the file's three header lines
    assert _without_reproduce(printed[3:]) == _without_reproduce(report.lines())
    shown = str(report)
    assert "δ of layer 0 (params[0]) is wrong" in shown
    assert shown.splitlines()[-1].startswith("FAIL")
    assert "report.problem()" in shown  # functions have no file to replay: the report says how
    params, x, _ = report.problem()
    assert x.shape[0] == report.counterexample.problem.batch and len(params) == 2


def test_the_general_form_names_the_wrong_leaf():
    import jax
    import jax.numpy as jnp

    def objective(w, x, t):
        return jnp.sum((x @ w - t) ** 2)

    def sample(key):
        k1, k2, k3 = jax.random.split(key, 3)
        normal = jax.random.normal
        return normal(k1, (3,)), normal(k2, (4, 3)), normal(k3, (4,))

    right = verify.derivation(
        lambda w, x, t: 2 * x.T @ (x @ w - t), objective=objective, sample=sample, examples=5
    )
    wrong = verify.derivation(
        lambda w, x, t: x.T @ (x @ w - t), objective=objective, sample=sample, examples=5
    )
    assert right.passed and str(right).splitlines()[-1].startswith("PASS")
    assert not wrong.passed and [w["leaf"] for w in wrong.wrong] == ["grads"]
    assert '"passed": false' in wrong.json()


@pytest.mark.parametrize(
    "arguments, words",
    [
        ({"model": None, "loss": "sse"}, "`model`: expected a jaxmlp.MLP, got NoneType"),
        ({"loss": "hinge"}, "`loss`: expected one of"),
        ({"objective": lambda p, x, t: 0.0}, "missing `sample`"),
        ({"deltas": 3}, "`deltas`: expected a function"),
        ({"dtype": "float16"}, "dtype: expected one of ('float64', 'float32'), got 'float16'"),
    ],
)
def test_unusable_functions_raise_one_clear_value_error(arguments, words):
    import jaxmlp

    settings = {"model": jaxmlp.MLP((2, 3, 1), ("tanh", "sigmoid")), "loss": "sse", **arguments}
    with pytest.raises(ValueError) as caught:
        verify.derivation(lambda p, x, t: p, examples=1, **settings)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_grads_that_raise_is_a_value_error_naming_it():
    import jaxmlp

    def grads(params, x, t):
        raise ZeroDivisionError("by hand")

    with pytest.raises(ValueError, match=r"<derivation>: grads\(params, x, t\) raised ZeroDiv"):
        verify.derivation(grads, model=jaxmlp.MLP((2, 3, 1), ("tanh", "sigmoid")), loss="sse")


@pytest.mark.parametrize("before", [None, "/somewhere/of/the/caller"])
def test_a_search_leaves_the_environment_as_it_found_it(before, monkeypatch, capsys):
    name = "HYPOTHESIS_STORAGE_DIRECTORY"
    if before is None:
        monkeypatch.delenv(name, raising=False)
    else:
        monkeypatch.setenv(name, before)
    environment = dict(os.environ)
    assert verify.run(str(EXAMPLES / "my_derivation.py"), examples=3) == 0
    assert os.environ.get(name) == before and dict(os.environ) == environment


@pytest.mark.parametrize(("value", "kind"), [(-3, ValueError), (2.5, TypeError), (True, TypeError)])
def test_the_effort_is_checked_before_any_search(value, kind):
    found = functions(EXAMPLES / "my_logistic_regression.py")
    with pytest.raises(kind, match=r"examples: expected an integer >= 0"):
        verify.derivation(found.pop("grads"), examples=value, **found)
