"""``jaxmlp.verify.run``: the library and the lectures pass; a user's file passes, fails naming the
layer, or is refused with one clear line (exit status 2), never a traceback."""

import runpy
import sys
import textwrap
from pathlib import Path

import pytest

from jaxmlp import verify
from jaxmlp.verify import Check, check_close, check_number, table

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

HEADER = """
import jax.numpy as jnp
import jaxmlp

model = jaxmlp.MLP((3, 4, 2), ("tanh", "sigmoid"))
loss = "sse"
reduction = "sum"
"""

CORRECT = HEADER + """
def grads(params, x, t):
    (w1, b1), (w2, b2) = ((layer["w"], layer["b"]) for layer in params)
    h = jnp.tanh(x @ w1.T + b1[None, :])
    o = 1 / (1 + jnp.exp(-(h @ w2.T + b2[None, :])))
    d2 = (o - t) * o * (1 - o)
    d1 = (d2 @ w2) * (1 - h**2)
    return [{"w": d1.T @ x, "b": d1.sum(0)}, {"w": d2.T @ h, "b": d2.sum(0)}]
"""

MISSING_F_PRIME = CORRECT.replace("d1 = (d2 @ w2) * (1 - h**2)", "d1 = d2 @ w2")


def verify_file(tmp_path, source, name="user.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    lines = []
    status = verify.run(str(path), out=lines.append)
    text = "\n".join(lines)
    assert "Traceback" not in text
    return status, text


def test_run_passes_on_the_library_and_every_deck():
    lines = []
    assert verify.run(out=lines.append) == 0, "\n".join(lines)
    text = "\n".join(lines)
    for deck in ("deck 000", "deck 001", "deck 002", "deck 003", "deck 004"):
        assert deck in text
    assert "float64" in text and "float32" in text and " NO" not in text
    assert lines[-1].startswith("PASS")


def test_without_the_derivations_the_library_is_checked_alone(monkeypatch):
    monkeypatch.setitem(sys.modules, "jaxmlp.derivations", None)  # an install without them
    lines = []
    assert verify.derivation_checks(out=lines.append) == []
    assert "not installed" in lines[0] and "library alone" in lines[0]


def test_a_correct_user_file_passes(tmp_path):
    status, text = verify_file(tmp_path, CORRECT)
    assert status == 0, text
    assert text.splitlines()[-1].startswith("PASS")


def test_the_example_derivation_passes():
    lines = []
    assert verify.run(str(EXAMPLES / "my_derivation.py"), out=lines.append) == 0, "\n".join(lines)


def test_a_derivation_missing_f_prime_fails_and_names_the_layer(tmp_path):
    status, text = verify_file(tmp_path, MISSING_F_PRIME)
    assert status == 1
    verdict = text.splitlines()[-1]
    assert verdict.startswith("FAIL") and "layer 0 'w'" in verdict and "layer 0 'b'" in verdict
    assert "layer 1" not in verdict  # the output layer is right
    assert "NO" in text  # the report table marks the wrong leaves


def test_a_wrong_reduction_is_caught(tmp_path):
    status, text = verify_file(tmp_path, CORRECT.replace('reduction = "sum"', 'reduction = "mean"'))
    assert status == 1 and "layer 1" in text.splitlines()[-1]


MODEL = 'model = jaxmlp.MLP((3, 4, 2), ("tanh", "sigmoid"))'
RETURN = 'return [{"w": d1.T @ x, "b": d1.sum(0)}, {"w": d2.T @ h, "b": d2.sum(0)}]'
UNUSABLE = {
    "no grads": (CORRECT.replace("def grads(", "def gradients("), "missing `grads`"),
    "no model": (CORRECT.replace(MODEL, ""), "missing `model`"),
    "no loss": (CORRECT.replace('loss = "sse"', ""), "missing `loss`"),
    "unknown loss": (CORRECT.replace('loss = "sse"', 'loss = "hinge"'), "`loss` must be one of"),
    "unknown reduction": (CORRECT.replace('reduction = "sum"', 'reduction = "max"'),
                          "`reduction` must be one of"),
    "model not an MLP": (CORRECT.replace(MODEL, "model = (3, 4, 2)"), "`model` must be a jaxmlp.MLP"),
    "grads not callable": (CORRECT + "\ngrads = 3\n", "`grads` must be a function"),
    "grads raises": (CORRECT.replace("h = jnp.tanh", "h = 1 / 0 + jnp.tanh"),
                     "grads(params, x, t) raised ZeroDivisionError"),
    "a tuple, not a list": (CORRECT.replace(RETURN, "return tuple(" + RETURN[len("return "):] + ")"),
                            "does not match params"),
    "w transposed": (CORRECT.replace('"w": d1.T @ x', '"w": x.T @ d1'), "does not match params: ValueError"),
    "syntax error": (CORRECT + "\ndef broken(:\n", "failed to import: SyntaxError"),
    "import error": ("import jaxmlp_does_not_exist\n", "failed to import: ModuleNotFoundError"),
    "sys.exit": ("raise SystemExit(3)\n", "failed to import: SystemExit"),
}


@pytest.mark.parametrize("case", UNUSABLE)
def test_an_unusable_file_gets_one_clear_line(tmp_path, case):
    source, message = UNUSABLE[case]
    status, text = verify_file(tmp_path, source)
    assert status == 2
    assert len(text.splitlines()) == 1 and message in text, text
    assert text.startswith("verify: ")


def test_a_missing_file_gets_one_clear_line(tmp_path):
    lines = []
    assert verify.run(str(tmp_path / "nowhere.py"), out=lines.append) == 2
    assert lines == [f"verify: {tmp_path / 'nowhere.py'}: no such file"]


def test_the_example_script_runs_and_reports(capsys):
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(EXAMPLES / "verify_your_derivation.py"), run_name="__main__")
    assert done.value.code == 0
    assert "exit status 0: your derivation equals jax.grad" in capsys.readouterr().out


def test_checks_and_the_table():
    assert check_number("E", 0.085000000000000001, 0.085).passed
    assert check_number("zero", 1e-13, 0.0).passed and not check_number("zero", 1e-3, 0.0).passed
    assert not check_number("μ", 0.41, 0.4).passed
    assert check_close("same", "", [{"w": [1.0, 2.0]}], [{"w": [1.0, 2.0]}]).max_rel == 0.0
    mismatch = check_close("shapes", "", [{"w": [1.0, 2.0]}], [{"w": [1.0]}])
    assert not mismatch.passed and mismatch.max_rel == float("inf")
    text = table([Check("a check", "= jax.grad", 1e-16, True), Check("another", "deck: 0.4", 0.5, False)])
    lines = text.splitlines()
    assert lines[0].split() == ["check", "compared", "with", "max", "rel.", "error", "ok"]
    assert lines[2].endswith("yes") and lines[3].endswith("NO") and "5.00e-01" in lines[3]
