"""jaxmlp.check: per-leaf and normwise verdicts, the float32 tolerances, and the library's own proof
at kinks in every layer and on the loss clipping bounds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import jaxmlp
from jaxmlp.check import (
    Check,
    check_close,
    check_gradients,
    check_line,
    check_number,
    compare,
    table,
    tolerance,
)
from jaxmlp.core.losses import EPSILON

SMOOTH = ("sigmoid", "tanh", "softplus", "swish", "mish", "identity")
KINKED = ("relu", "leaky_relu", "prelu", "elu", "selu", "step")
LOSSES = ("sse", "mse", "binary_crossentropy", "categorical_crossentropy")
EXAMPLES = max(4, settings().max_examples // 5)


def targets(rng, loss, batch, n_out):
    if loss == "categorical_crossentropy":
        return np.eye(n_out)[rng.integers(0, n_out, batch)]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, (batch, n_out)).astype(float)
    return rng.normal(size=(batch, n_out))


def problem(data, dtype, depth=None):
    """A random network of fixed shapes (3, 4, 4, 2) and its batch of 5, drawn with numpy."""
    depth = depth or data.draw(st.integers(1, 3))
    acts = tuple(data.draw(st.sampled_from(SMOOTH + KINKED)) for _ in range(depth))
    loss = data.draw(st.sampled_from(LOSSES))
    model = jaxmlp.MLP((*(3, 4, 4)[:depth], 2), acts)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    params = model.init(jax.random.key(int(rng.integers(2**31))), dtype=dtype)
    params = [{**p, "b": jnp.asarray(rng.normal(0, 0.5, p["b"].shape), dtype)} for p in params]
    x = jnp.asarray(rng.normal(size=(5, 3)), dtype)
    return model, loss, params, x, jnp.asarray(targets(rng, loss, 5, 2), dtype)


def hand(model, loss):
    return lambda p, x, t: jaxmlp.backprop(model, p, x, t, loss, "sum")


def test_a_small_leaf_is_judged_by_its_own_size():
    big, small = np.ones(4), np.full(4, 1e-3)
    # 0.2 % off in the small leaf: normwise 2e-6 (passes 1e-5) but its own error is 2e-3
    leaves = compare(
        [big.astype(np.float32), (small * 1.002).astype(np.float32)],
        [big.astype(np.float32), small.astype(np.float32)],
    )
    assert leaves[1].rel < tolerance(np.float32).normwise and not leaves[1].passed
    assert leaves[1].leaf_rel == pytest.approx(2e-3, rel=1e-3) and leaves[0].passed


def test_a_near_zero_leaf_is_judged_against_the_floor():
    # a leaf 1e-9 of the largest, off by its own size, is rounding noise in float32: the floor holds
    want = [np.ones(3, np.float32), np.full(3, 1e-9, np.float32)]
    leaves = compare([want[0], 2 * want[1]], want)
    assert all(leaf.passed for leaf in leaves)
    assert leaves[1].leaf_rel == pytest.approx(1e-9 / tolerance(np.float32).floor, rel=1e-3)


def test_non_finite_structure_and_truth():
    with pytest.raises(ValueError, match=r"got: leaf \[0\] has shape \(2,\), expected \(3,\)"):
        compare([np.ones(2)], [np.ones(3)])
    with pytest.raises(ValueError, match="structure"):
        compare((np.ones(2),), [np.ones(2)])
    (nan,) = compare([np.array([np.nan, 1.0])], [np.ones(2)])
    assert not nan.passed and nan.max_abs == np.inf
    # float32: off by 1 % from jax.grad, but jax.grad itself is off by 1 % from the float64 truth
    want, truth = np.float32([1.01]), np.array([1.0])
    assert not compare([np.float32([1.0])], [want])[0].passed
    (leaf,) = compare([np.float32([1.0])], [want], truth=[truth])
    assert leaf.passed and leaf.by_truth
    assert not compare([np.float32([0.97])], [want], truth=[truth])[0].passed


def test_the_issue_case_a_first_layer_off_by_0_2_percent_fails_in_float32():
    """5-layer sigmoid net: first-layer weights 0.2 % off passed the old normwise check
    (8e-6 ≤ 1e-5)."""
    model = jaxmlp.MLP((4, 16, 16, 16, 16, 3), ("sigmoid",) * 4 + ("softmax",))
    params = model.init(jax.random.key(1))
    x, t = jax.random.normal(jax.random.key(1), (6, 4)), jnp.arange(6) % 3

    def off(p, x, t):
        g = jaxmlp.backprop(model, p, x, t)
        return [{**g[0], "w": g[0]["w"] * 1.002}, *g[1:]]

    report = check_gradients(off, model, params, x, t)
    assert not report.passed and [f.path for f in report.failures] == ["[0]['w']"], str(report)
    assert report.failures[0].rel < 1e-5 < report.failures[0].leaf_rel
    assert "NO" in str(report) and str(report).splitlines()[-1].startswith("FAIL")
    assert check_gradients(
        lambda p, x, t: jaxmlp.backprop(model, p, x, t), model, params, x, t
    ).passed


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data(), st.sampled_from([jnp.float32, jnp.float64]))
def test_a_0_2_percent_error_in_any_one_leaf_fails_and_backprop_passes(data, dtype):
    with jax.enable_x64(dtype == jnp.float64):
        model, loss, params, x, t = problem(data, dtype)
        exact = check_gradients(hand(model, loss), model, params, x, t, loss, "sum")
        assert exact.passed, str(exact)
        ref = jax.tree.leaves(jax.grad(jaxmlp.loss, argnums=1)(model, params, x, t, loss, "sum"))
        leaf = data.draw(st.integers(0, len(ref) - 1))
        scale = max(float(jnp.max(jnp.abs(r))) for r in ref)
        assume(float(jnp.max(jnp.abs(ref[leaf]))) > 1e-3 * scale)  # a leaf that carries gradient

        def off(p, x, t):
            leaves, tree = jax.tree.flatten(hand(model, loss)(p, x, t))
            leaves[leaf] = leaves[leaf] * 1.002
            return jax.tree.unflatten(tree, leaves)

        report = check_gradients(off, model, params, x, t, loss, "sum")
        assert not report.passed and len(report.failures) == 1, str(report)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("output", [*KINKED, "identity"])
def test_backprop_equals_jax_grad_on_the_kink_of_every_layer(dtype, output):
    """x = 0 and b = 0: every pre-activation of every layer, the output's included, is exactly 0."""
    model = jaxmlp.MLP((3, 4, 4, 2), ("relu", "leaky_relu" if output != "relu" else "elu", output))
    with jax.enable_x64(dtype == jnp.float64):
        params = [
            {**p, "b": jnp.zeros_like(p["b"])} for p in model.init(jax.random.key(0), dtype=dtype)
        ]
        x, t = jnp.zeros((2, 3), dtype), jnp.asarray([[0.5, -1.0], [2.0, 0.25]], dtype)
        us, _ = model.forward(params, x[0])
        assert all(float(jnp.max(jnp.abs(u))) == 0.0 for u in us)
        report = check_gradients(hand(model, "sse"), model, params, x, t, "sse", "sum")
    assert report.passed, str(report)
    # ∂E/∂b of the output layer is its δ = −t f′(0): zero exactly where jax.grad takes f′(0) = 0
    assert (report.leaves[-2].max_ref > 0) == (output not in ("relu", "step"))


