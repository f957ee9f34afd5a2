"""``jaxmlp.verify``: the all-decks run prints each check as it finishes; a user's file (MLP or
general form) passes, fails with the shrunk counterexample and the first wrong δ, or is refused
in one line."""

import functools
import json
import runpy
import sys
import textwrap
import types
from pathlib import Path

import jax
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxmlp import verify
from jaxmlp.check import Check

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LOGISTIC = (EXAMPLES / "my_logistic_regression.py").read_text()

THREE_LAYERS = """
import jax.numpy as jnp
import jaxmlp

model = jaxmlp.MLP((3, 5, 4, 2), ("tanh", "tanh", "sigmoid"))
loss = "sse"
reduction = "sum"


def forward(params, x):
    (w1, b1), (w2, b2), (w3, b3) = ((layer["w"], layer["b"]) for layer in params)
    h1 = jnp.tanh(x @ w1.T + b1[None])
    h2 = jnp.tanh(h1 @ w2.T + b2[None])
    return h1, h2, 1 / (1 + jnp.exp(-(h2 @ w3.T + b3[None])))


def deltas(params, x, t):
    h1, h2, o = forward(params, x)
    d3 = (o - t) * o * (1 - o)
    d2 = (d3 @ params[2]["w"]) * (1 - h2**2)
    d1 = (d2 @ params[1]["w"]) * (1 - h1**2)
    return [d1, d2, d3]


def grads(params, x, t):
    h1, h2, _ = forward(params, x)
    d1, d2, d3 = deltas(params, x, t)
    return [{"w": d.T @ a, "b": d.sum(0)} for d, a in ((d1, x), (d2, h1), (d3, h2))]
"""

TWO_LAYERS = """
import jax.numpy as jnp
import jaxmlp

model = jaxmlp.MLP((3, 4, 2), ("relu", "identity"))
loss = "sse"
reduction = "sum"


def grads(params, x, t):
    (w1, b1), (w2, b2) = ((layer["w"], layer["b"]) for layer in params)
    u1 = x @ w1.T + b1[None]
    h = jnp.where(u1 > 0, u1, 0.0)
    d2 = h @ w2.T + b2[None] - t
    d1 = (d2 @ w2) * (u1 > 0)
    return [{"w": d1.T @ x, "b": d1.sum(0)}, {"w": d2.T @ h, "b": d2.sum(0)}]
"""

SATURATING = """
import jax.numpy as jnp
import jaxmlp

model = jaxmlp.MLP((3, 4, 1), ("tanh", "sigmoid"))
loss = "binary_crossentropy"


def grads(params, x, t):
    (w1, b1), (w2, b2) = ((layer["w"], layer["b"]) for layer in params)
    h = jnp.tanh(x @ w1.T + b1[None])
    o = 1 / (1 + jnp.exp(-(h @ w2.T + b2[None])))
    d2 = (o - t) / (o * (1 - o)) * o * (1 - o) / x.shape[0]  # ∂ℓ/∂o · σ′, written out
    d1 = (d2 @ w2) * (1 - h**2)
    return [{"w": d1.T @ x, "b": d1.sum(0)}, {"w": d2.T @ h, "b": d2.sum(0)}]
"""


