"""The MLP description, initialisation, apply, summary, and every bad input's error."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmlp

DECK002 = jaxmlp.MLP(sizes=(784, 32, 10), activations=("relu", "softmax"))


def test_description_is_frozen_hashable_and_static():
    same = jaxmlp.MLP([784, 32, 10], ["relu", "softmax"])
    assert same == DECK002 and hash(same) == hash(DECK002)
    with pytest.raises(AttributeError):
        DECK002.sizes = (1, 2)
    calls = []

    @jax.jit
    def run(x):
        return apply_static(DECK002, x)

    def apply_static(model, x):
        calls.append(model)
        return x

    run(jnp.ones(2))
    assert calls == [DECK002]
    out = jax.jit(lambda m, p, x: m.apply(p, x), static_argnums=0)(
        DECK002, DECK002.init(jax.random.key(0)), jnp.ones(784)
    )
    assert out.shape == (10,)


def test_deck002_parameter_counts_and_summary():
    # deck 002: (784 + 1) × 32 = 25,120, (32 + 1) × 10 = 330, total 25,450
    assert DECK002.layer_params(0) == 25_120
    assert DECK002.layer_params(1) == 330
    assert DECK002.num_params == 25_450
    text = DECK002.summary()
    for needle in (
        "Layer (type)",
        "Output Shape",
        "Param #",
        "25,120",
        "330",
        "Total params: 25,450",
        "(None, 32)",
        "(None, 10)",
    ):
        assert needle in text
    params = DECK002.init(jax.random.key(0))
    assert sum(leaf.size for leaf in jax.tree.leaves(params)) == DECK002.num_params


def test_summary_shows_itself_as_the_table_and_print_summary_prints_it(capsys):
    summary = DECK002.summary()
    assert isinstance(summary, str)  # kept as a string for those who want one
    assert repr(summary) == str(summary)  # the REPL shows the table, not 'Model: "mlp"\n┌…'
    assert repr(summary).startswith(
        'Model: "mlp"\n┌'
    ) and "Total params: 25,450 (101.8 kB)" in repr(summary)
    assert DECK002.print_summary() is None
    assert capsys.readouterr().out == str(summary) + "\n"


def test_init_shapes_and_defaults():
    params = DECK002.init(jax.random.key(0))
    assert [sorted(layer) for layer in params] == [["b", "w"], ["b", "w"]]
    assert params[0]["w"].shape == (32, 784) and params[0]["b"].shape == (32,)
    assert params[1]["w"].shape == (10, 32) and params[1]["b"].shape == (10,)
    assert params[0]["w"].dtype == jnp.float32
    assert float(jnp.max(jnp.abs(params[0]["b"]))) == 0.0
    limit = math.sqrt(6 / (784 + 32))
    assert float(jnp.max(jnp.abs(params[0]["w"]))) <= limit
    assert float(jnp.max(jnp.abs(params[0]["w"]))) > 0.9 * limit  # uniform fills the range


@pytest.mark.parametrize(
    "init,std",
    [
        ("he_uniform", math.sqrt(6 / 400) / math.sqrt(3)),
        ("he_normal", math.sqrt(2 / 400)),
        ("lecun_normal", math.sqrt(1 / 400)),
        ("normal", 0.05),
        ("glorot_uniform", math.sqrt(2 / 600)),
    ],
)
def test_initialiser_scales(init, std):
    w = jaxmlp.MLP((400, 200), ("tanh",)).init(jax.random.key(1), init=init, sigma=0.05)[0]["w"]
    assert float(jnp.std(w)) == pytest.approx(std, rel=0.05)
    assert abs(float(jnp.mean(w))) < 0.1 * std


def test_init_is_deterministic_under_the_key_and_accepts_float64():
    a = DECK002.init(jax.random.key(3))
    b = DECK002.init(jax.random.key(3))
    c = DECK002.init(jax.random.key(4))
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    assert not np.array_equal(a[0]["w"], c[0]["w"])
    with jax.enable_x64(True):
        assert DECK002.init(jax.random.key(0))[0]["w"].dtype == jnp.float64
    assert DECK002.init(jax.random.PRNGKey(0))[0]["w"].shape == (32, 784)


def test_prelu_layers_carry_a_learnable_slope():
    model = jaxmlp.MLP((4, 3, 2), ("prelu", "softmax"))
    params = model.init(jax.random.key(0))
    assert params[0]["a"].shape == (3,) and float(params[0]["a"][0]) == 0.25
    assert "a" not in params[1]
    assert model.num_params == 5 * 3 + 3 + 4 * 2
    grads = jaxmlp.backprop(model, params, jnp.ones((2, 4)), jnp.array([0, 1]))
    assert grads[0]["a"].shape == (3,)


def test_apply_one_example_and_a_batch_agree():
    params = DECK002.init(jax.random.key(0))
    x = jax.random.uniform(jax.random.key(1), (5, 784))
    batch = DECK002.apply(params, x)
    assert batch.shape == (5, 10)
    np.testing.assert_allclose(batch[2], DECK002.apply(params, x[2]), rtol=1e-6)
    np.testing.assert_allclose(jnp.sum(batch, axis=1), 1.0, rtol=1e-6)
    # u = w @ o_prev + b, row = neuron, as the lectures write it
    hidden = jnp.maximum(params[0]["w"] @ x[2] + params[0]["b"], 0)
    np.testing.assert_allclose(
        batch[2], jax.nn.softmax(params[1]["w"] @ hidden + params[1]["b"]), rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(sizes=(784,), activations=()), ValueError, "sizes: expected at least"),
        (
            dict(sizes=(784, 0, 10), activations=("relu", "softmax")),
            ValueError,
            "expected every size >= 1",
        ),
        (dict(sizes=(784, 2.5, 10), activations=("relu", "softmax")), TypeError, "integers"),
        (dict(sizes=(784, True), activations=("relu",)), TypeError, "integers"),
        (dict(sizes=(784, 32, 10), activations=("relu",)), ValueError, "expected 2 .one per layer"),
        (dict(sizes=(784, 10), activations="softmax"), TypeError, "one per layer"),
        (dict(sizes=(784, 10), activations=("sofmax",)), ValueError, "unknown name 'sofmax'"),
        (dict(sizes=784, activations=("relu",)), TypeError, "sizes: expected a sequence"),
    ],
)
def test_bad_descriptions(kwargs, error, match):
    with pytest.raises(error, match=match):
        jaxmlp.MLP(**kwargs)


def test_bad_init_arguments():
    with pytest.raises(ValueError, match="init: expected one of"):
        DECK002.init(jax.random.key(0), init="xavier")
    with pytest.raises(ValueError, match="sigma"):
        DECK002.init(jax.random.key(0), init="normal", sigma=-1.0)
    with pytest.raises(TypeError, match="key: expected one jax.random key"):
        DECK002.init(0)
    with pytest.raises(TypeError, match="dtype"):
        DECK002.init(jax.random.key(0), dtype=jnp.int32)


@pytest.fixture
def setup():
    params = DECK002.init(jax.random.key(0))
    return params, jnp.zeros((4, 784)), jnp.array([0, 1, 2, 3])


@pytest.mark.parametrize(
    "mutate,error,match",
    [
        (lambda p, x, t: (p, jnp.zeros((4, 783)), t), ValueError, r"x: expected shape \(B, 784\)"),
        (lambda p, x, t: (p, x, jnp.zeros((4, 9))), ValueError, r"t: expected shape \(4, 10\)"),
        (lambda p, x, t: (p, x, jnp.array([0, 1, 2])), ValueError, r"t: expected shape"),
        (
            lambda p, x, t: (p, x, jnp.array([0, 1, 2, 10])),
            ValueError,
            r"labels must lie in \[0, 9\]",
        ),
        (lambda p, x, t: (p, x, jnp.array([0, -1, 2, 3])), ValueError, "labels must lie"),
        (lambda p, x, t: (p, jnp.zeros((4, 784), jnp.int32), t), TypeError, "x: expected floating"),
        (
            lambda p, x, t: (p, x.at[2, 5].set(jnp.nan), t),
            ValueError,
            "NaN or infinity .first in row 2",
        ),
        (lambda p, x, t: (p[:1], x, t), ValueError, "params: expected a list of 2"),
        (
            lambda p, x, t: ([p[0], {"w": p[1]["w"].T, "b": p[1]["b"]}], x, t),
            ValueError,
            r"params\[1\]\['w'\]: expected shape \(10, 32\)",
        ),
        (
            lambda p, x, t: ([p[0], {"w": p[1]["w"]}], x, t),
            ValueError,
            r"params\[1\]: expected keys",
        ),
        (
            lambda p, x, t: (p, x, np.array(["a", "b", "c", "d"], dtype=object)),
            TypeError,
            "t: expected a numeric",
        ),
    ],
)
def test_bad_inputs_are_clear_errors(setup, mutate, error, match):
    params, x, t = mutate(*setup)
    for fn in (jaxmlp.loss, jaxmlp.backprop):
        with pytest.raises(error, match=match):
            fn(DECK002, params, x, t)


def test_bad_loss_reduction_and_rates(setup):
    params, x, t = setup
    with pytest.raises(ValueError, match="loss: unknown name"):
        jaxmlp.backprop(DECK002, params, x, t, loss="cross_entropy")
    with pytest.raises(ValueError, match="reduction: expected one of"):
        jaxmlp.loss(DECK002, params, x, t, reduction="avg")
    with pytest.raises(ValueError, match="l2: expected a finite number >= 0"):
        jaxmlp.loss(DECK002, params, x, t, l2=-0.1)
    with pytest.raises(TypeError, match="model: expected a jaxmlp.MLP"):
        jaxmlp.loss("mlp", params, x, t)
    with pytest.raises(ValueError, match=r"x: expected shape \(B, 784\) or \(784,\)"):
        DECK002.apply(params, jnp.zeros((2, 3, 784)))
