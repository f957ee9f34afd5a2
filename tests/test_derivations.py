"""The lecture transcriptions in ``jaxmlp.derivations``, proven in float64: each gradient equals
``jax.grad`` and ``jaxmlp.backprop`` under Hypothesis, the forms agree with each other, and a Δw
step is one ``optax.sgd`` step. The decks' worked numbers are asserted as literals in
test_worked_example.py. Shapes come from a few buckets and the jitted functions live at module
level, so Hypothesis compiles each bucket once."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxmlp
import jaxmlp.derivations.deck000_two_three_one as deck000
import jaxmlp.derivations.deck001_sigmoid_network as deck001
import jaxmlp.derivations.deck002_perceptron as deck002
import jaxmlp.derivations.deck003_computation_graph as deck003
import jaxmlp.derivations.deck004_layer_k as deck004
from jaxmlp.check import check_close
from jaxmlp.core.random_problem import random_problem
from jaxmlp.verify import ACTIVATIONS, PAIRS

ELEMENTWISE = ("identity", "sigmoid", "tanh", "relu")
SEEDS = st.integers(0, 2**31 - 1)
EXAMPLES = max(4, settings().max_examples // 3)  # a third of the profile's (conftest.py)


def sgd_step(params, grads, lr):
    optimizer = optax.sgd(lr)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    return optax.apply_updates(params, updates)


# One compiled function per side and bucket: jaxmlp's side, then each deck's.


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def reference(model, loss, reduction, params, x, t, lr):
    """jaxmlp.backprop's gradient, jaxmlp.deltas, and one optax.sgd(lr) step on that gradient."""
    g = jaxmlp.backprop(model, params, x, t, loss, reduction)
    return g, jaxmlp.deltas(model, params, x, t, loss), sgd_step(params, g, lr)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def layer_k(model, loss, reduction, params, x, t, α):
    """Deck 004: ∂E/∂w, the δ of every layer, and w + Δw with Δw = α δ out."""
    deck = deck004.to_deck(params)
    δ = jax.vmap(lambda x_n, t_n: deck004.deltas(deck, x_n, t_n, model.activations, loss)[1:])(x, t)
    Δ = deck004.from_deck(deck004.updates(deck, x, t, model.activations, loss, reduction, α))
    return deck004.grads(model, params, x, t, loss, reduction), δ, jax.tree.map(jnp.add, params, Δ)


@functools.partial(jax.jit, static_argnums=0)
def two_three_one(f, params, x, t):
    """Deck 000: ∂E/∂w1 … ∂E/∂b4 per scalar, and one step w ← w − α ∂E/∂w."""
    stepped = deck000.step(deck000.to_deck(params), x[:, 0], x[:, 1], t[:, 0], f)
    return deck000.grads(params, x, t, f), deck000.from_deck(stepped)


@jax.jit
def sigmoid_network(params, x, t, η):
    """Deck 001: the index, matrix and chain-rule gradients, and w + Δw from the matrix form."""
    Δ = deck001.matrix_form(params, x.T, t.T, η)
    stepped = [
        {"w": layer["w"] + Δ[f"Δw{n}"], "b": layer["b"] + Δ[f"Δθ{n}"][:, 0]}
        for n, layer in zip((1, 2, 3), params)
    ]
    grads = [
        deck001.grads_index(params, x, t),
        deck001.grads_matrix(params, x, t),
        deck001.grads_chain(params, x, t),
    ]
    return grads, stepped


def assert_is_jax_grad(grads, model, params, x, t, loss, reduction):
    """check_gradients on gradients already computed at ``params`` (it calls grad_fn once there)."""
    report = jaxmlp.check_gradients(lambda *_: grads, model, params, x, t, loss, reduction)
    assert report.passed, str(report)


def assert_close(got, want):
    check = check_close("", "", got, want)
    assert check.passed, check.max_rel


# --- deck 000: the 2-3-1 network ------------------------------------------------------------------


@settings(max_examples=EXAMPLES)
@given(f=st.sampled_from(ELEMENTWISE), batch=st.sampled_from((1, 6)), seed=SEEDS)
def test_deck000_chain_rule_per_scalar(f, batch, seed):
    with jax.enable_x64(True):
        model = jaxmlp.MLP((2, 3, 1), (f, f))
        params, x, t = random_problem(model, "sse", seed, batch)
        grads, stepped = two_three_one(f, params, x, t)
        hand, _, sgd = reference(model, "sse", "sum", params, x, t, deck000.ALPHA)
        assert_is_jax_grad(grads, model, params, x, t, "sse", "sum")
        assert_close(grads, hand)
        assert_close(stepped, sgd)  # w ← w − α ∂E/∂w per scalar is one optax.sgd(α) step
        assert_close(layer_k(model, "sse", "sum", params, x, t, 1.0)[0], grads)  # = deck 004
        assert_close(deck000.from_deck(deck000.to_deck(params)), params)


