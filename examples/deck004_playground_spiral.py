"""Deck 004: the Playground's spiral: overfitting with noise, L2 against it, 5-fold validation.

Follows deck 004 ("教師あり学習"), slides 「過学習」, 「正則化」 (37), 「ノイズ」 (39) and the
cross-validation table (パターン1-5), on the TensorFlow Playground's spiral (slides 30-40): the
Playground's network (tanh hidden layers, a tanh output trained on ±1 labels with the squared error
1/2 (o − t)², plain SGD, batch size 10) on all seven input features, with few training points and
noise 50, so that a 16-16 network can memorise the training points.

1. No regularisation vs L2: the training loss falls far below the test loss (overfitting); the L2
   term keeps the weights small and the decision boundary smoother. jaxmlp's ``l2`` adds
   l2/2 Σ w², so l2 = 0.001 is the deck's λ|w|² (slide 37) with λ = 0.0005. The heading printed
   says whether L2 lowered the test loss in this run: with JAXMLP_QUICK=1's 60 epochs the network
   has barely begun to overfit, and it may not.
2. Model choice by 5-fold cross-validation on the training points only (jaxmlp.data.kfold): each
   candidate L2 rate is trained five times, each time validated on the fold it did not see; the
   rate with the lowest mean validation loss is retrained on all training points and only then
   evaluated on the test points.

Writes the two decision-boundary pictures (orange −1, blue +1; training points with a white edge,
test points with a black one).

Run: python examples/deck004_playground_spiral.py [--out DIR] [--force]
(JAXMLP_QUICK=1: fewer epochs)
"""

import argparse
import os
import sys
from pathlib import Path

import jax
import numpy as np
import optax

import jaxmlp
from jaxmlp import data, plot

QUICK = os.environ.get("JAXMLP_QUICK") == "1"
FEATURES = data.FEATURES  # x, y, x², y², xy, sin x, sin y
HIDDEN = (16, 16)
POINTS, NOISE = 200, 50  # 100 training and 100 test points
LR, BATCH = 0.1, 10
EPOCHS = 60 if QUICK else 300
RATES = (0.0, 0.001) if QUICK else (0.0, 0.001, 0.01, 0.03)
PICTURES = {"none": "spiral_none.png", "L2 0.001": "spiral_l2.png"}
MODEL = jaxmlp.MLP((len(FEATURES), *HIDDEN, 1), ("tanh",) * len(HIDDEN) + ("tanh",))
OPTIMIZER = optax.sgd(LR)  # one object: every fit reuses its compiled epoch


def train(x, t, l2, key):
    """The Playground's training: SGD on the squared error, mini-batches of 10, L2 rate ``l2``."""
    params = MODEL.init(jax.random.fold_in(key, 0))
    params, _ = jaxmlp.fit(MODEL, params, x, t, optimizer=OPTIMIZER, loss="sse", epochs=EPOCHS,
                           batch_size=BATCH, metrics=(), l2=l2, key=jax.random.fold_in(key, 1),
                           verbose=0)
    return params


def squared_error(params, x, t):
    """The Playground's loss: the mean of 1/2 (o − t)² (without the regularisation term)."""
    return jaxmlp.evaluate(MODEL, params, x, t, loss="sse", metrics=())["loss"]


def accuracy(params, x, t):
    return float(np.mean(np.sign(np.asarray(jaxmlp.predict(MODEL, params, x))) == t))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/deck004_playground_spiral",
                        help="folder for the pictures")
    parser.add_argument("--force", action="store_true", help="replace existing pictures in --out")
    args = parser.parse_args()
    existing = [name for name in PICTURES.values() if (Path(args.out) / name).exists()]
    if existing and not args.force:
        sys.exit(f"{args.out} already holds {', '.join(existing)}; pass --force to replace them, "
                 "or another --out")
    key_data, key_train, key_folds = jax.random.split(jax.random.key(0), 3)
    (xy, t), (xy_test, t_test) = data.playground_data("spiral", key_data, n=POINTS, noise=NOISE,
                                                      labels="pm1")
    x, x_test = data.features(xy, FEATURES), data.features(xy_test, FEATURES)
    print(f"spiral, noise {NOISE}: {len(x)} training / {len(x_test)} test points; features "
          f"{','.join(FEATURES)} → hidden {','.join(map(str, HIDDEN))} tanh → tanh; SGD lr {LR}, "
          f"batch {BATCH}, {EPOCHS} epochs")

    runs = {name: train(x, t, l2, key_train) for name, l2 in (("none", 0.0), ("L2 0.001", 0.001))}
    test_loss = {name: squared_error(params, x_test, t_test) for name, params in runs.items()}
    helped = test_loss["L2 0.001"] < test_loss["none"]
    if helped:
        print("\n1. Overfitting, and L2 against it")
    else:
        print(f"\n1. Overfitting, and L2 that did not help here "
              f"({EPOCHS} epochs: too few to overfit much)")
    print(f"   {'regularisation':<16} {'training loss':>13} {'test loss':>10} "
          f"{'test accuracy':>14} {'Σ w²':>8}")
    for name, params in runs.items():
        size = sum(float(np.sum(np.square(layer["w"]))) for layer in params)
        print(f"   {name:<16} {squared_error(params, x, t):>13.4f} {test_loss[name]:>10.4f} "
              f"{accuracy(params, x_test, t_test):>14.1%} {size:>8.1f}")

        def surface(points, params=params):
            return np.asarray(jaxmlp.predict(MODEL, params, data.features(points, FEATURES)))[:, 0]

        path = plot.decision_boundary(surface, Path(args.out) / PICTURES[name], train=(xy, t),
                                      test=(xy_test, t_test),
                                      title=f"spiral, noise {NOISE}, regularisation {name}")
        print(f"   wrote {path}")
    print(f"   L2 0.001 {'lowered' if helped else 'did not lower'} the test loss: "
          f"{test_loss['none']:.4f} without, {test_loss['L2 0.001']:.4f} with")

    print("\n2. Choosing the L2 rate by 5-fold cross-validation on the training points")
    print(f"   {'L2 rate':>8}  {'validation loss per fold':<40} {'mean':>7}")
    means = {}
    for l2 in RATES:
        losses = [squared_error(train(x[fit], t[fit], l2, key_train), x[held], t[held])
                  for fit, held in data.kfold(key_folds, len(x), 5)]
        means[l2] = float(np.mean(losses))
        print(f"   {l2:>8g}  {' '.join(f'{v:.4f}' for v in losses):<40} {means[l2]:>7.4f}")
    best = min(means, key=means.get)
    params = train(x, t, best, key_train)
    verdict = "no regularisation" if best == 0 else f"L2 {best:g}"
    print(f"   lowest mean validation loss: {verdict}")
    print(f"   chosen: L2 {best:g}; retrained on all {len(x)} training points: test loss "
          f"{squared_error(params, x_test, t_test):.4f}, "
          f"test accuracy {accuracy(params, x_test, t_test):.1%}")


if __name__ == "__main__":
    main()
