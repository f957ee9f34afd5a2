"""The hand-written δ rule equals jax.grad: Hypothesis over depth, widths, activations, losses,
reductions, penalties, batch sizes and values, in float64 (rtol 1e-10) and float32 (1e-5)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jaxmlp
from jaxmlp.check import rounding_bound_of
from jaxmlp.core.activations import LECTURE, get_activation
from jaxmlp.core.backprop import loss_and_grads, objective_and_output
from jaxmlp.tolerance import compare

HIDDEN = LECTURE
OUTPUTS = ("identity", "sigmoid", "softmax", "tanh", "relu", "prelu", "softplus")
LOSSES = ("sse", "mse", "binary_crossentropy", "categorical_crossentropy")
WIDTHS = (1, 3, 8, 64)
BATCHES = (1, 7, 32, 128)


def _autodiff(model, loss, reduction, params, x, t, l2, l1):
    return jax.value_and_grad(objective_and_output, argnums=3, has_aux=True)(
        model, loss, reduction, params, x, t, l2, l1
    )


autodiff = jax.jit(_autodiff, static_argnums=(0, 1, 2))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def hand_and_autodiff(*args):
    """Both gradients from one compilation (each draw is a new network: compiling is the cost)."""
    return loss_and_grads(*args), _autodiff(*args)


def targets(rng, loss, batch, n_out, dtype):
    """Targets for ``loss``, drawn with NumPy (no program to compile per shape)."""
    if loss == "categorical_crossentropy":
        return np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, batch)]
    if loss == "binary_crossentropy":
        return (rng.random((batch, n_out)) < 0.5).astype(dtype)
    return rng.normal(size=(batch, n_out)).astype(dtype)


#: weight standard deviations: the scales of Glorot's, He's and LeCun's initializers, and a wide
#: N(0, 0.5²) whatever the fan-in (saturated units, the derivations' hard case)
WEIGHT_SCALES = {
    "glorot": lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out)),
    "he": lambda fan_in, fan_out: np.sqrt(2 / fan_in),
    "lecun": lambda fan_in, fan_out: np.sqrt(1 / fan_in),
    "wide": lambda fan_in, fan_out: 0.5,
}


def draw_params(rng, model, weights, bias, dtype):
    """Parameters of ``model`` drawn with NumPy: weights at the scale ``weights`` names, biases
    N(0, bias²) (0: as ``MLP.init`` starts them), PReLU slopes uniform in [0, 0.5)."""
    params = []
    for fan_in, fan_out, name in zip(model.sizes, model.sizes[1:], model.activations):
        std = WEIGHT_SCALES[weights](fan_in, fan_out)
        layer = {
            "w": (std * rng.normal(size=(fan_out, fan_in))).astype(dtype),
            "b": (bias * rng.normal(size=fan_out)).astype(dtype),
        }
        if get_activation(name).parametric:
            layer["a"] = (0.5 * rng.random(fan_out)).astype(dtype)
        params.append(layer)
    return params


def problem(draw, dtype):
    """A network, its parameters, data and settings. Values come from NumPy, so that a draw
    compiles one program (the two gradients), not one per array shape."""
    depth = draw(st.integers(1, 5))
    sizes = tuple(draw(st.sampled_from(WIDTHS)) for _ in range(depth + 1))
    hidden = tuple(draw(st.sampled_from(HIDDEN)) for _ in range(depth - 1))
    output, loss = draw(st.sampled_from(OUTPUTS)), draw(st.sampled_from(LOSSES))
    model = jaxmlp.MLP(sizes, (*hidden, output))
    batch = draw(st.sampled_from(BATCHES))
    reduction = draw(st.sampled_from(("mean", "sum")))
    l2, l1 = draw(st.sampled_from([(0.0, 0.0), (1e-2, 0.0), (0.0, 1e-3), (1e-2, 1e-3)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    weights, bias = draw(st.sampled_from(sorted(WEIGHT_SCALES))), draw(st.sampled_from([0.0, 0.5]))
    params = draw_params(rng, model, weights, bias, dtype)
    x = (draw(st.sampled_from([0.5, 2.0])) * rng.normal(size=(batch, sizes[0]))).astype(dtype)
    return model, loss, reduction, params, x, targets(rng, loss, batch, sizes[-1], dtype), l2, l1


def assert_close(args, rtol):
    """The library's one judge (:func:`jaxmlp.tolerance.compare`), normwise tolerance ``rtol``.

    A leaf out of tolerance must be explained by rounding: within the rounding bound of the δ rule
    at this point, or (float32) as accurate as jax.grad against the float64 truth. An
    ill-conditioned float32 draw (a saturated softmax under sse, where o(1 − o) loses its digits)
    puts every float32 gradient, jax.grad's included, far from the exact one.
    """
    ((value, out), grads), ((ref_value, ref_out), ref_grads) = jax.device_get(
        hand_and_autodiff(*args)
    )
    # two differently compiled programs: equal to rounding, not bit for bit
    np.testing.assert_allclose(out, ref_out, rtol=rtol, atol=rtol)
    assert jax.tree.structure(grads) == jax.tree.structure(ref_grads)
    assert all(
        g.dtype == r.dtype for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads))
    )
    leaves = compare(grads, ref_grads, rtol)
    if not all(leaf.passed for leaf in leaves):  # the evidence of rounding, only when needed
        truth = None
        if grads[0]["w"].dtype == np.float32:
            with jax.enable_x64(True):
                wide = jax.tree.map(lambda a: np.asarray(a, np.float64), args[3:6])
                _, truth = jax.device_get(autodiff(*args[:3], *wide, *args[6:]))
        bound = rounding_bound_of(*args)[0]
        leaves = compare(grads, ref_grads, rtol, truth=truth, bound=bound)
    failed = [(leaf.path, leaf.rel, leaf.leaf_rel) for leaf in leaves if not leaf.passed]
    assert not failed, (args[0], args[1], args[2], failed)
    np.testing.assert_allclose(value, ref_value, rtol=rtol * 10)


@given(st.data())
def test_backprop_equals_jax_grad_float64(data):
    with jax.enable_x64(True):
        assert_close(problem(data.draw, jnp.float64), 1e-10)


@given(st.data())
def test_backprop_equals_jax_grad_float32(data):
    assert_close(problem(data.draw, jnp.float32), 1e-5)


@pytest.mark.parametrize("output", (*OUTPUTS, "step", "elu", "selu", "swish", "mish", "leaky_relu"))
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("n_out", [1, 4])
def test_every_output_and_loss_pair(output, loss, n_out):
    """Every output activation × loss × output width, through the public API and the checker."""
    model = jaxmlp.MLP((5, 6, n_out), ("tanh", output))
    with (
        jax.enable_x64(True),
        jax.disable_jit(),
    ):  # op by op: every case reuses the same compiled ops
        params = model.init(jax.random.key(n_out), dtype=jnp.float64)
        rng = np.random.default_rng(7)
        x = rng.normal(size=(9, 5))
        t = targets(rng, loss, 9, n_out, np.float64)
        report = jaxmlp.check_gradients(
            lambda p, x, t: jaxmlp.backprop(model, p, x, t, loss, "sum", 0.01, 0.001),
            model,
            params,
            x,
            t,
            loss,
            "sum",
            0.01,
            0.001,
        )
        assert report.passed, str(report)


def test_public_api_gradient_equals_jax_grad_and_has_its_structure():
    model = jaxmlp.MLP((784, 32, 10), ("relu", "softmax"))
    params = model.init(jax.random.key(0))
    x = jax.random.uniform(jax.random.key(1), (64, 784))
    labels = jnp.arange(64) % 10
    grads = jaxmlp.backprop(model, params, x, labels)
    ref = jax.grad(lambda p: jaxmlp.loss(model, p, x, labels))(params)
    assert jax.tree.structure(grads) == jax.tree.structure(ref)
    report = jaxmlp.check_gradients(
        lambda p, x, t: jaxmlp.backprop(model, p, x, t), model, params, x, labels
    )
    assert report.passed and report.max_rel < 1e-5, str(report)
    # integer labels and one-hot rows are the same targets
    one_hot = jax.nn.one_hot(labels, 10)
    assert float(jaxmlp.loss(model, params, x, labels)) == float(
        jaxmlp.loss(model, params, x, one_hot)
    )


def test_backprop_is_jit_compatible():
    model = jaxmlp.MLP((4, 3, 2), ("sigmoid", "softmax"))
    params = model.init(jax.random.key(0))
    x, t = jnp.ones((2, 4)), jnp.array([0, 1])
    jitted = jax.jit(lambda p: jaxmlp.backprop(model, p, x, t))(params)
    eager = jaxmlp.backprop(model, params, x, t)
    for a, b in zip(jax.tree.leaves(jitted), jax.tree.leaves(eager)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_reductions_differ_by_the_batch_size():
    model = jaxmlp.MLP((3, 2), ("identity",))
    params = model.init(jax.random.key(0))
    x, t = jnp.ones((4, 3)), jnp.zeros((4, 2))
    mean = jaxmlp.backprop(model, params, x, t, "sse", "mean")
    total = jaxmlp.backprop(model, params, x, t, "sse", "sum")
    np.testing.assert_allclose(total[0]["w"], 4 * mean[0]["w"], rtol=1e-6)


def test_deltas_are_per_example_and_canonical_at_the_output():
    model = jaxmlp.MLP((4, 5, 3), ("tanh", "softmax"))
    params = model.init(jax.random.key(3))
    x = jax.random.normal(jax.random.key(4), (6, 4))
    labels = jnp.array([0, 1, 2, 0, 1, 2])
    ds = jaxmlp.deltas(model, params, x, labels)
    assert [d.shape for d in ds] == [(6, 5), (6, 3)]
    o = model.apply(params, x)
    np.testing.assert_allclose(ds[-1], o - jax.nn.one_hot(labels, 3), atol=1e-6)
    # hidden: δ1 = (w2ᵀ δ2) ⊙ (1 − tanh²(u1))
    u1 = x @ params[0]["w"].T + params[0]["b"][None]
    np.testing.assert_allclose(ds[0], (ds[1] @ params[1]["w"]) * (1 - jnp.tanh(u1) ** 2), atol=1e-6)


def test_kinks_at_exactly_zero_match_jax_grad():
    """Pre-activations exactly 0: zero weights and biases make every hidden u = 0."""
    for act in ("relu", "leaky_relu", "elu", "selu", "prelu", "step"):
        model = jaxmlp.MLP((3, 4, 2), (act, "identity"))
        params = model.init(jax.random.key(0))
        params[0] = {**params[0], "w": jnp.zeros((4, 3)), "b": jnp.zeros(4)}
        x, t = jnp.ones((2, 3)), jnp.ones((2, 2))
        report = jaxmlp.check_gradients(
            lambda p, x, t, m=model: jaxmlp.backprop(m, p, x, t, "sse"),
            model,
            params,
            x,
            t,
            "sse",
            rtol=1e-6,
        )  # a wrong kink convention is an O(1) error
        assert report.passed, (act, str(report))
