"""Numbers worked by hand and asserted as literals (the kind of scikit-learn's ``test_fit``).

The first test is deck 000's 2-3-1 network with small fixed weights, its forward pass, every
gradient and one α = 0.001 step written out in the comments; the others hold the decks' own
worked numbers. Everything runs in float64; the hand numbers carry 6 significant digits, so
they are asserted to a relative 1e-5 (exact fractions where the deck's numbers are exact).
"""

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
import jaxmlp.derivations.deck000_two_three_one as deck000
import jaxmlp.derivations.deck002_perceptron as deck002
import jaxmlp.derivations.deck004_layer_k as deck004


def test_deck000_two_three_one_by_hand():
    # One image x = (x1, x2) = (1, 0.5) with target t = 1; f is the sigmoid,
    # f'(u) = f(u) (1 − f(u)).
    w = {
        "w1": 0.1,
        "w2": 0.2,
        "w3": -0.3,
        "w4": 0.4,
        "w5": 0.5,
        "w6": -0.6,
        "w7": 0.7,
        "w8": -0.8,
        "w9": 0.9,
        "b1": 0.1,
        "b2": 0.0,
        "b3": -0.1,
        "b4": 0.2,
    }
    # Forward, neuron by neuron (deck 000, 順伝搬):
    #   u1 = w1 x1 + w2 x2 + b1 = 0.1·1 + 0.2·0.5 + 0.1  =  0.3     f(u1) = 0.574443
    #   u2 = w3 x1 + w4 x2 + b2 = −0.3·1 + 0.4·0.5 + 0   = −0.1     f(u2) = 0.475021
    #   u3 = w5 x1 + w6 x2 + b3 = 0.5·1 − 0.6·0.5 − 0.1  =  0.1     f(u3) = 0.524979
    #   u4 = w7 f(u1) + w8 f(u2) + w9 f(u3) + b4
    #      = 0.7·0.574443 − 0.8·0.475021 + 0.9·0.524979 + 0.2
    #      = 0.402110 − 0.380017 + 0.472481 + 0.2 = 0.694574
    #   y  = f(u4) = 0.666984
    #   E  = ½ (y − t)² = ½ (−0.333016)² = 0.0554499
    # Backward, output → hidden → input:
    #   δ4 = ∂E/∂u4 = (y − t) f'(u4) = −0.333016 · 0.222116 = −0.0739684
    #   ∂E/∂w7 = δ4 f(u1) = −0.0739684 · 0.574443 = −0.0424906
    #   ∂E/∂w8 = δ4 f(u2) = −0.0739684 · 0.475021 = −0.0351365
    #   ∂E/∂w9 = δ4 f(u3) = −0.0739684 · 0.524979 = −0.0388319      ∂E/∂b4 = δ4 = −0.0739684
    #   δ1 = δ4 w7 f'(u1) = −0.0739684 ·  0.7 · 0.244458 = −0.0126575
    #   δ2 = δ4 w8 f'(u2) = −0.0739684 · −0.8 · 0.249376 =  0.0147568
    #   δ3 = δ4 w9 f'(u3) = −0.0739684 ·  0.9 · 0.249376 = −0.0166013
    #   ∂E/∂w1 = δ1 x1 = −0.0126575   ∂E/∂w2 = δ1 x2 = −0.00632876   ∂E/∂b1 = δ1 = −0.0126575
    #   ∂E/∂w3 = δ2 x1 =  0.0147568   ∂E/∂w4 = δ2 x2 =  0.00737838   ∂E/∂b2 = δ2 =  0.0147568
    #   ∂E/∂w5 = δ3 x1 = −0.0166013   ∂E/∂w6 = δ3 x2 = −0.00830067   ∂E/∂b3 = δ3 = −0.0166013
    u = {"u1": 0.3, "u2": -0.1, "u3": 0.1, "u4": 0.694574, "y": 0.666984}
    dE = {
        "w1": -0.0126575,
        "w2": -0.00632876,
        "w3": 0.0147568,
        "w4": 0.00737838,
        "w5": -0.0166013,
        "w6": -0.00830067,
        "w7": -0.0424906,
        "w8": -0.0351365,
        "w9": -0.0388319,
        "b1": -0.0126575,
        "b2": 0.0147568,
        "b3": -0.0166013,
        "b4": -0.0739684,
    }
    # One step w ← w − α ∂E/∂w with α = 0.001: each weight moves by −α ∂E/∂w, e.g.
    #   w7: 0.7 − 0.001 · (−0.0424906) = 0.7 + 0.0000424906 = 0.700042
    #   b2: 0   − 0.001 · 0.0147568    = −0.0000147568
    # and E falls from 0.0554499 to 0.0554384, by 1.14889e-5 ≈ α |∇E|² = 0.001 · 0.0114898.
    with jax.enable_x64(True):
        p = {name: jnp.asarray(value) for name, value in w.items()}
        x1, x2, t = jnp.asarray([1.0]), jnp.asarray([0.5]), jnp.asarray([1.0])
        forward = deck000.forward(p, x1, x2, "sigmoid")
        for name, value in u.items():
            assert float(forward[name][0]) == pytest.approx(value, rel=1e-5), name
        before = float(deck000.E(forward["y"], t))
        assert before == pytest.approx(0.0554499, rel=1e-5)
        hand = deck000.gradient(p, x1, x2, t, "sigmoid")
        for name, value in dE.items():
            assert float(hand[name]) == pytest.approx(value, rel=1e-5), name

        model = jaxmlp.MLP((2, 3, 1), ("sigmoid", "sigmoid"))
        params, x, t_rows = deck000.from_deck(p), jnp.asarray([[1.0, 0.5]]), jnp.asarray([[1.0]])
        library = deck000.to_deck(jaxmlp.backprop(model, params, x, t_rows, "sse", "sum"))
        for name, value in dE.items():
            assert float(library[name]) == pytest.approx(value, rel=1e-5), name
        δ = jaxmlp.deltas(model, params, x, t_rows, "sse")  # ∂E/∂u per layer: (δ1, δ2, δ3), (δ4,)
        np.testing.assert_allclose(δ[0][0], [-0.0126575, 0.0147568, -0.0166013], rtol=1e-5)
        np.testing.assert_allclose(δ[1][0], [-0.0739684], rtol=1e-5)

        stepped = deck000.step(p, x1, x2, t, "sigmoid", alpha=0.001)
        for name, value in dE.items():
            assert float(stepped[name] - p[name]) == pytest.approx(-0.001 * value, rel=1e-5), name
        assert float(stepped["w7"]) == pytest.approx(0.700042, rel=1e-5)
        assert float(stepped["b2"]) == pytest.approx(-0.0000147568, rel=1e-5)
        after = float(deck000.E(deck000.forward(stepped, x1, x2, "sigmoid")["y"], t))
        assert after == pytest.approx(0.0554384, rel=1e-5)
        assert before - after == pytest.approx(1.14889e-5, rel=1e-5)
    # the same step through jaxmlp.fit (plain SGD, α = 0.001, one batch of one row), in float32
    params = deck000.from_deck({name: jnp.float32(value) for name, value in w.items()})
    fitted, _ = jaxmlp.fit(
        model,
        params,
        np.float32([[1.0, 0.5]]),
        np.float32([[1.0]]),
        optimizer=optax.sgd(0.001),
        loss="sse",
        reduction="sum",
        epochs=1,
        batch_size=1,
        metrics=(),
        verbose=0,
    )
    fitted = deck000.to_deck(fitted)
    for name, value in dE.items():
        assert float(fitted[name]) == pytest.approx(w[name] - 0.001 * value, rel=1e-5), name
    assert float(fitted["w7"]) == pytest.approx(0.700042, rel=1e-5)