# --- deck 001: index form, matrix form, chain rule, steepest descent ------------------------------

SIZES001 = ((1, 1, 1, 1), (4, 5, 3, 2), (3, 2, 4, 3))


@settings(max_examples=EXAMPLES)
@given(
    sizes=st.sampled_from(SIZES001),
    batch=st.sampled_from((1, 7)),
    seed=SEEDS,
    η=st.sampled_from((0.5, 0.01)),
)
def test_deck001_three_forms_equal_jax_grad_and_each_other(sizes, batch, seed, η):
    with jax.enable_x64(True):
        model = jaxmlp.MLP(sizes, ("sigmoid",) * 3)
        params, x, t = random_problem(model, "sse", seed, batch)
        (index, matrix, chain), stepped = sigmoid_network(params, x, t, η)
        hand, _, sgd = reference(model, "sse", "sum", params, x, t, η)
        for grads in (index, matrix, chain):
            assert_is_jax_grad(grads, model, params, x, t, "sse", "sum")
            assert_close(grads, hand)
            assert_close(grads, index)
        assert_close(layer_k(model, "sse", "sum", params, x, t, 1.0)[0], index)  # = deck 004
        assert_close(stepped, sgd)  # Δw³ = −η δ³ (o²)′ …: w + Δw is one optax.sgd(η) step


def test_deck001_index_form_of_one_sample_is_the_deck_loops():
    """(4)(5)(6) with literal loops over i, j, k for one sample equals the einsum transcription."""
    with jax.enable_x64(True):
        model = jaxmlp.MLP((3, 4, 2, 2), ("sigmoid",) * 3)
        params, x, t = random_problem(model, "sse", 3, 1)
        (w_km, θ_k), (w_jk, θ_j), (w_ij, θ_i) = (
            (np.asarray(p["w"]), np.asarray(p["b"])) for p in params
        )
        x_m, y_i = np.asarray(x[0]), np.asarray(t[0])
        σ = lambda u: 1 / (1 + np.exp(-u))  # noqa: E731
        o_k = [σ(sum(w_km[k, m] * x_m[m] for m in range(3)) + θ_k[k]) for k in range(4)]
        o_j = [σ(sum(w_jk[j, k] * o_k[k] for k in range(4)) + θ_j[j]) for j in range(2)]
        o_i = [σ(sum(w_ij[i, j] * o_j[j] for j in range(2)) + θ_i[i]) for i in range(2)]
        δ_i = [(o_i[i] - y_i[i]) * o_i[i] * (1 - o_i[i]) for i in range(2)]
        δ_j = [sum(δ_i[i] * w_ij[i, j] for i in range(2)) * o_j[j] * (1 - o_j[j]) for j in range(2)]
        δ_k = [sum(δ_j[j] * w_jk[j, k] for j in range(2)) * o_k[k] * (1 - o_k[k]) for k in range(4)]
        η = 0.3
        Δ = deck001.index_form(params, x[0], t[0], η)
        np.testing.assert_allclose(
            Δ["Δw_ij"], [[-η * δ_i[i] * o_j[j] for j in range(2)] for i in range(2)]
        )
        np.testing.assert_allclose(Δ["Δθ_j"], [-η * d for d in δ_j])
        np.testing.assert_allclose(
            Δ["Δw_km"], [[-η * δ_k[k] * x_m[m] for m in range(3)] for k in range(4)]
        )


def test_deck001_stochastic_descent_with_shrinking_eta_is_optax_sgd_with_that_schedule():
    with jax.enable_x64(True):
        model = jaxmlp.MLP((3, 4, 3, 2), ("sigmoid",) * 3)
        params, x, t = random_problem(model, "sse", 11, 12)
        batches = [(x[i : i + 4], t[i : i + 4]) for i in range(0, 12, 4)]
        assert [float(deck001.eta(s)) for s in range(3)] == [0.5, 0.5 / 1.1, 0.5 / 1.2]
        mine = deck001.descend(params, batches)
        optimizer = optax.sgd(learning_rate=deck001.eta)
        state, theirs = optimizer.init(params), params
        for xb, tb in batches:
            g = jaxmlp.backprop(model, theirs, xb, tb, "sse", "sum")
            updates, state = optimizer.update(g, state, theirs)
            theirs = optax.apply_updates(theirs, updates)
        assert_close(mine, theirs)
        # the Euler step of dw/dt = −∇E: w(t+1) − w(t) = −η ∇E(w(t))
        g = jaxmlp.backprop(model, params, x, t, "sse", "sum")
        assert_close(deck001.euler_step(params, g, 0.1), sgd_step(params, g, 0.1))


