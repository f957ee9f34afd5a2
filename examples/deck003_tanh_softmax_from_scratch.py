"""Deck 003: a tanh + softmax network from scratch — full batch vs mini-batch vs online learning.

Follows deck 003 ("NN_ニューラルネットワーク"), slides 「誤差逆伝播法(一般化デルタ則)を用いる」,
「計算グラフでデルタを追う」 and 「フルバッチ、ミニバッチ、オンライン」, in its notation (samples as
rows, W of shape (inputs, nodes), B a bias row, nb the rows in a batch):

    forward:  A1 = X W1 + B1,  Z1 = tanh(A1),  A2 = Z1 W2 + B2,  Z2 = softmax(A2)
              L = −(1/nb) Σ Y log Z2            (cross-entropy averaged over the batch)
    backward: ΔA2 = (Z2 − Y) / nb              (the canonical-link shortcut ŷ − y)
              ΔW2 = Z1ᵀ ΔA2, ΔB2 = Σ_rows ΔA2   (dot → multiply by the other operand; add → pass)
              ΔA1 = (ΔA2 W2ᵀ) ⊙ (1 − tanh² A1)  (activation → Hadamard product with its derivative)
              ΔW1 = Xᵀ ΔA1,  ΔB1 = Σ_rows ΔA1
    update:   W_{t+1} = W_t − lr ΔW          (the delta rule w_{t+1} = w_t + Δw_t, Δw_t = −lr ΔW)

The nodes (dot, add, tanh, softmax + cross-entropy) and the delta rule are the transcription
``jaxmlp.derivations.deck003_computation_graph``. Its gradient is checked against jax.grad, and
the shortcut against the general rule ∂L/∂Z2 pushed through the softmax Jacobian. Then the same
network is trained on the same rows of scikit-learn's digits with batch_size = n (full batch), 32
(mini-batch) and 1 (online learning) for the same number of epochs, and compared by the loss: per
epoch the smaller batches make many more updates. Writes the three loss curves.

Run: python examples/deck003_tanh_softmax_from_scratch.py [--out DIR] [--force]
(JAXMLP_QUICK=1: fewer rows and epochs)
"""

import argparse
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxmlp
from jaxmlp import data, plot
from jaxmlp.derivations import deck003_computation_graph as deck003

QUICK = os.environ.get("JAXMLP_QUICK") == "1"
ROWS = 256 if QUICK else 1024  # the training subset (a multiple of 32), the same for all three runs
EPOCHS = 3 if QUICK else 20
NODES = 64
LR = 0.1
SIGMA = 0.1  # initial weights ~ N(0, σ²), biases 0
MODEL = jaxmlp.MLP((64, NODES, 10), ("tanh", "softmax"))  # the same network in jaxmlp's layout
PICTURE = "batch_sizes.png"


def loss(p, X, Y):
    """L = −(1/nb) Σ Y log Z2, by jaxmlp (deck003.to_deck / from_deck swap W and jaxmlp's w)."""
    return jaxmlp.loss(MODEL, deck003.from_deck(p), X, Y, "categorical_crossentropy", "mean")


@jax.jit
def checks(p, X, Y):
    """The graph's gradient and jax.grad's; the output delta by shortcut and by general rule."""
    A2 = jnp.tanh(X @ p[0]["W"] + p[0]["B"]) @ p[1]["W"] + p[1]["B"]
    head = deck003.SoftmaxCrossEntropy()
    head.forward(A2, Y)
    return (deck003.backprop_graph(p, X, Y)[1], jax.grad(loss)(p, X, Y), head.backward(),
            deck003.general_output_delta(A2, Y))


@jax.jit
def classify(p, X):
    return jnp.argmax(MODEL.apply(deck003.from_deck(p), X), axis=1)


def train(p, X, Y, batch_size, key):
    """EPOCHS epochs of the delta rule on shuffled batches; the parameters and L per epoch."""
    @jax.jit
    def epoch(p, key):
        order = jax.random.permutation(key, X.shape[0]).reshape(-1, batch_size)

        def step(p, rows):
            grads = deck003.backprop_graph(p, X[rows], Y[rows])[1]
            return deck003.delta_rule(p, jax.tree.map(lambda g: -LR * g, grads)), None

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
    parser.add_argument("--force", action="store_true",
                        help=f"replace an existing {PICTURE} in --out")
    args = parser.parse_args()
    if (Path(args.out) / PICTURE).exists() and not args.force:
        sys.exit(f"{Path(args.out) / PICTURE} already exists; "
                 "pass --force to replace it, or another --out")

    (x, t), (x_test, t_test) = data.load("digits")
    X, Y = jnp.asarray(x[:ROWS]), jnp.asarray(data.one_hot(t[:ROWS], 10))
    k1, k2, key = jax.random.split(jax.random.key(0), 3)
    p0 = [{"W": SIGMA * jax.random.normal(k1, (X.shape[1], NODES)), "B": jnp.zeros(NODES)},
          {"W": SIGMA * jax.random.normal(k2, (NODES, 10)), "B": jnp.zeros(10)}]

    hand, auto, shortcut, general = jax.device_get(checks(p0, X[:32], Y[:32]))
    worst = max(np.abs(h[k] - a[k]).max() / np.abs(a[k]).max()
                for h, a in zip(hand, auto) for k in h)
    gap = np.abs(shortcut - general).max()
    print(f"{X.shape[1]} → {NODES} tanh → 10 softmax, W ~ N(0, {SIGMA}²); "
          f"{ROWS} training rows, lr {LR}")
    print(f"hand backprop vs jax.grad: largest difference {worst:.1e} of the largest entry")
    print("output delta: shortcut (ŷ − y)/nb vs the general rule through the softmax Jacobian: "
          f"{gap:.1e}")

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
    path = plot.curves(curves, Path(args.out) / PICTURE, ylabel="training loss L", logy=True,
                       title=f"deck 003: same {EPOCHS} epochs, lr {LR}, {ROWS} rows of digits")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