@pytest.mark.parametrize("loss", ["binary_crossentropy", "categorical_crossentropy"])
@pytest.mark.parametrize("where", [EPSILON, 1 - EPSILON, EPSILON / 2, 1 - EPSILON / 2])
def test_backprop_equals_jax_grad_on_the_clipping_bounds(loss, where):
    """Outputs exactly on ε and 1 − ε (inside: the gradient flows) and beyond them (it is 0)."""
    model = jaxmlp.MLP(
        (3, 4, 2), ("tanh", "identity")
    )  # identity + cross-entropy: the clipped rule
    with jax.enable_x64(True):
        params = model.init(jax.random.key(1), dtype=jnp.float64)
        params[-1] = {"w": jnp.zeros((2, 4)), "b": jnp.full(2, where)}
        x, t = jax.random.normal(jax.random.key(2), (3, 3)), jnp.asarray([[1.0, 0.0]] * 3)
        assert float(model.apply(params, x)[0, 0]) == where
        report = check_gradients(hand(model, loss), model, params, x, t, loss, "sum")
    assert report.passed, str(report)
    inside = where in (EPSILON, 1 - EPSILON) or (loss == "categorical_crossentropy" and where > 0.5)
    assert (report.leaves[-2].max_ref > 0) == inside  # ∂E/∂b of the output layer


def test_check_number_close_and_the_tables():
    assert check_number("E", 0.5 * (0.09 + 0.04 + 0.04), 0.085).passed  # 0.08500000000000002
    assert not check_number("E", 0.085 * (1 + 1e-9), 0.085).passed
    assert check_number("zero", 1e-13, 0.0).passed and not check_number("zero", 1e-3, 0.0).passed
    assert check_close("same", "", [{"w": [1.0, 2.0]}], [{"w": [1.0, 2.0]}]).max_rel == 0.0
    mismatch = check_close("shapes", "", [{"w": [1.0, 2.0]}], [{"w": [1.0]}])
    assert not mismatch.passed and mismatch.max_rel == float("inf")
    small = check_close(
        "small leaf", "", [np.ones(3), np.full(3, 1.002e-3)], [np.ones(3), np.full(3, 1e-3)]
    )
    assert not small.passed and small.max_rel == pytest.approx(2e-3, rel=1e-6)
    lines = table(
        [Check("a check", "= jax.grad", 1e-16, True), Check("another", "deck: 0.4", 0.5, False)]
    )
    lines = lines.splitlines()
    assert lines[0].split() == ["check", "compared", "with", "max", "rel.", "error", "ok"]
    assert lines[2].endswith("yes") and lines[3].endswith("NO") and "5.00e-01" in lines[3]
    long = check_line(Check("x" * 150, "= jax.grad, float64", 1e-3, False), width=100)
    assert len(long) == 100 and long.startswith("NO  1.0e-03") and long.endswith("…")