@pytest.mark.parametrize("batch", [1, 9])
def test_deck001_training_and_test_error_are_the_mean_of_half_the_squared_error(batch):
    with jax.enable_x64(True):
        model = jaxmlp.MLP((3, 4, 2, 2), ("sigmoid",) * 3)
        params, x, t = random_problem(model, "sse", batch, batch)
        want = np.mean(
            0.5 * np.sum((np.asarray(model.apply(params, x)) - np.asarray(t)) ** 2, axis=1)
        )
        assert float(deck001.mean_error(params, x.T, t.T)) == pytest.approx(want, rel=1e-12)
        assert float(jaxmlp.loss(model, params, x, t, "sse", "mean")) == pytest.approx(
            want, rel=1e-12
        )


# --- deck 003: the computation graph ------------------------------------------------------

SIZES003 = ((3, 2), (4, 6, 3), (5, 4, 4, 3))


@settings(max_examples=EXAMPLES)
@given(sizes=st.sampled_from(SIZES003), batch=st.sampled_from((1, 8)), seed=SEEDS)
def test_deck003_graph_equals_jax_grad_backprop_and_layer_k(sizes, batch, seed):
    with jax.enable_x64(True):
        model = jaxmlp.MLP(sizes, ("tanh",) * (len(sizes) - 2) + ("softmax",))
        loss = "categorical_crossentropy"
        params, x, t = random_problem(model, loss, seed, batch)
        L, grads = graph(params, x, t)
        assert_is_jax_grad(grads, model, params, x, t, loss, "mean")
        assert_close(grads, reference(model, loss, "mean", params, x, t, 0.1)[0])
        assert_close(layer_k(model, loss, "mean", params, x, t, 1.0)[0], grads)  # = deck 004
        assert float(L) == pytest.approx(float(jaxmlp.loss(model, params, x, t, loss)), rel=1e-12)


@jax.jit
def graph(params, x, t):
    L, grads = deck003.backprop_graph(deck003.to_deck(params), x, t)
    return L, deck003.from_deck(grads)


