"""Deck 001: the sigmoid network M → H1 → H2 → N trained with the δ rule in matrix form.

Follows deck 001 ("学習理論の練習 1"), slides 「ミニバッチを実装してみる」 and 「行列で書く」: the
k samples of a mini-batch are the columns of x (M × k) and y (N × k), I_k is the 1 × k row of
ones, and

    o¹ = σ(w¹ x + θ¹ I_k)            δ³ = (o³ − y) · o³ · (1 − o³)
    o² = σ(w² o¹ + θ² I_k)           δ² = ((w³)' δ³) · o² · (1 − o²)
    o³ = σ(w³ o² + θ³ I_k)           δ¹ = ((w²)' δ²) · o¹ · (1 − o¹)
    Δwˡ = −η(t) δˡ (oˡ⁻¹)'           Δθˡ = −η(t) δˡ (I_k)'      (o⁰ = x)

with η(t) shrinking little by little (slide 「最急降下法 → 確率降下法、ミニバッチなど」; the
schedule η(t) = η₀ / (1 + t / τ), t in epochs, is ours: the deck gives none). The slide
「学習誤差とテスト誤差」 defines the errors plotted: the mean over the samples of
E = 1/2 Σ_i (o_i − y_i)², on the training and on the test data. Data: scikit-learn's 8×8 digits
(M = 64 inputs, N = 10 one-hot outputs). The equations are the transcription
``jaxmlp.derivations.deck001_sigmoid_network`` (``matrix_form``, ``mean_error``); its matrix-form
gradient is first checked against jaxmlp.backprop and jax.grad.

Run: python examples/deck001_sigmoid_matrix_form.py [--out DIR] [--force]
(about ten seconds; JAXMLP_QUICK=1: 12 epochs instead of 40, still well above chance)
"""

import argparse
import os
import sys
from pathlib import Path

import jax
import numpy as np

import jaxmlp
from jaxmlp import data, plot
from jaxmlp.derivations import deck001_sigmoid_network as deck001

QUICK = os.environ.get("JAXMLP_QUICK") == "1"
H1, H2 = 32, 16
K = 32  # samples per mini-batch (columns of x)
ETA0, TAU = 0.5, 10.0  # η(t) = ETA0 / (1 + t / TAU), t in epochs
EPOCHS = 12 if QUICK else 40
PICTURE = "errors.png"


@jax.jit
def epoch(params, x, y, batches, eta):
    """One pass: w ← w + Δw (deck001.matrix_form) on the columns ``batches[j]`` (k each), all j."""
    def body(params, cols):
        Δ = deck001.matrix_form(params, x[:, cols], y[:, cols], eta)
        return [{"w": layer["w"] + Δ[f"Δw{n}"], "b": layer["b"] + Δ[f"Δθ{n}"][:, 0]}
                for n, layer in zip((1, 2, 3), params)], None

    return jax.lax.scan(body, params, batches)[0]


mean_error = jax.jit(deck001.mean_error)  # the mean over the columns of E = 1/2 Σ_i (o_i − y_i)²


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/deck001_sigmoid_matrix_form",
                        help="folder for the picture")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true",
                        help=f"replace an existing {PICTURE} in --out")
    args = parser.parse_args()
    if (Path(args.out) / PICTURE).exists() and not args.force:
        sys.exit(f"{Path(args.out) / PICTURE} already exists; "
                 "pass --force to replace it, or another --out")

    (x_train, t_train), (x_test, t_test) = data.load("digits")
    # samples as columns: x is M × n, y is N × n
    x, y = x_train.T, data.one_hot(t_train, 10).T
    xt, yt = x_test.T, data.one_hot(t_test, 10).T
    (M, n), N = x.shape, y.shape[0]
    model = jaxmlp.MLP((M, H1, H2, N), ("sigmoid", "sigmoid", "sigmoid"))
    key, key_init = jax.random.split(jax.random.key(args.seed))
    params = model.init(key_init)  # w¹ is H1 × M, w² H2 × H1, w³ N × H2 (a row per neuron); θ = b
    print(f"network M → H1 → H2 → N = {M} → {H1} → {H2} → {N}, sigmoid everywhere; "
          f"{n} training and {xt.shape[1]} test samples as columns; mini-batches of k = {K}")

    xb, yb = x[:, :K], y[:, :K]  # deck001.grads_* take samples as rows, as jaxmlp does
    mine = jax.jit(deck001.grads_matrix)(params, xb.T, yb.T)
    library = jaxmlp.backprop(model, params, xb.T, yb.T, loss="sse", reduction="sum")
    autodiff = jax.grad(lambda p: jaxmlp.loss(model, p, xb.T, yb.T, "sse", "sum"))(params)
    for name, other in (("jaxmlp.backprop", library), ("jax.grad", autodiff)):
        pairs = zip(jax.tree.leaves(jax.device_get(mine)), jax.tree.leaves(jax.device_get(other)))
        worst = max(np.abs(a - b).max() / np.abs(b).max() for a, b in pairs)
        print(f"matrix-form gradient vs {name:<15}: "
              f"largest difference {worst:.1e} of the largest entry")

    history = {"training error": [], "test error": []}
    print(f"{'epoch':>5} {'η(t)':>8} {'training error':>15} {'test error':>11}")
    for t in range(EPOCHS):
        eta = ETA0 / (1 + t / TAU)
        order = np.asarray(jax.random.permutation(jax.random.fold_in(key, t), n))
        # the n % k left over wait for the next shuffle
        batches = order[: n // K * K].reshape(n // K, K)
        params = epoch(params, x, y, batches, eta)
        history["training error"].append(float(mean_error(params, x, y)))
        history["test error"].append(float(mean_error(params, xt, yt)))
        if t % max(1, EPOCHS // 10) == 0 or t == EPOCHS - 1:
            print(f"{t + 1:>5} {eta:>8.4f} {history['training error'][-1]:>15.4f} "
                  f"{history['test error'][-1]:>11.4f}")
    accuracy = float(np.mean(np.argmax(np.asarray(model.apply(params, xt.T)), axis=1) == t_test))
    print(f"test accuracy after {EPOCHS} epochs: {accuracy:.1%}")
    path = plot.curves(history, Path(args.out) / PICTURE, ylabel="mean of 1/2 Σ (o − y)²",
                       title=f"deck 001: sigmoid {M}-{H1}-{H2}-{N}, η(t) = {ETA0}/(1 + t/{TAU:g})")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
