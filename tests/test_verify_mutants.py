"""Mutation testing of ``jaxmlp verify`` (:mod:`jaxmlp.verify.mutants`): every wrong derivation of
the shipped right examples is caught, and the test itself can fail."""

import functools
from pathlib import Path

import pytest

from jaxmlp import tolerance
from jaxmlp.verify.derivation import check
from jaxmlp.verify.mutants import main, run
from jaxmlp.verify.mutation_operators import OPERATORS, mutants
from jaxmlp.verify.userfile import read

EXAMPLES = Path(__file__).parents[1] / "examples"
MLP_FORM = EXAMPLES / "my_derivation.py"  # tanh → sigmoid, binary cross-entropy, with deltas
GENERAL_FORM = EXAMPLES / "my_logistic_regression.py"  # objective, grads, sample
#: problems drawn per mutant after the fixed probes: most mutants die on the first probe
EFFORT = 20
#: problems per precision a survivor must match bit for bit (run()'s default is 50)
PROBLEMS = 20


@functools.cache
def report(file: Path, dtype: str):
    return run(str(file), examples=EFFORT, dtype=dtype, problems=PROBLEMS)


@pytest.mark.parametrize(
    "file, dtype",
    [(MLP_FORM, "float64"), (MLP_FORM, "float32"), (GENERAL_FORM, "float64"),
     (GENERAL_FORM, "float32")],
)
def test_every_non_equivalent_mutant_is_caught(file, dtype):
    found = report(file, dtype)
    assert not found.gaps, str(found)
    assert found.kill_rate == 1.0
    # most mistakes get a verdict; a wrong input to @ mostly breaks the shapes (an error)
    outcomes = [row.outcome for row in found.rows if row.mutant.operator != "input"]
    assert outcomes.count("killed") > outcomes.count("error"), str(found)


@pytest.mark.parametrize("file, least", [(MLP_FORM, 50), (GENERAL_FORM, 20)])
def test_every_mistake_is_tried(file, least):
    found = mutants(file.read_text(encoding="utf-8"))
    assert len(found) >= least
    used = {m.operator for m in found}
    # no comparison or scatter in either file
    assert used >= set(OPERATORS) - {"kink", "axis", "layer", "scatter"}
    if file == MLP_FORM:
        assert {"axis", "layer"} <= used
    assert {m.function for m in found} <= {"forward", "deltas", "grads"}
    assert len({m.source for m in found}) == len(found)  # one mutation per mutant


def test_a_mutant_in_deltas_names_its_layer():
    lines = MLP_FORM.read_text(encoding="utf-8").splitlines()
    layer_of = {i: 1 if line.lstrip().startswith("δ2 =") else 0
                for i, line in enumerate(lines, 1) if line.lstrip().startswith(("δ1 =", "δ2 ="))}
    killed = [row for row in report(MLP_FORM, "float64").rows
              if row.outcome == "killed" and row.mutant.function == "deltas"]
    assert len(killed) >= 10
    assert all(row.first_wrong_delta == layer_of[row.mutant.line] for row in killed), [
        (row.mutant.text, row.first_wrong_delta) for row in killed]


@pytest.mark.parametrize("file", [MLP_FORM, GENERAL_FORM])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_original_passes(file, dtype):
    assert check(read(str(file)), examples=EFFORT, dtype=dtype).passed


def test_a_wrong_original_is_refused(tmp_path):
    wrong = tmp_path / "wrong.py"
    killed = next(row for row in report(GENERAL_FORM, "float64").rows if row.outcome == "killed")
    wrong.write_text(killed.mutant.source, encoding="utf-8")
    with pytest.raises(ValueError, match="does not pass"):
        run(str(wrong), examples=2)
    out = []
    assert main([str(wrong), "--examples", "2"], out=out.append) == 2
    assert "does not pass" in out[-1]


def test_each_operator_makes_the_students_mistake():
    source = '''
import jax.numpy as jnp
model = 3

def objective(params, x, t):
    return jnp.sum(x - t)

def grads(params, x, t):
    B = x.shape[0]
    o = params[1]
    s = jnp.where(x > 0, 1.0, 0.0) * o * (1 - o)
    h = jnp.sum(s**2, axis=0) / B
    return h + 0.5 * params[0]

if __name__ == "__main__":
    print(model - 1)
'''
    texts = {(m.operator, m.text) for m in mutants(source)}
    for expected in [
        ("sign", "s = jnp.where(x > 0, 1.0, 0.0) * o * (o - 1)"),
        ("sign", "return h - 0.5 * params[0]"),
        ("term", "return h"),
        ("derivative", "s = jnp.where(x > 0, 1.0, 0.0) * o"),
        ("derivative", "h = jnp.sum(s, axis=0) / B"),
        ("1/B", "h = jnp.sum(s ** 2, axis=0)"),
        ("1/B", "h = jnp.sum(s ** 2, axis=0) / B / B"),
        ("sum/mean", "h = jnp.mean(s**2, axis=0) / B"),
        ("axis", "h = jnp.sum(s ** 2, axis=1) / B"),
        ("axis", "h = jnp.sum(s ** 2) / B"),
        ("layer", "o = params[0]"),
        ("layer", "B = x.shape[1]"),
        ("kink", "s = jnp.where(x >= 0, 1.0, 0.0) * o * (1 - o)"),
        ("constant", "return h + 1.0 * params[0]"),
        ("constant", "s = jnp.where(x > 0, 1.0, 1.0) * o * (1 - o)"),
    ]:
        assert expected in texts, sorted(texts)
    # the objective, the settings and the __main__ block are never touched
    assert {m.function for m in mutants(source)} == {"grads"}


def test_a_weakened_judge_lets_mutants_survive(monkeypatch):
    """With tolerances a million times the gradient's size, every rescue rule is moot (the first
    rule passes every finite leaf): the wrong derivations survive as gaps, and the assertion of
    ``test_every_non_equivalent_mutant_is_caught`` would fail."""
    for bits, base in list(tolerance.TOLERANCES.items()):
        monkeypatch.setitem(tolerance.TOLERANCES, bits, tolerance.Tolerance(1e6, 1e6, base.floor))
    for file, operators in ((GENERAL_FORM, {"sign", "sum/mean"}), (MLP_FORM, {"1/B"})):
        weak = run(str(file), examples=2, operators=operators, problems=2)
        assert weak.gaps and weak.kill_rate < 1.0, str(weak)
        assert "gap" in str(weak)
    out = []
    assert main([str(GENERAL_FORM), "--examples", "2", "--operators", "sum/mean"],
                out=out.append) == 1
    assert "killed 0" in out[-1] and "gap 1" in out[-1]