@settings(max_examples=EXAMPLES)
@given(
    batch=st.sampled_from((1, 8)),
    classes=st.sampled_from((2, 5)),
    seed=SEEDS,
    scale=st.sampled_from((0.1, 3.0)),
)
def test_deck003_canonical_link_is_the_general_rule(batch, classes, seed, scale):
    """(ŷ − y)/B, where the backward pass starts, equals the softmax Jacobian times ∂L/∂ŷ."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        A = jnp.asarray(scale * rng.normal(size=(batch, classes)))
        Y = jnp.asarray(np.eye(classes)[rng.integers(0, classes, batch)])
        shortcut, general, softmax = canonical(A, Y)
        np.testing.assert_allclose(shortcut, general, atol=1e-15)
        np.testing.assert_allclose(shortcut, (softmax - Y) / batch, atol=1e-15)


@jax.jit
def canonical(A, Y):
    node = deck003.SoftmaxCrossEntropy()
    node.forward(A, Y)
    return node.backward(), deck003.general_output_delta(A, Y), jax.nn.softmax(A)


def test_deck003_chain_rules_delta_rule_and_logistic_regression():
    with jax.enable_x64(True):
        x = jnp.linspace(-2.0, 2.0, 7)  # (2) for y = tanh(u), u = x²
        np.testing.assert_allclose(
            deck003.chain_rule_2(1 - jnp.tanh(x**2) ** 2, 2 * x),
            jax.vmap(jax.grad(lambda x: jnp.tanh(x**2)))(x),
            rtol=1e-12,
        )
        W = jnp.asarray(
            np.random.default_rng(1).normal(size=(3, 7))
        )  # (4) for z = Σ_j y_j³, y = W x
        np.testing.assert_allclose(
            deck003.chain_rule_4(3 * (W @ x) ** 2, W),
            jax.grad(lambda x: jnp.sum((W @ x) ** 3))(x),
            rtol=1e-12,
        )
        model = jaxmlp.MLP(
            (4, 1), ("sigmoid",)
        )  # logistic regression: no hidden layer, one sigmoid node
        (layer,), x, y = random_problem(model, "binary_crossentropy", 4, 6)
        W = jnp.concatenate([layer["b"], layer["w"][0]])  # W_0 X_0 with X_0 = 1 is the bias
        np.testing.assert_allclose(
            deck003.logistic_regression(W, x), model.apply([layer], x)[:, 0], rtol=1e-12
        )
        g = deck003.logistic_regression_grad(W, x, y[:, 0])
        hand = jaxmlp.backprop(model, [layer], x, y, "binary_crossentropy", "mean")
        assert_close([{"w": g[None, 1:], "b": g[:1]}], hand)
        Δw = [
            {"w": -0.3 * g[None, 1:], "b": -0.3 * g[:1]}
        ]  # w_{t+1} = w_t + Δw_t is one optax.sgd step
        assert_close(deck003.delta_rule([layer], Δw), sgd_step([layer], hand, 0.3))


# --- deck 004: layer k, any activation, any depth -----------------------------------------


@st.composite
def networks(draw):
    depth = draw(st.integers(1, 3))
    sizes = tuple(draw(st.sampled_from((1, 3, 4))) for _ in range(depth + 1))
    hidden = tuple(draw(st.sampled_from(ACTIVATIONS)) for _ in range(depth - 1))
    output, loss = draw(st.sampled_from(PAIRS))
    return jaxmlp.MLP(sizes, (*hidden, output)), loss, draw(st.sampled_from(("mean", "sum")))


@settings(max_examples=EXAMPLES)
@given(
    network=networks(), batch=st.sampled_from((1, 5)), seed=SEEDS, α=st.sampled_from((0.1, 0.001))
)
def test_deck004_layer_k_equals_jax_grad_backprop_and_optax(network, batch, seed, α):
    model, loss, reduction = network
    with jax.enable_x64(True):
        params, x, t = random_problem(model, loss, seed, batch)
        grads, δ, stepped = layer_k(model, loss, reduction, params, x, t, α)
        hand, hand_δ, sgd = reference(model, loss, reduction, params, x, t, α)
        assert_is_jax_grad(grads, model, params, x, t, loss, reduction)
        assert_close(grads, hand)
        assert_close(δ, [-d for d in hand_δ])  # the lecture's δ = −∂E/∂in is minus jaxmlp's
        assert_close(stepped, sgd)  # w + Δw with Δw = α δ out is one optax.sgd(α) step


def test_deck004_the_printed_output_update_climbs_the_error():
    """Δw = −α (t − out) f′ out as printed is +α ∂E/∂w; the corrected sign is −α ∂E/∂w."""
    assert deck004.output_update(1.0, 1.0, 0.5, 0.25, 1.0) == 0.125
    assert deck004.output_update_as_printed(1.0, 1.0, 0.5, 0.25, 1.0) == -0.125
    with jax.enable_x64(True):
        model = jaxmlp.MLP((3, 2), ("sigmoid",))  # one layer: the output layer M, out^{M−1} = x
        params, x, t = random_problem(model, "sse", 8, 1)
        (_, out), α = deck004.forward(deck004.to_deck(params), x[0], model.activations), 0.01
        f_prime, dE_dw = (
            out[1] * (1 - out[1]),
            jaxmlp.backprop(model, params, x, t, "sse", "sum")[0]["w"].T,
        )
        right = deck004.output_update(
            α, t[0][None, :], out[1][None, :], f_prime[None, :], x[0][:, None]
        )
        printed = deck004.output_update_as_printed(
            α, t[0][None, :], out[1][None, :], f_prime[None, :], x[0][:, None]
        )
        np.testing.assert_allclose(right, -α * dE_dw, rtol=1e-12)  # descent
        np.testing.assert_allclose(printed, α * dE_dw, rtol=1e-12)  # ascent


@pytest.mark.parametrize("λ", [0.0, 0.01, 0.5])
def test_deck004_l2_and_l1_are_jaxmlps_with_l2_doubled(λ):
    with jax.enable_x64(True):
        model = jaxmlp.MLP((3, 4, 2), ("tanh", "identity"))
        params, x, t = random_problem(model, "sse", 6, 5)
        assert float(deck004.l2_term(params, λ)) == pytest.approx(
            float(jaxmlp.penalty(params, l2=2 * λ))
        )
        assert float(deck004.l1_term(params, λ)) == pytest.approx(
            float(jaxmlp.penalty(params, l1=λ))
        )
        E = lambda p: jaxmlp.loss(model, p, x, t, "sse", "sum") + deck004.l2_term(p, λ)  # noqa: E731
        assert_close(
            jaxmlp.backprop(model, params, x, t, "sse", "sum", l2=2 * λ), jax.grad(E)(params)
        )


# --- every deck's own checks, as jaxmlp verify runs them ------------------------------------------


@pytest.mark.parametrize(
    "module",
    [deck000, deck001, deck002, deck003, deck004],
    ids=lambda module: module.__name__.rsplit(".", 1)[-1],
)
def test_every_deck_checks_pass(module):
    with jax.enable_x64(True):
        checks = module.checks(seed=5)
    assert checks and all(c.passed for c in checks), [c for c in checks if not c.passed]