def verify_source(tmp_path, source, *args, name="user.py", examples=10, **kwargs):
    """Run verify on ``source``; return (status, the text lines, the --json record)."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    lines = []
    status = verify.run(str(path), out=lines.append, examples=examples, json=True, **kwargs)
    assert "Traceback" not in "\n".join(lines)
    return status, lines[:-1], json.loads(lines[-1])


# --- the done-when files --------------------------------------------------------------------------


def test_general_form_logistic_regression_right_and_with_a_wrong_l2_term(tmp_path):
    status, lines, record = verify_source(tmp_path, LOGISTIC)
    assert status == 0 and record["passed"] and record["form"] == "general", lines
    assert [line.startswith("PASS") for line in lines].count(True) == 1
    wrong = LOGISTIC.replace('"w": x.T @ δ + λ * params["w"]', '"w": x.T @ δ + 2 * λ * params["w"]')
    status, lines, record = verify_source(tmp_path, wrong)
    assert status == 1 and not record["passed"]
    assert [f["leaf"] for f in record["failures"]] == ["grads['w']"]
    assert record["counterexample"]["batch"] == 1 and record["counterexample"]["scale"] == 1.0


def test_relu_derivative_one_at_zero_is_a_convention_failure(tmp_path):
    assert verify_source(tmp_path, TWO_LAYERS)[0] == 0
    status, lines, record = verify_source(tmp_path, TWO_LAYERS.replace("* (u1 > 0)", "* (u1 >= 0)"))
    assert status == 1 and record["kink_only"] and record["counterexample"]["kind"] == "kink"
    text = "\n".join(lines)
    assert "convention" in text and "relu′(0) = 0" in text and lines[-1].startswith("FAIL")
    assert record["counterexample"]["x"] == [[0.0, 0.0, 0.0]]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_delta_that_is_nan_at_saturation_is_rejected(tmp_path, dtype):
    status, lines, record = verify_source(tmp_path, SATURATING, dtype=dtype)
    assert status == 1 and record["dtype"] == dtype
    assert any(f["rel_error"] is None for f in record["failures"])  # not finite
    assert any("not finite" in line for line in lines)


def test_the_first_wrong_delta_is_named(tmp_path):
    status, lines, record = verify_source(tmp_path, THREE_LAYERS)
    assert status == 0 and record["first_wrong_delta"] is None, lines
    forgot = THREE_LAYERS.replace(
        'd1 = (d2 @ params[1]["w"]) * (1 - h1**2)', 'd1 = d2 @ params[1]["w"]'
    )
    forgot = forgot.replace('d2 = (d3 @ params[2]["w"]) * (1 - h2**2)', 'd2 = d3 @ params[2]["w"]')
    status, lines, record = verify_source(tmp_path, forgot)
    assert status == 1 and record["first_wrong_delta"] == 1
    assert (
        "δ of layer 1 (params[1]) is wrong; layers 2.. are right; layers below inherit the error"
        in lines
    )
    assert "deltas[2]" not in [f["leaf"] for f in record["failures"]]
    example = record["counterexample"]
    assert (
        f"v.replay('{tmp_path / 'user.py'}', 'batch=1,scale=1,kind=random,seed="
        in example["reproduce"]
    )
    replayed = []
    spec = "batch={batch},scale={scale:g},kind={kind},seed={seed}".format(**example)
    assert verify.replay(str(tmp_path / "user.py"), spec, out=replayed.append) == 1
    assert replayed[-1].startswith("FAIL") and "δ of layer 1 (params[1]) is wrong" in "\n".join(
        replayed
    )


def test_the_examples_pass_and_verify_themselves(capsys, monkeypatch):
    monkeypatch.setattr(
        verify, "run", functools.partial(verify.run, examples=5)
    )  # the wiring, quickly
    for name in ("my_derivation.py", "my_logistic_regression.py"):
        with pytest.raises(SystemExit) as done:
            runpy.run_path(str(EXAMPLES / name), run_name="__main__")
        assert done.value.code == 0
        out = capsys.readouterr().out.splitlines()
        assert [line for line in out if "PASS" in line] == [out[-1]], out


# --- the mutation test: flip a sign, drop f′ or scale by 1 + 1e-6 in one layer --------------------

MUTANT = """
import jax.numpy as jnp
import jaxmlp
from jaxmlp.core.activations import get_activation

model = jaxmlp.MLP({sizes}, {acts})
loss, reduction = "sse", "sum"


def forward(params, x):
    us, os = [], [x]
    for name, layer in zip(model.activations, params):
        us.append(os[-1] @ layer["w"].T + layer["b"][None])
        os.append(get_activation(name).f(us[-1]))
    return us, os


def deltas(params, x, t):
    us, os = forward(params, x)
    ds, g = [None] * len(params), os[-1] - t
    for k in reversed(range(len(params))):
        g = g if k == len(params) - 1 else ds[k + 1] @ params[k + 1]["w"]
        fp = get_activation(model.activations[k]).df(us[k])
        d = g if ({mutation!r}, {layer}) == ("drop f′", k) else g * fp
        ds[k] = -d if ({mutation!r}, {layer}) == ("flip sign", k) else d
        ds[k] = ds[k] * (1 + 1e-6) if ({mutation!r}, {layer}) == ("scale", k) else ds[k]
    return ds


def grads(params, x, t):
    _, os = forward(params, x)
    return [{{"w": d.T @ o, "b": d.sum(0)}} for d, o in zip(deltas(params, x, t), os)]
