"""Deck 003: a tanh + softmax network from scratch — full batch vs mini-batch vs online learning.

Follows deck 003 ("NN_ニューラルネットワーク"), slides 「誤差逆伝播法(一般化デルタ則)を用いる」,
「計算グラフでデルタを追う」 and 「フルバッチ、ミニバッチ、オンライン」, in its notation (samples as
rows, W of shape (inputs, nodes)):

    forward:  A1 = X W1 + B1,  Z1 = tanh(A1),  A2 = Z1 W2 + B2,  Z2 = softmax(A2)
              L = −(1/nb) Σ Y log Z2            (cross-entropy averaged over the batch)
    backward: ΔA2 = (Z2 − Y) / nb              (the canonical-link shortcut ŷ − y)
              ΔW2 = Z1ᵀ ΔA2, ΔB2 = Σ_rows ΔA2   (dot → multiply by the other operand; add → pass)
              ΔA1 = (ΔA2 W2ᵀ) ⊙ (1 − tanh² A1)  (activation → Hadamard product with its derivative)
              ΔW1 = Xᵀ ΔA1,  ΔB1 = Σ_rows ΔA1
    update:   W ← W − lr ΔW

The hand gradient is checked against jax.grad, and the shortcut against the general rule
∂L/∂Z2 pushed through the softmax Jacobian. Then the same network is trained on the same rows of
scikit-learn's digits with batch_size = n (full batch), 32 (mini-batch) and 1 (online learning) for
the same number of epochs, and compared by the loss: per epoch the smaller batches make many more
updates. Writes the three loss curves.

Run: python examples/deck003_tanh_softmax_from_scratch.py [--out DIR]   (JAXMLP_QUICK=1: fewer rows)
"""

import argparse
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import data, plot

QUICK = os.environ.get("JAXMLP_QUICK") == "1"
ROWS = 256 if QUICK else 1024  # the training subset (a multiple of 32), the same for all three runs
EPOCHS = 3 if QUICK else 20
NODES = 64
LR = 0.1
SIGMA = 0.1  # initial weights ~ N(0, σ²), biases 0


def forward(p, X):
    A1 = X @ p["W1"] + p["B1"]
    Z1 = jnp.tanh(A1)
    A2 = Z1 @ p["W2"] + p["B2"]
    return A1, Z1, jax.nn.softmax(A2)


def loss(p, X, Y):
    return -jnp.sum(Y * jnp.log(forward(p, X)[2])) / X.shape[0]


def backward(p, X, Y):
    """The gradients of ``loss`` by hand, Δ flowing from the output back to the input."""
    A1, Z1, Z2 = forward(p, X)
    dA2 = (Z2 - Y) / X.shape[0]
    dA1 = (dA2 @ p["W2"].T) * (1 - jnp.tanh(A1) ** 2)
    return {"W1": X.T @ dA1, "B1": jnp.sum(dA1, axis=0), "W2": Z1.T @ dA2, "B2": jnp.sum(dA2, axis=0)}


def general_output_delta(p, X, Y):
    """ΔA2 without the shortcut: ∂L/∂Z2 = −Y / (nb Z2), then the softmax Jacobian diag(Z2) − Z2 Z2ᵀ."""
    Z2 = forward(p, X)[2]
    g = -Y / (X.shape[0] * Z2)
    return Z2 * (g - jnp.sum(g * Z2, axis=1, keepdims=True))


@jax.jit
def checks(p, X, Y):
    """The hand gradient and jax.grad's; the output delta by the shortcut and by the general rule."""
    return backward(p, X, Y), jax.grad(loss)(p, X, Y), (forward(p, X)[2] - Y) / X.shape[0], \
        general_output_delta(p, X, Y)


@jax.jit
def classify(p, X):
    return jnp.argmax(forward(p, X)[2], axis=1)


def train(p, X, Y, batch_size, key):
    """EPOCHS epochs of W ← W − lr ΔW on shuffled batches; returns the parameters and L per epoch."""
    @jax.jit
    def epoch(p, key):
        order = jax.random.permutation(key, X.shape[0]).reshape(-1, batch_size)

        def step(p, rows):
            grads = backward(p, X[rows], Y[rows])
            return jax.tree.map(lambda w, g: w - LR * g, p, grads), None

        p = jax.lax.scan(step, p, order)[0]
        return p, loss(p, X, Y)

    losses = []
    for e in range(EPOCHS):
        p, value = epoch(p, jax.random.fold_in(key, e))
        losses.append(float(value))
    return p, losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/deck003_tanh_softmax_from_scratch",
                        help="folder for the picture")
    args = parser.parse_args()

    (x, t), (x_test, t_test) = data.load("digits")
    X, Y = jnp.asarray(x[:ROWS]), jnp.asarray(data.one_hot(t[:ROWS], 10))
    k1, k2, key = jax.random.split(jax.random.key(0), 3)
    p0 = {"W1": SIGMA * jax.random.normal(k1, (X.shape[1], NODES)), "B1": jnp.zeros(NODES),
          "W2": SIGMA * jax.random.normal(k2, (NODES, 10)), "B2": jnp.zeros(10)}

    hand, auto, shortcut, general = jax.device_get(checks(p0, X[:32], Y[:32]))
    worst = max(np.abs(hand[k] - auto[k]).max() / np.abs(auto[k]).max() for k in hand)
    gap = np.abs(shortcut - general).max()
    print(f"{X.shape[1]} → {NODES} tanh → 10 softmax, W ~ N(0, {SIGMA}²); {ROWS} training rows, lr {LR}")
    print(f"hand backprop vs jax.grad: largest difference {worst:.1e} of the largest entry")
    print(f"output delta: shortcut (ŷ − y)/nb vs the general rule through the softmax Jacobian: {gap:.1e}")

    after = f"loss after {EPOCHS} epochs"
    print(f"\n{'learning':<12} {'batch size':>10} {'updates':>8} {after:>20} {'test accuracy':>14} "
          f"{'seconds':>8}")
    curves = {}
    for name, batch_size in (("full batch", ROWS), ("mini-batch", 32), ("online", 1)):
        started = time.perf_counter()
        p, losses = train(p0, X, Y, batch_size, key)
        seconds = time.perf_counter() - started
        accuracy = float(jnp.mean(classify(p, x_test) == t_test))
        print(f"{name:<12} {batch_size:>10} {EPOCHS * ROWS // batch_size:>8} {losses[-1]:>20.4f} "
              f"{accuracy:>14.1%} {seconds:>8.2f}")
        curves[f"{name} (batch {batch_size})"] = losses
    path = plot.curves(curves, Path(args.out) / "batch_sizes.png", ylabel="training loss L", logy=True,
                       title=f"deck 003: same {EPOCHS} epochs, lr {LR}, {ROWS} rows of digits")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
