"""Deck 001: the sigmoid network M → H1 → H2 → N trained with the δ rule in matrix form.

Follows deck 001 ("学習理論の練習 1"), slides 「ミニバッチを実装してみる」 and 「行列で書く」: the k samples
of a mini-batch are the columns of x (M × k) and y (N × k), I_k is the 1 × k row of ones, and

    o¹ = σ(w¹ x + θ¹ I_k)            δ³ = (o³ − y) · o³ · (1 − o³)
    o² = σ(w² o¹ + θ² I_k)           δ² = ((w³)' δ³) · o² · (1 − o²)
    o³ = σ(w³ o² + θ³ I_k)           δ¹ = ((w²)' δ²) · o¹ · (1 − o¹)
    Δwˡ = −η(t) δˡ (oˡ⁻¹)'           Δθˡ = −η(t) δˡ (I_k)'      (o⁰ = x)

with a shrinking η(t) = η₀ / (1 + t / τ) (slide 「最急降下法 → 確率降下法、ミニバッチなど」). The slide
「学習誤差とテスト誤差」 defines the errors plotted: the mean over the samples of
E = 1/2 Σ_i (o_i − y_i)², on the training and on the test data. Data: scikit-learn's 8×8 digits
(M = 64 inputs, N = 10 one-hot outputs). The matrix-form gradient is first checked against
jaxmlp.backprop and jax.grad.

Run: python examples/deck001_sigmoid_matrix_form.py [--out DIR]   (about ten seconds; JAXMLP_QUICK=1: two)
"""

import argparse
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxmlp
from jaxmlp import data, plot

QUICK = os.environ.get("JAXMLP_QUICK") == "1"
H1, H2 = 32, 16
K = 32  # samples per mini-batch (columns of x)
ETA0, TAU = 0.5, 10.0  # η(t) = ETA0 / (1 + t / TAU), t in epochs
EPOCHS = 4 if QUICK else 40


def sigma(u):
    return 1.0 / (1.0 + jnp.exp(-u))


def forward(params, x):
    """o¹, o², o³ for the columns of x (M × k)."""
    ones = jnp.ones((1, x.shape[1]), x.dtype)  # I_k
    os_ = [x]
    for layer in params:
        os_.append(sigma(layer["w"] @ os_[-1] + layer["b"][:, None] @ ones))
    return os_


def gradients(params, x, y):
    """∂E/∂w and ∂E/∂θ of E = 1/2 Σ (o³ − y)² over the k columns, by deck 001 (4)-(6) in matrix form."""
    o0, o1, o2, o3 = forward(params, x)
    ones = jnp.ones((1, x.shape[1]), x.dtype)
    d3 = (o3 - y) * o3 * (1 - o3)
    d2 = (params[2]["w"].T @ d3) * o2 * (1 - o2)
    d1 = (params[1]["w"].T @ d2) * o1 * (1 - o1)
    return [{"w": d @ o.T, "b": (d @ ones.T)[:, 0]} for d, o in ((d1, o0), (d2, o1), (d3, o2))]


def step(params, x, y, eta):
    """w ← w + Δw with Δw = −η δ (o)', θ ← θ + Δθ with Δθ = −η δ (I_k)'."""
    return jax.tree.map(lambda p, g: p - eta * g, params, gradients(params, x, y))


@jax.jit
def epoch(params, x, y, batches, eta):
    """One pass: a step on the columns ``batches[j]`` (k indices each), for every j in turn."""
    def body(params, cols):
        return step(params, x[:, cols], y[:, cols], eta), None

    return jax.lax.scan(body, params, batches)[0]


@jax.jit
def mean_error(params, x, y):
    """The mean over the columns of E = 1/2 Σ_i (o_i − y_i)² (deck 001's training / test error)."""
    return 0.5 * jnp.sum((forward(params, x)[-1] - y) ** 2) / x.shape[1]


@jax.jit
def classify(params, x):
    """The class of each column: the output neuron with the largest o³."""
    return jnp.argmax(forward(params, x)[-1], axis=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/deck001_sigmoid_matrix_form", help="folder for the picture")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

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

    xb, yb = x[:, :K], y[:, :K]
    mine = jax.jit(gradients)(params, xb, yb)
    library = jaxmlp.backprop(model, params, xb.T, yb.T, loss="sse", reduction="sum")
    autodiff = jax.jit(jax.grad(lambda p: 0.5 * jnp.sum((forward(p, xb)[-1] - yb) ** 2)))(params)
    for name, other in (("jaxmlp.backprop", library), ("jax.grad", autodiff)):
        pairs = zip(jax.tree.leaves(jax.device_get(mine)), jax.tree.leaves(jax.device_get(other)))
        worst = max(np.abs(a - b).max() / np.abs(b).max() for a, b in pairs)
        print(f"matrix-form gradient vs {name:<15}: largest difference {worst:.1e} of the largest entry")

    history = {"training error": [], "test error": []}
    print(f"{'epoch':>5} {'η(t)':>8} {'training error':>15} {'test error':>11}")
    for t in range(EPOCHS):
        eta = ETA0 / (1 + t / TAU)
        order = np.asarray(jax.random.permutation(jax.random.fold_in(key, t), n))
        batches = order[: n // K * K].reshape(n // K, K)  # the n % k left over wait for the next shuffle
        params = epoch(params, x, y, batches, eta)
        history["training error"].append(float(mean_error(params, x, y)))
        history["test error"].append(float(mean_error(params, xt, yt)))
        if t % max(1, EPOCHS // 10) == 0 or t == EPOCHS - 1:
            print(f"{t + 1:>5} {eta:>8.4f} {history['training error'][-1]:>15.4f} "
                  f"{history['test error'][-1]:>11.4f}")
    accuracy = float(jnp.mean(classify(params, xt) == t_test))
    print(f"test accuracy after {EPOCHS} epochs: {accuracy:.1%}")
    path = plot.curves(history, Path(args.out) / "errors.png", ylabel="mean of 1/2 Σ (o − y)²",
                       title=f"deck 001: sigmoid {M}-{H1}-{H2}-{N}, η(t) = {ETA0}/(1 + t/{TAU:g})")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
