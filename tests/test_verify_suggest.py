"""``jaxmlp verify FILE --suggest``: a wrong derivation gets the one edit that makes it right (its
line as written, as it would read, and why); a right one gets none; a mistake no single edit
undoes gets no false fix."""

import json
import textwrap
from pathlib import Path

import jax
import pytest

from jaxmlp import verify
from jaxmlp.cli import main as cli_main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DERIVATION = (EXAMPLES / "my_derivation.py").read_text()
LOGISTIC = (EXAMPLES / "my_logistic_regression.py").read_text()
TANH = 'δ1 = (δ2 @ params[1]["w"]) * (1 - h**2)'


def suggested(tmp_path, source, examples=10, dtype="float64"):
    """``(status, lines, record)`` of ``jaxmlp verify FILE --suggest --json``."""
    path = tmp_path / "student.py"
    path.write_text(textwrap.dedent(source))
    lines = []
    with jax.numpy_rank_promotion("allow"):  # as a user's JAX runs (the suite's is strict)
        status = verify.run(str(path), out=lines.append, examples=examples, json=True,
                            suggest=True, dtype=dtype)
    return status, lines[:-1], json.loads(lines[-1])


def applied(tmp_path, source, suggestion, examples=10, dtype="float64"):
    """The exit status of ``jaxmlp verify`` on ``source`` with ``suggestion`` applied."""
    lines = textwrap.dedent(source).splitlines()
    assert lines[suggestion["line"] - 1] == suggestion["old"]
    lines[suggestion["line"] - 1] = suggestion["new"]
    path = tmp_path / "fixed.py"
    path.write_text("\n".join(lines) + "\n")
    with jax.numpy_rank_promotion("allow"):
        return verify.run(str(path), out=lambda line: None, examples=examples, dtype=dtype)


@pytest.mark.parametrize("mistake, why", [
    ((TANH, TANH.replace("h**2", "h")), "tanh′ = 1 − h²"),
    (("return [δ1, δ2]", "return [δ1, -δ2]"), None),
])
def test_a_students_mistake_gets_its_fix(tmp_path, mistake, why):
    wrong = DERIVATION.replace(*mistake)
    assert wrong != DERIVATION
    status, lines, record = suggested(tmp_path, wrong)
    assert status == 1 and not record["passed"] and record["suggestions"], lines
    first = record["suggestions"][0]
    assert set(first) == {"line", "old", "new", "why"}
    assert mistake[1] in first["old"] and first["new"] != first["old"]
    assert why is None or why in first["why"]
    for suggestion in record["suggestions"]:  # never a false fix
        assert applied(tmp_path, wrong, suggestion) == 0, suggestion
    shown = "\n".join(lines)
    assert f"line {first['line']}: " in shown and "→" in shown
    assert lines[-1].startswith("FAIL"), lines  # the verdict stays last


def test_the_general_form_gets_its_fix_too(tmp_path):
    right = 'return {"w": x.T @ δ + λ * params["w"], "b": jnp.sum(δ)}'
    wrong = LOGISTIC.replace(right, right.replace("jnp.sum(δ)", "jnp.mean(δ)"))
    status, lines, record = suggested(tmp_path, wrong)
    assert status == 1 and record["suggestions"], lines
    assert any("jnp.sum(δ)" in s["new"] for s in record["suggestions"]), record["suggestions"]
    assert all(applied(tmp_path, wrong, s) == 0 for s in record["suggestions"])


def test_a_right_file_gets_no_suggestion(tmp_path):
    status, lines, record = suggested(tmp_path, DERIVATION)
    assert status == 0 and record["passed"] and record["suggestions"] == [], lines


def test_a_two_edit_mistake_gets_no_false_fix(tmp_path):
    wrong = DERIVATION.replace(TANH, TANH.replace("h**2", "h").replace("@", "* 2 *", 0))
    wrong = wrong.replace("δ2 = o - t", "δ2 = 2 * (o - t)")  # and the output δ doubled
    status, lines, record = suggested(tmp_path, wrong)
    assert status == 1 and record["counterexample"], lines
    for suggestion in record["suggestions"]:  # whatever is shown passes the same check
        assert applied(tmp_path, wrong, suggestion) == 0, suggestion
    if not record["suggestions"]:
        assert "no single edit found that makes the file pass" in lines


def test_suggest_from_the_shell_needs_a_file(capsys):
    assert cli_main(["verify", "--suggest"]) == 2
    assert "--suggest: needs a FILE" in capsys.readouterr().err


def test_suggest_from_python_needs_the_derivation_in_a_file():
    def grads(w, x, t):
        return x.T @ (x @ w - t)

    def objective(w, x, t):
        return ((x @ w - t) ** 2).sum()

    def sample(key):
        return jax.random.normal(key, (3,)), jax.numpy.ones((4, 3)), jax.numpy.ones(4)

    with pytest.raises(ValueError, match="save it to a file"):
        verify.derivation(grads, objective=objective, sample=sample, suggest=True,
                          examples=1)


def test_every_operator_says_why():
    from jaxmlp.verify.fix_operators import FIXES, WHY
    from jaxmlp.verify.mutation_operators import OPERATORS

    assert set(OPERATORS) | set(FIXES) <= set(WHY)