"""
WIDTHS = (2, 3)
ACTIVATIONS = (
    "sigmoid",
    "tanh",
    "softplus",
    "leaky_relu",
    "elu",
    "selu",
    "swish",
)  # f′ ≠ 0 (almost)
CURVED = (
    "sigmoid",
    "tanh",
    "softplus",
    "selu",
    "swish",
)  # f′ ≠ 1 (almost): dropping it is a change


# 4 networks a run (each new programs to compile, ~0.6 s): the naming is also checked on fixed
# cases every run, test_the_first_wrong_delta_is_named (3 layers) and test_verify_mutants's
# test_a_mutant_in_deltas_names_its_layer (every killed δ mutant of the shipped example)
@settings(max_examples=max(4, settings().max_examples // 4), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_verify_names_the_mutated_layer(tmp_path, data):
    depth = data.draw(st.integers(2, 3), "depth")
    sizes = (3, *(data.draw(st.sampled_from(WIDTHS)) for _ in range(depth - 1)), 2)
    acts = (*(data.draw(st.sampled_from(ACTIVATIONS)) for _ in range(depth - 1)), "sigmoid")
    mutation = data.draw(st.sampled_from(("flip sign", "drop f′", "scale")), "mutation")
    layer = data.draw(st.integers(0, depth - 1), "layer")
    if mutation == "drop f′" and layer < depth - 1:
        acts = (*acts[:layer], data.draw(st.sampled_from(CURVED)), *acts[layer + 1 :])
    source = MUTANT.format(sizes=sizes, acts=acts, mutation=mutation, layer=layer)
    status, lines, record = verify_source(tmp_path, source, examples=0)
    assert status == 1 and record["first_wrong_delta"] == layer, lines
    assert f"δ of layer {layer} (params[{layer}]) is wrong" in "\n".join(lines)


# --- unusable files ---------------------------------------------------------------------------

RETURN = 'return [{"w": d1.T @ x, "b": d1.sum(0)}, {"w": d2.T @ h, "b": d2.sum(0)}]'
UNUSABLE = {
    "no grads": (TWO_LAYERS.replace("def grads(", "def gradients("), "missing `grads`"),
    "no model": (TWO_LAYERS.replace("model = jaxmlp.MLP(", "net = jaxmlp.MLP("), "missing `model`"),
    "unknown loss": (
        TWO_LAYERS.replace('loss = "sse"', 'loss = "hinge"'),
        "`loss`: expected one of",
    ),
    "unknown reduction": (TWO_LAYERS.replace('"sum"', '"max"'), "`reduction`: expected one of"),
    "grads not callable": (TWO_LAYERS + "\ngrads = 3\n", "`grads`: expected a function"),
    "grads raises": (
        TWO_LAYERS.replace("u1 = x", "u1 = 1 / 0 + x"),
        "grads(params, x, t) raised Zero",
    ),
    "a tuple": (TWO_LAYERS.replace(RETURN, "return tuple(" + RETURN[7:] + ")"), "does not match"),
    "w transposed": (
        TWO_LAYERS.replace('"w": d1.T @ x', '"w": x.T @ d1'),
        "shape (3, 4), expected (4, 3)",
    ),
    "general without sample": (LOGISTIC.replace("def sample(", "def draw("), "missing `sample`"),
    "syntax error": (TWO_LAYERS + "\ndef broken(:\n", "failed to import: SyntaxError"),
    "sys.exit": ("raise SystemExit(3)\n", "failed to import: SystemExit"),
}


@pytest.mark.parametrize("case", UNUSABLE)
def test_an_unusable_file_gets_one_clear_line(tmp_path, case):
    source, message = UNUSABLE[case]
    status, lines, record = verify_source(tmp_path, source)
    assert status == 2 and record["error"] and not record["passed"]
    assert len([line for line in lines if line.startswith("jaxmlp: error: ")]) == 1, lines
    assert message in lines[-1], lines


# --- jaxmlp verify: every deck, each check printed as it finishes, 100 columns ------------


def test_run_prints_each_check_as_it_finishes(monkeypatch):
    lines, calls = [], []

    def deck(number):
        def checks(seed):
            calls.append((number, len(lines)))  # how much was printed before this deck ran
            return [
                Check(f"deck 00{number} " + "a long name " * 12, "= jax.grad, float64", 1e-16, True)
            ]

        return types.SimpleNamespace(__name__=f"deck00{number}", checks=checks)

    package = types.SimpleNamespace(MODULES=tuple(f"deck00{n}" for n in range(5)))
    monkeypatch.setitem(sys.modules, "jaxmlp.derivations", package)
    for n in range(5):
        monkeypatch.setitem(sys.modules, f"jaxmlp.derivations.deck00{n}", deck(n))

    def library(seed, dtype):
        yield Check(
            f"jaxmlp.backprop {jax.numpy.dtype(dtype).name}", "", 0.0, dtype == jax.numpy.float64
        )

    monkeypatch.setattr(verify, "_library_checks", library)
    assert verify.run(out=lines.append, json=True) == 1
    assert [printed for _, printed in calls] == [
        1,
        2,
        3,
        4,
        5,
    ]  # deck n's line before deck n + 1 ran
    assert all(len(line) <= 100 for line in lines[:-1]), max(lines, key=len)
    assert [line[:12] for line in lines[1:6]] == ["ok  1.0e-16 "] * 5
    assert (
        lines[7].startswith("NO ") and "float32" in lines[7] and lines[-2].startswith("FAIL: 6/7")
    )
    assert json.loads(lines[-1])["failures"][0]["leaf"] == "jaxmlp.backprop float32"


def test_without_the_derivations_the_library_is_checked_alone(monkeypatch):
    monkeypatch.setitem(sys.modules, "jaxmlp.derivations", None)  # an install without them
    lines = []
    assert verify.derivation_checks(out=lines.append) == []
    assert "not installed" in lines[0] and "library alone" in lines[0]
