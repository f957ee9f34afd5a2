"""``jaxmlp verify`` in the general form, as a deep-learning course assigns it: the problems are the
user's ``sample``'s (its rows, its pytrees, its integer and boolean leaves), rounding is measured
for any function, and the exit status means one thing (0 right, 1 wrong, 2 unusable)."""

import json
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import verify
from jaxmlp.core.random_rounding import rounding_spread
from jaxmlp.verify.problem import Problem

RNN = """
import jax
import jax.numpy as jnp


def objective(p, x, t):
    x_t, h_prev = x
    return jnp.sum(t * jnp.tanh(x_t @ p["Wx"].T + h_prev @ p["Wh"].T + p["b"]))


def grads(p, x, t):
    x_t, h_prev = x
    h = jnp.tanh(x_t @ p["Wx"].T + h_prev @ p["Wh"].T + p["b"])
    da = t * (1 - h**2)
    return {"Wx": da.T @ x_t, "Wh": da.T @ h_prev, "b": da.sum(0)}


def sample(key, rows=4, scale=1.0):
    k = jax.random.split(key, 6)
    p = {"Wx": scale * jax.random.normal(k[0], (4, 3)),
         "Wh": scale * jax.random.normal(k[1], (4, 4)), "b": jax.random.normal(k[2], (4,))}
    x = (jax.random.normal(k[3], (rows, 3)), jnp.tanh(jax.random.normal(k[4], (rows, 4))))
    return p, x, jax.random.normal(k[5], (rows, 4))
"""

# a batch norm with the layer input in params, x None, and 8 rows that verify must not cut
BATCH_NORM = """
import jax
import jax.numpy as jnp


def forward(x, gamma, beta):
    xmu = x - x.mean(0)
    inv = 1 / jnp.sqrt((xmu**2).mean(0) + 1e-5)
    return gamma * xmu * inv + beta, xmu, inv


def objective(params, x, t):
    assert x is None and t.shape == (8, 5), "verify changed the problem"
    return jnp.sum(t * forward(params["x"], params["gamma"], params["beta"])[0])


def grads(params, x, t):
    y, xmu, inv = forward(params["x"], params["gamma"], params["beta"])
    xhat = xmu * inv
    dxhat = t * params["gamma"]
    dx = inv * (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).mean(0))
    return {"x": dx, "gamma": (t * xhat).sum(0), "beta": t.sum(0)}


def sample(key):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    params = {"x": jax.random.normal(k1, (8, 5)) + 1, "gamma": jax.random.normal(k2, (5,)),
              "beta": jax.random.normal(k3, (5,))}
    return params, None, jax.random.normal(k4, (8, 5))
"""


def verify_source(tmp_path, source, examples=10, **kwargs):
    """Run verify on ``source``; return (status, the text lines, the --json record)."""
    path = tmp_path / "user.py"
    path.write_text(textwrap.dedent(source))
    lines = []
    with jax.numpy_rank_promotion("allow"):  # as a user's JAX runs (the suite's is strict)
        status = verify.run(str(path), out=lines.append, examples=examples, json=True, **kwargs)
    text = "\n".join(lines)
    assert "Traceback" not in text and "numpy" not in text.lower() and "jax._src" not in text
    return status, lines[:-1], json.loads(lines[-1])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_rows_sample_draws_are_never_cut(tmp_path, dtype):
    status, lines, record = verify_source(tmp_path, BATCH_NORM, dtype=dtype)
    assert status == 0 and record["passed"], lines
    wrong = BATCH_NORM.replace(" - xhat * (dxhat * xhat).mean(0)", "")  # the variance path
    status, lines, record = verify_source(tmp_path, wrong, dtype=dtype)
    assert status == 1 and record["counterexample"]["kind"] == "sample", lines
    assert [f["leaf"] for f in record["failures"]] == ["grads['x']"]
    assert np.shape(record["counterexample"]["t"]) == (8, 5)


