"""Each activation's and each loss's hand derivative equals jax.grad of its forward, kinks
included."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jaxmlp
from jaxmlp.core.activations import SELU_ALPHA, SELU_SCALE, get_activation
from jaxmlp.core.losses import get_loss

ELEMENTWISE = [n for n in jaxmlp.activation_names() if get_activation(n).df is not None]
BUILTIN = (
    "identity",
    "step",
    "sigmoid",
    "tanh",
    "relu",
    "softplus",
    "leaky_relu",
    "prelu",
    "elu",
    "selu",
    "swish",
    "mish",
    "softmax",
)  # deck 002's list, written out: what LECTURE must hold


def normal(rng, n, scale=1.0):
    """N(0, scale²) values in float32, drawn with NumPy (no random program to compile per n)."""
    return jnp.asarray(scale * rng.normal(size=n), jnp.float32)


def autodiff_df(act, u, *a):
    return jax.vmap(jax.grad(lambda v, *a: act.f(v, *a)))(u, *a)


def test_every_lecture_activation_is_registered():
    assert set(BUILTIN) <= set(jaxmlp.activation_names())
    assert jaxmlp.core.activations.LECTURE == BUILTIN
    assert get_activation("linear") is get_activation("identity")


@pytest.mark.parametrize("name", [n for n in BUILTIN if n not in ("softmax", "prelu")])
# one shape (16 values): each op compiles once per activation, not once per length
@given(values=st.lists(st.floats(-30, 30, allow_nan=False, width=32), min_size=16, max_size=16))
def test_elementwise_derivative_equals_jax_grad(name, values):
    act = get_activation(name)
    u = jnp.asarray(values, jnp.float32)
    np.testing.assert_allclose(act.df(u), autodiff_df(act, u), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "selu", "step", "prelu", "identity"])
def test_derivative_at_the_kink_matches_jax_grad(name):
    act = get_activation(name)
    u = jnp.zeros(3)
    a = (jnp.full(3, 0.25),) if act.parametric else ()
    # the conventions differ by O(1) (0 against 1); rounding between two programs does not matter
    np.testing.assert_allclose(act.df(u, *a), autodiff_df(act, u, *a), rtol=1e-6, atol=0)


def test_kink_values_are_the_documented_ones():
    zero = jnp.zeros(1)
    assert float(get_activation("relu").df(zero)[0]) == 0.0
    assert float(get_activation("leaky_relu").df(zero)[0]) == 1.0
    assert float(get_activation("elu").df(zero)[0]) == 1.0
    assert float(get_activation("selu").df(zero)[0]) == pytest.approx(SELU_SCALE * SELU_ALPHA)
    assert float(get_activation("step").df(zero)[0]) == 0.0
    assert float(get_activation("prelu").df(zero, jnp.full(1, 0.25))[0]) == 1.0


def test_forwards_match_jax_nn():
    u = jnp.linspace(-5, 5, 41)
    pairs = {
        "sigmoid": jax.nn.sigmoid,
        "relu": jax.nn.relu,
        "softplus": jax.nn.softplus,
        "leaky_relu": jax.nn.leaky_relu,
        "elu": jax.nn.elu,
        "selu": jax.nn.selu,
        "swish": jax.nn.swish,
        "mish": jax.nn.mish,
        "tanh": jnp.tanh,
        "softmax": jax.nn.softmax,
    }
    for name, ref in pairs.items():
        np.testing.assert_allclose(get_activation(name).f(u), ref(u), rtol=1e-6, atol=1e-7)


def test_step_is_the_perceptron_threshold():
    # deck 002: mu > 0 fires (1), mu <= 0 does not (0)
    assert get_activation("step").f(jnp.array([0.4, 0.0, -0.1])).tolist() == [1.0, 0.0, 0.0]


@given(seed=st.integers(0, 2**31 - 1), n=st.sampled_from([1, 2, 5, 10]))
def test_softmax_vjp_equals_jax_vjp(seed, n):
    rng = np.random.default_rng(seed)
    u, g = normal(rng, n, 3.0), normal(rng, n)
    act = get_activation("softmax")
    o, vjp = jax.vjp(act.f, u)
    np.testing.assert_allclose(act.backward(u, o, g), vjp(g)[0], rtol=1e-5, atol=1e-6)


@given(seed=st.integers(0, 2**31 - 1))
def test_prelu_slope_derivative_equals_jax_grad(seed):
    u = normal(np.random.default_rng(seed), 6)
    a = jnp.full(6, 0.3)
    act = get_activation("prelu")
    ref = jax.grad(lambda a_: jnp.sum(act.f(u, a_)))(a)
    np.testing.assert_allclose(act.df_da(u, a), ref, rtol=1e-6)


@pytest.mark.parametrize("name", jaxmlp.loss_names())
@given(seed=st.integers(0, 2**31 - 1), n=st.sampled_from([1, 3, 10]))
def test_loss_derivative_equals_jax_grad(name, seed, n):
    rng = np.random.default_rng(seed)
    o = jnp.asarray(rng.uniform(0.01, 0.99, n), jnp.float32)
    t = jnp.asarray(rng.uniform(size=n), jnp.float32)
    L = get_loss(name)
    np.testing.assert_allclose(L.d(o, t), jax.grad(L.fn)(o, t), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["sse", "binary_crossentropy", "categorical_crossentropy"])
@given(seed=st.integers(0, 2**31 - 1), n=st.sampled_from([1, 3, 10]))
def test_canonical_shortcut_is_the_general_rule(name, seed, n):
    """δ = o − t (the shortcut) equals ∂ℓ/∂o ⊙ f'(u) and jax.grad of the stable from_u form."""
    rng = np.random.default_rng(seed)
    u = normal(rng, n, 2.0)
    L = get_loss(name)
    act = get_activation(L.canonical)
    t = np.eye(n)[rng.integers(0, n)] if name.startswith("cat") else rng.uniform(size=n)
    t = jnp.asarray(t, jnp.float32)
    o = act.f(u)
    shortcut = L.delta_u(o, t)
    np.testing.assert_allclose(shortcut, act.backward(u, o, L.d(o, t)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(shortcut, jax.grad(L.from_u)(u, t), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(L.from_u(u, t), L.fn(o, t), rtol=1e-4, atol=1e-6)
    if name.startswith("cat"):
        np.testing.assert_allclose(shortcut, o - t, rtol=1e-6, atol=1e-7)


def test_sse_is_the_lecture_e():
    # deck 000: predictions (0.3, 0.8, 0.2) against targets (0, 1, 0) give E = 0.085
    e = get_loss("sse").fn(jnp.array([0.3, 0.8, 0.2]), jnp.array([0.0, 1.0, 0.0]))
    assert float(e) == pytest.approx(0.085, abs=1e-7)


def test_penalty_and_its_gradient():
    params = [{"w": jnp.array([[1.0, -2.0], [0.0, 3.0]]), "b": jnp.array([5.0, 5.0])}]
    assert float(jaxmlp.penalty(params, l2=0.1, l1=0.01)) == pytest.approx(0.05 * 14 + 0.01 * 6)
    grad = jax.grad(lambda p: jaxmlp.penalty(p, l2=0.1, l1=0.01))(params)
    np.testing.assert_allclose(grad[0]["b"], 0.0)  # biases are not decayed
    np.testing.assert_allclose(
        grad[0]["w"], 0.1 * params[0]["w"] + 0.01 * jnp.sign(params[0]["w"]), rtol=1e-6
    )


def test_register_activation_and_check_it():
    name = "cube_test"
    jaxmlp.register_activation(name, lambda u: u**3, lambda u: 3 * u**2)
    model = jaxmlp.MLP((3, 4, 1), (name, "identity"))
    params = model.init(jax.random.key(0))
    x, t = jnp.linspace(-1, 1, 6).reshape(2, 3), jnp.array([[0.5], [-0.5]])
    report = jaxmlp.check_gradients(
        lambda p, x, t: jaxmlp.backprop(model, p, x, t, "sse"), model, params, x, t, "sse"
    )
    assert report.passed, report
    with pytest.raises(ValueError, match="already registered"):
        jaxmlp.register_activation(name, lambda u: u, lambda u: u)
    with pytest.raises(TypeError, match="callable"):
        jaxmlp.register_activation("nope_test", 3, lambda u: u)


def test_a_wrong_registered_derivative_is_caught():
    name = "wrong_square_test"
    jaxmlp.register_activation(name, lambda u: u**2, lambda u: u)  # should be 2u
    model = jaxmlp.MLP((2, 3, 1), (name, "identity"))
    params = model.init(jax.random.key(1))
    x, t = jnp.array([[0.3, -0.7]]), jnp.array([[1.0]])
    report = jaxmlp.check_gradients(
        lambda p, x, t: jaxmlp.backprop(model, p, x, t, "sse"), model, params, x, t, "sse"
    )
    assert not report.passed
    assert any(f.path.startswith("[0]") for f in report.failures)
    assert "NO" in str(report)


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="activation: unknown name 'relu6'"):
        get_activation("relu6")
    with pytest.raises(ValueError, match="loss: unknown name 'hinge'"):
        get_loss("hinge")