def test_deck000_worked_numbers_exactly():
    assert deck000.E([Fraction("0.3"), Fraction("0.8"), Fraction("0.2")], [0, 1, 0]) == Fraction(
        "0.085"
    )
    assert deck000.E([0.3, 0.8, 0.2], [0.0, 1.0, 0.0]) == pytest.approx(0.085, rel=1e-15)
    exact = {
        label: ([Fraction(str(v)) for v in y], [Fraction(str(v)) for v in t])
        for label, (y, t) in deck000.TABLES.items()
    }
    sums = [
        (deck000.sum_of_differences(*table), deck000.sum_of_squares(*table))
        for table in exact.values()
    ]
    assert sums == [
        (0, 0),
        (Fraction("0.2"), Fraction("0.18")),
        (Fraction("0.2"), Fraction("1.50")),
    ]
    floats = [
        (deck000.sum_of_differences(*table), deck000.sum_of_squares(*table))
        for table in deck000.TABLES.values()
    ]
    np.testing.assert_allclose(floats, [(0, 0), (0.2, 0.18), (0.2, 1.50)], rtol=1e-14, atol=1e-15)
    # ② and ③ are indistinguishable by their sums of differences, not by their sums of squares
    printed = [[Fraction(str(v)) for v in c] for c in deck000.TABLE_3_AS_PRINTED]
    assert (deck000.sum_of_differences(*printed), deck000.sum_of_squares(*printed)) == (
        0,
        Fraction("1.70"),
    )


