"""Deck 002: the Keras workflow on MNIST-format data: summary, predict, fit, predict, np.around.

Follows deck 002 ("医療とAI・ビッグデータ応用 4MLP"), slides 「データを読み込む」 to
「最後に再度予測してみる」: the images flattened to 784 values / 255 and the labels one-hot encoded;
Dense(32, relu) → Dense(10, softmax) with (784 + 1) × 32 + (32 + 1) × 10 = 25,450 parameters;
predict before training (about 0.1 for every class); fit(epochs=30, batch_size=64,
validation_split=0.2), which trains on 48,000 rows in 750 updates per epoch; predict again and
round with np.around(test2[1], 3).

Data: Fashion-MNIST when it is on this machine (``jaxmlp data``), else scikit-learn's 8×8 digits;
choose with --dataset. Writes the learning curves and the first-layer weights as pictures.

Run: python examples/deck002_keras_workflow.py [--dataset auto|fashion-mnist|mnist|digits]
[--epochs N] [--force]   (about 10 s with Fashion-MNIST; JAXMLP_QUICK=1 trains one epoch, on a
tenth of the rows of Fashion-MNIST or MNIST, or on all of digits)
"""

import argparse
import math
import os
import sys
from pathlib import Path

import jax
import numpy as np

import jaxmlp
from jaxmlp import data, plot

QUICK = os.environ.get("JAXMLP_QUICK") == "1"
PICTURES = ("learning_curves.png", "weights.png")
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")


def label(name, row):
    """The Fashion-MNIST class name of a one-hot or probability row, as " (Name)"."""
    return f" ({FASHION[int(np.argmax(row))]})" if name == "fashion-mnist" else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("auto", *data.DATASETS), default="auto",
                        help="auto: fashion-mnist if present, else digits")
    parser.add_argument("--epochs", type=int, default=1 if QUICK else 30)
    parser.add_argument("--out", default="runs/deck002_keras_workflow",
                        help="folder for the pictures")
    parser.add_argument("--force", action="store_true", help="replace existing pictures in --out")
    args = parser.parse_args()
    existing = [name for name in PICTURES if (Path(args.out) / name).exists()]
    if existing and not args.force:
        sys.exit(f"{args.out} already holds {', '.join(existing)}; pass --force to replace them, "
                 "or another --out")
    name = args.dataset
    if name == "auto":
        name = "fashion-mnist" if data.locate("fashion-mnist")[0] else "digits"

    (x_train, y_train), (x_test, y_test) = data.load(name)  # already flattened and scaled to [0, 1]
    if QUICK and len(x_train) > 10_000:  # a tenth of MNIST / Fashion-MNIST
        x_train, y_train, x_test, y_test = x_train[::10], y_train[::10], x_test[::10], y_test[::10]
    print(f"{name}: x_train {x_train.shape}, x_test {x_test.shape}  (images flattened, pixel / "
          f"{255 if x_train.shape[1] == 784 else 16})")
    y_train, y_test = data.one_hot(y_train, 10), data.one_hot(y_test, 10)
    print(f"one-hot labels: y_train {y_train.shape}, y_test {y_test.shape}")

    model = jaxmlp.MLP(sizes=(x_train.shape[1], 32, 10), activations=("relu", "softmax"))
    params = model.init(jax.random.key(0))
    print(model.summary())

    test = np.asarray(jaxmlp.predict(model, params, x_test))
    print(f"\nbefore training: test = predict(x_test) has shape {test.shape}")
    print(f"test[1]   = {np.array2string(test[1], precision=4)}")
    print(f"y_test[1] = {y_test[1]}   (class {int(y_test[1].argmax())}{label(name, y_test[1])})")

    n_fit = math.floor(len(x_train) * (1 - 0.2))  # Keras: the last 20 % validate, before shuffling
    print(f"\nfit(epochs={args.epochs}, batch_size=64, validation_split=0.2): "
          f"{n_fit:,} training rows, {-(-n_fit // 64)} updates per epoch, "
          f"{len(x_train) - n_fit:,} validation rows")
    params, history = jaxmlp.fit(model, params, x_train, y_train, optimizer="adam",
                                 epochs=args.epochs, batch_size=64, validation_split=0.2,
                                 verbose=2)

    test2 = np.asarray(jaxmlp.predict(model, params, x_test))
    print("\nafter training:")
    print(f"test2[1]                = {np.array2string(test2[1], precision=4)}")
    print(f"np.around(test2[1], 3)  = {np.around(test2[1], 3)}")
    print(f"y_test[1]               = {y_test[1]}")
    print(f"predicted class {int(test2[1].argmax())}{label(name, test2[1])}, true class "
          f"{int(y_test[1].argmax())}{label(name, y_test[1])}")
    result = jaxmlp.evaluate(model, params, x_test, y_test)
    print(f"test loss {result['loss']:.4f}, test accuracy {result['accuracy']:.4f}")

    out = Path(args.out)
    for path in (plot.learning_curves(history, out / PICTURES[0], title=f"deck 002 on {name}"),
                 plot.weight_images(params[0]["w"], out / PICTURES[1],
                                    title=f"{name}: the 32 hidden neurons' weights "
                                          "(red > 0 > blue)")):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
