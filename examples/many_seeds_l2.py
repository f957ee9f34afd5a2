"""8 seeds × 3 L2 rates in one compiled program: do the rates differ by more than the seed noise?

Follows deck 004 ("教師あり学習"), slides 「正則化」 (37) and 「交差検証」: an L2 penalty (jaxmlp's
``l2`` adds l2/2 Σ w², the deck's λ|w|² with λ = l2/2) trades training fit for smaller weights,
and a difference between two settings means something only when it is larger than the spread
between runs that differ in nothing but their random start. A research script therefore trains
every rate from several seeds and reports mean ± std. Here the 24 networks (784 → 32 relu → 10
softmax, Adam 1e-3, batch 64, the last 20 % of the rows validating) are one parameter pytree with a
leading models axis, ``model.init(keys)``, trained together by ``jaxmlp.fit_many`` with ``l2``
given per model; seed s has the same initial weights under every rate, so the rates are compared
on paired starts. Prints the table and draws the validation accuracy per epoch (mean with a ±1 std
band per rate) beside each seed's test accuracy.

Data: Fashion-MNIST when it is on this machine (``jaxmlp data``), else scikit-learn's 8×8 digits.

Run: python examples/many_seeds_l2.py [--dataset auto|fashion-mnist|digits] [--epochs N]
[--out DIR] [--force]
(JAXMLP_QUICK=1: the digits; about 20 s with Fashion-MNIST)
"""

import argparse
import os
import sys
from pathlib import Path

import jax
import numpy as np

import jaxmlp
from jaxmlp import data, plot
from jaxmlp.training.many import evaluate_many, fit_many

QUICK = os.environ.get("JAXMLP_QUICK") == "1"
SEEDS, RATES = 8, (0.0, 1e-3, 1e-2)
PICTURE = "seeds_l2.png"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("auto", *data.DATASETS),
                        default="digits" if QUICK else "auto",
                        help="auto: fashion-mnist if present, else digits")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default="runs/many_seeds_l2", help="folder for the picture")
    parser.add_argument("--force", action="store_true",
                        help=f"replace an existing {PICTURE} in --out")
    args = parser.parse_args()
    picture = Path(args.out) / PICTURE
    if picture.exists() and not args.force:
        sys.exit(f"{picture} already exists; pass --force to replace it, or another --out")
    plot.require_matplotlib()
    name = args.dataset
    if name == "auto":
        name = "fashion-mnist" if data.locate("fashion-mnist")[0] else "digits"
    (x_train, y_train), (x_test, y_test) = data.load(name)

    model = jaxmlp.MLP((x_train.shape[1], 32, 10), ("relu", "softmax"))
    seeds = jax.random.split(jax.random.key(0), SEEDS)
    keys = seeds[np.tile(np.arange(SEEDS), len(RATES))]  # model m: seed m % 8, rate m // 8
    l2 = np.repeat(RATES, SEEDS)
    print(f"{name}: {len(x_train):,} rows (the last 20 % validate), {len(x_test):,} test rows; "
          f"{SEEDS} seeds × {len(RATES)} L2 rates = {len(l2)} models "
          f"of {model.num_params:,} parameters, "
          f"trained together by fit_many for {args.epochs} epochs")
    params, history = fit_many(model, model.init(keys), x_train, y_train, l2=l2, epochs=args.epochs,
                               batch_size=64, validation_split=0.2, verbose=0)
    test = evaluate_many(model, params, x_test, y_test)["accuracy"].reshape(len(RATES), SEEDS)
    val = history["val_accuracy"][-1].reshape(len(RATES), SEEDS)
    print(f"\n{'L2 rate':>8} {'val accuracy':>17} {'test accuracy':>17} "
          f"{'best seed':>10} {'worst seed':>11}")
    for rate, v, t in zip(RATES, val, test, strict=True):
        print(f"{rate:>8g} {v.mean():>8.4f} ± {v.std(ddof=1):.4f} "
              f"{t.mean():>8.4f} ± {t.std(ddof=1):.4f} "
              f"{t.max():>10.4f} {t.min():>11.4f}")
    gap = test.mean(axis=1)
    print(f"\nlargest difference between rates {gap.max() - gap.min():.4f}; typical seed spread "
          f"{test.std(axis=1, ddof=1).mean():.4f} (std over {SEEDS} seeds)")
    print(f"wrote {draw(history['val_accuracy'], test, picture, name)}")


def draw(val_accuracy, test, path, name):
    """Validation accuracy per epoch (mean ± std band per rate) and each seed's test accuracy."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    curves, dots = fig.subplots(1, 2)
    epochs = np.arange(1, val_accuracy.shape[0] + 1)
    for j, rate in enumerate(RATES):
        runs = val_accuracy[:, j * SEEDS:(j + 1) * SEEDS]
        mean, std = runs.mean(axis=1), runs.std(axis=1, ddof=1)
        curves.plot(epochs, mean, marker="o", markersize=3, label=f"L2 = {rate:g}")
        curves.fill_between(epochs, mean - std, mean + std, alpha=0.25)
        dots.scatter(np.full(SEEDS, j) + np.linspace(-0.15, 0.15, SEEDS), test[j], s=18)
        dots.errorbar(j + 0.3, test[j].mean(), yerr=test[j].std(ddof=1), fmt="k_", capsize=4)
    curves.set(title="validation accuracy, mean ± std over seeds", xlabel="epoch",
               ylabel="accuracy")
    curves.xaxis.get_major_locator().set_params(integer=True)
    curves.grid(alpha=0.3)
    curves.legend()
    dots.set(title="test accuracy of each seed (bar: mean ± std)", xticks=range(len(RATES)),
             xticklabels=[f"L2 = {r:g}" for r in RATES], ylabel="accuracy")
    dots.grid(alpha=0.3, axis="y")
    fig.suptitle(f"{name}: {SEEDS} seeds × {len(RATES)} L2 rates, one fit_many")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    main()
