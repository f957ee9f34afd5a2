"""Deck 001's shrinking η(t) as an Optax schedule, compared with constant learning rates.

Follows deck 001 ("学習理論の練習 1"), slide 「最急降下法 → 確率降下法、ミニバッチなど」: stochastic
gradient descent takes one random sample at a time and makes η > 0 gradually smaller (η(t) in the
δ rule Δw = −η(t) δ o). With a constant η the weights never settle: every sample pulls them
towards its own noise, so the error keeps jumping at a level set by η; a small constant η settles
but starts slowly; a decaying η starts fast and then settles.

The task: 1 → 16 tanh → 1 regression of y = sin x + noise (σ = 0.3) from 200 samples, squared
error, batch size 1, for the same number of epochs with
  * a large constant η = 0.05 and a small constant η = 0.002,
  * η(t) = η₀ / (1 + t / τ): a plain function of the step t passed to optax.sgd,
  * optax.exponential_decay(η₀, transition_steps = one epoch, decay_rate = 0.93).
The noise alone costs a training loss of about 1/2 σ² = 0.045; the error that matters is the one
against the clean sin x, measured on a grid after every epoch: early (how fast), at the end, and
its mean ± spread over the last ten epochs (how settled). Writes its curves.

Run: python examples/learning_rate_decay.py [--out DIR]   (JAXMLP_QUICK=1: fewer epochs)
"""

import argparse
import os
from pathlib import Path

import jax
import numpy as np
import optax

import jaxmlp
from jaxmlp import plot

QUICK = os.environ.get("JAXMLP_QUICK") == "1"
N, NOISE = 200, 0.3
EPOCHS = 10 if QUICK else 60
EARLY = min(10, EPOCHS // 2)  # the epoch at which "how fast" is read
ETA0 = 0.05
TAU = 5 * N  # steps: η has halved after five epochs


def one_over_t(step):
    """Deck 001's shrinking rate, η(t) = η₀ / (1 + t / τ), with t the number of updates so far."""
    return ETA0 / (1 + step / TAU)


SCHEDULES = {
    f"constant η = {ETA0}": ETA0,
    "constant η = 0.002": 0.002,
    f"η₀ / (1 + t/τ), τ = {TAU // N} epochs": one_over_t,
    "exponential decay 0.93 per epoch": optax.exponential_decay(ETA0, transition_steps=N,
                                                                decay_rate=0.93),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/learning_rate_decay", help="folder for the pictures")
    args = parser.parse_args()
    k1, k2 = jax.random.split(jax.random.key(0))
    x = np.asarray(jax.random.uniform(k1, (N, 1), minval=-3, maxval=3))
    y = np.sin(x) + NOISE * np.asarray(jax.random.normal(k2, (N, 1)))
    grid = np.linspace(-3, 3, 301, dtype=np.float32)[:, None]
    model = jaxmlp.MLP((1, 16, 1), ("tanh", "identity"))
    start = model.init(jax.random.key(1))
    print(f"y = sin x + N(0, {NOISE}²), {N} samples, 1 → 16 tanh → 1, squared error, batch size 1, "
          f"{EPOCHS} epochs ({EPOCHS * N:,} updates)")
    print(f"the noise alone costs a training loss of about 1/2 σ² = {NOISE ** 2 / 2:.3f}\n")
    print(f"{'':<36} {'':>8} {'training':>9} {'error against sin x':^42}")
    print(f"{'learning rate':<36} {'final η':>8} {'loss':>9} "
          f"{f'epoch {EARLY}':>10} {f'epoch {EPOCHS}':>10} {'last 10 epochs':>19}")
    errors = {}
    for name, rate in SCHEDULES.items():
        _, history = jaxmlp.fit(model, start, x, y, optimizer=optax.sgd(rate), loss="sse",
                                epochs=EPOCHS, batch_size=1, metrics=(),
                                validation_data=(grid, np.sin(grid)), verbose=0)
        final_rate = rate(EPOCHS * N) if callable(rate) else rate
        tail = np.array(history["val_loss"][-10:])
        print(f"{name:<36} {float(final_rate):>8.4f} {history['loss'][-1]:>9.4f} "
              f"{history['val_loss'][EARLY - 1]:>10.4f} {history['val_loss'][-1]:>10.4f} "
              f"{tail.mean():>11.4f} ± {tail.std():.4f}")
        errors[name] = history["val_loss"]
    path = plot.curves(errors, Path(args.out) / "error_vs_sin.png", logy=True,
                       ylabel="mean 1/2 (o − sin x)² on a grid",
                       title="deck 001: constant vs shrinking η(t), batch size 1")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