def test_tuples_none_and_a_boolean_mask_are_kept_as_they_are(tmp_path):
    dropout = """
    import jax
    import jax.numpy as jnp


    def objective(params, x, t):
        mask, g = t
        return jnp.sum(g * jnp.where(mask, params["x"] / 0.8, 0.0))


    def grads(params, x, t):
        mask, g = t
        assert mask.dtype == jnp.bool_ and x is None, "verify changed the mask"
        return {"x": g * mask / 0.8}


    def sample(key, rows=3):
        k1, k2, k3 = jax.random.split(key, 3)
        mask = jax.random.bernoulli(k1, 0.8, (rows, 2))
        g = jax.random.normal(k3, (rows, 2))
        return {"x": jax.random.normal(k2, (rows, 2))}, None, (mask, g)
    """
    status, lines, record = verify_source(tmp_path, dropout)
    assert status == 0, lines
    status, lines, record = verify_source(tmp_path, dropout.replace("/ 0.8}", "}"))
    assert status == 1, lines
    mask, upstream = record["counterexample"]["t"]
    assert isinstance(mask[0][0], bool) and isinstance(upstream[0][0], float)
    assert any(line.startswith("  t[0] = ") for line in lines), lines


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_minus_h_squared_at_saturation_is_rounding_and_one_percent_is_not(tmp_path, dtype):
    status, lines, record = verify_source(tmp_path, RNN, examples=20, dtype=dtype)
    assert status == 0, lines
    status, lines, record = verify_source(tmp_path, RNN.replace("da = t *", "da = 1.01 * t *"),
                                          dtype=dtype)
    assert status == 1 and record["counterexample"], lines


def test_the_counterexample_is_sample_called_as_printed_and_replays(tmp_path, capsys):
    status, lines, record = verify_source(tmp_path, RNN.replace("da.sum(0)", "da.sum(0) / 2"))
    assert status == 1
    problem = Problem.parse(record["counterexample"]["reproduce"].split("'")[3])
    assert problem.kind == "sample" and set(problem.chosen()) == {"rows", "scale"}
    assert f"shrunk: {problem}" in "\n".join(lines)
    assert str(problem).startswith("sample(jax.random.key(")
    with jax.numpy_rank_promotion("allow"):
        assert verify.replay(str(tmp_path / "user.py"), problem.spec()) == 1
    assert "FAIL" in capsys.readouterr().out


UNUSABLE = {
    "grads raises on its own line": (
        RNN.replace("da = t * (1 - h**2)", "da = t * (1 - h**2) @ jnp.ones((3, 3))"),
        "(at user.py:14 in grads: `da = t * (1 - h**2) @ jnp.ones((3, 3))`)"),
    "sample raises": (RNN.replace("k = jax.random.split(key, 6)", "k = 1 / 0"),
                      "raised ZeroDivisionError: division by zero (at user.py:19 in sample"),
    "objective raises": (
        RNN.replace("x_t, h_prev = x\n    return", "x_t, h_prev, c = x\n    return"),
        "jax.grad(objective) raised ValueError"),
    "sample returns two things": (RNN.replace("return p, x, jax", "return p, jax"),
                                  "sample(key) must return (params, x, t)"),
    "an integer parameter": (
        RNN.replace('"b": jax.random.normal(k[2], (4,))', '"b": jnp.arange(4)'),
        "params['b'] of dtype int"),
    "a string leaf": (RNN.replace("return p, x, jax", "return p, (x, 'rows'), jax"),
                      "dtype <U4; expected numbers"),
}


@pytest.mark.parametrize("case", UNUSABLE)
def test_an_unusable_general_file_is_named_in_the_users_terms(tmp_path, case):
    source, message = UNUSABLE[case]
    status, lines, record = verify_source(tmp_path, source)
    assert status == 2 and record["error"] and not record["passed"], lines
    assert message in lines[-1], lines


def test_random_rounding_sees_cancellation_and_nothing_where_nothing_rounds():
    with jax.enable_x64(True):
        h = jnp.tanh(jnp.array([0.5, 8.0, 30.0]))
        spread = np.asarray(rounding_spread(lambda h: 1 - h**2, h))
        relative = spread[:2] / (1 - np.asarray(h[:2], np.float64) ** 2)
        assert relative[0] < 1e-14 and relative[1] > 1e-11  # cancellation: digits lost
        assert 0 < spread[2] <= 4 * np.finfo(np.float64).eps  # h = 1: the 0 is known to ±ε
        cancelled = rounding_spread(lambda v: jnp.sum(v), jnp.array([1e8, 1.0, -1e8]))
        assert float(cancelled) > 1e-9  # the partial sums' rounding, not the total's
        assert float(rounding_spread(lambda v: jnp.max(-v.T), jnp.ones((2, 3)))) == 0.0