def test_deck002_worked_numbers_exactly():
    x, w = (
        [Fraction(1), Fraction(2), Fraction("0.5")],
        [Fraction("0.5"), Fraction("0.2"), Fraction(-1)],
    )
    assert deck002.mu(x, w) == Fraction("0.4")
    μ, z = deck002.perceptron(deck002.X, deck002.W)
    assert float(μ) == pytest.approx(0.4, rel=1e-7) and float(z) == 1.0
    assert float(deck002.perceptron(deck002.X, (0.5, 0.2, -2.0))[1]) == 0.0  # μ = −0.1: no fire
    model = deck002.keras_mnist_model()
    assert (model.layer_params(0), model.layer_params(1), model.num_params) == (25_120, 330, 25_450)
    assert "25,450" in model.summary()
    fit = deck002.fit_arithmetic()
    assert fit == {"train": 48_000, "validation": 12_000, "updates_per_epoch": 750}
    # 64 × 750 = 48,000: jaxmlp's batches of 64 over the 48,000 training rows are 750 full ones
    assert [len(b) for b in jaxmlp.data.batches(None, fit["train"], 64)] == [64] * 750


def test_deck002_shapes_pixels_one_hot_and_softmax():
    assert deck002.shapes_after_preprocessing() == {
        "x_train": (60000, 784),
        "y_train": (60000, 10),
        "x_test": (10000, 784),
        "y_test": (10000, 10),
    }
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    x = np.asarray(deck002.preprocess(jnp.asarray(images)))
    assert x.shape == (3, 784) and x.min() >= 0 and x.max() <= 1
    np.testing.assert_allclose(x * 255, images.reshape(3, 784), rtol=1e-6)
    labels = jnp.asarray([5, 0, 4, 1, 9, 2])
    np.testing.assert_array_equal(deck002.to_categorical(labels), jaxmlp.data.one_hot(labels, 10))
    weather = deck002.softmax(jnp.log(jnp.asarray([0.7, 0.2, 0.1])))  # 晴れ, 雨, 曇り
    np.testing.assert_allclose(weather, [0.7, 0.2, 0.1], rtol=1e-6)
    assert float(jnp.sum(deck002.softmax(jnp.asarray([3.0, -1.0, 0.5, 8.0])))) == pytest.approx(
        1, rel=1e-6
    )
    assert sum(deck002.TEST_1) == pytest.approx(
        1, abs=1e-7
    )  # the printed predictions are probabilities
    assert sum(deck002.TEST2_1) == pytest.approx(1, abs=1e-7)
    np.testing.assert_array_equal(np.around(deck002.TEST2_1, 3), np.eye(10)[2])


def test_deck004_cross_entropy_split_and_five_folds():
    p, q = (
        jnp.asarray([[1.0, 0.0, 0.0], [0.2, 0.5, 0.3]]),
        jnp.asarray([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]]),
    )
    np.testing.assert_allclose(
        deck004.H(p, q),
        [-np.log(0.7), -(0.2 * np.log(0.1) + 0.5 * np.log(0.6) + 0.3 * np.log(0.3))],
        rtol=1e-6,
    )
    parts = deck004.split(jax.random.key(0), 60_000, (0.6, 0.2, 0.2))
    assert [len(s) for s in parts] == [36_000, 12_000, 12_000]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(60_000))
    for fractions in ((0.5, 0.25, 0.25), (0.85, 0.1, 0.05)):  # outside 60–80 / 10–20 / 10–20 %
        with pytest.raises(ValueError, match="deck 004"):
            deck004.split(jax.random.key(0), 100, fractions)
    held = [v.tolist() for _, v in deck004.patterns(10)]
    assert held == [[8, 9], [6, 7], [4, 5], [2, 3], [0, 1]]  # パターン1 validates the last fold
    assert deck004.pattern_table(10) == deck004.PATTERNS
