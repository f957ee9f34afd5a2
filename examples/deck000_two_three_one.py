"""Deck 000: the 2-3-1 network by hand, one gradient-descent step, checked against jaxmlp.backprop.

Follows deck 000 ("MLP 学習の仕組み"), slides 「誤差について」 to 「学習:誤差逆伝播法」: the
error tables that show why errors are squared, the worked E = 0.085, the network written neuron by
neuron (u1 = w1 x1 + w2 x2 + b1, ..., y = f(u4)), the sum-of-squares loss
E = 1/2 Σ_k (y(k) − t(k))², the update w ← w − α ∂E/∂w with α = 0.001, and backprop running
output → hidden → input. Every equation comes from the transcription
``jaxmlp.derivations.deck000_two_three_one`` (f is the sigmoid in both layers, one of the deck's
suggestions); its scalar chain rules are then compared with the library's δ rule on the same
numbers.

Run: python examples/deck000_two_three_one.py   (prints only; takes a second)
"""

import argparse

import jax

jax.config.update("jax_enable_x64", True)  # float64, so hand and library agree to ~1e-16

import jax.numpy as jnp  # noqa: E402

import jaxmlp  # noqa: E402
from jaxmlp.derivations import deck000_two_three_one as deck000  # noqa: E402

F = "sigmoid"
X = [(1.0, 0.5), (0.2, 0.9), (0.7, 0.1)]  # three inputs x(k) = (x1, x2)
T = [0.0, 1.0, 0.0]  # their targets t(k), as the deck's worked example
W = {"w1": 0.5, "w2": -0.3, "w3": 0.2, "w4": 0.8, "w5": -0.6, "w6": 0.4,  # input -> hidden
     "w7": 0.7, "w8": -0.5, "w9": 0.3,  # hidden -> output
     "b1": 0.1, "b2": -0.1, "b3": 0.2, "b4": 0.0}


def error(p, x1, x2, t):
    """E = 1/2 Σ_k (y(k) − t(k))² over the images k (deck000.E on deck000.forward)."""
    return float(deck000.E(deck000.forward(p, x1, x2, F)["y"], t))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out",
                        help="unused: this example draws no pictures (accepted like the others)")
    parser.parse_args()
    print("Why the errors are squared (deck 000's tables of t − y for four outputs):")
    print(f"  {'table':<16} {'t − y':<24} {'Σ (t − y)':>10} {'Σ (t − y)²':>11}")
    for name, (y, t) in deck000.TABLES.items():
        column = "(" + ", ".join(f"{t_k - y_k:.1f}" for y_k, t_k in zip(y, t)) + ")"
        print(f"  {name:<16} {column:<24} {deck000.sum_of_differences(y, t):>10.2f} "
              f"{deck000.sum_of_squares(y, t):>11.2f}")
    print("  the plain sum rates ② and ③ alike; the squares rank them ① < ② < ③")
    print(f"  E = 1/2 Σ (y − t)² for y = (0.3, 0.8, 0.2), t = (0, 1, 0): "
          f"{deck000.E([0.3, 0.8, 0.2], [0.0, 1.0, 0.0]):.3f}\n")

    p = {name: jnp.asarray(value) for name, value in W.items()}
    x1, x2, t = (jnp.asarray([x[0] for x in X]), jnp.asarray([x[1] for x in X]), jnp.asarray(T))
    print(f"The 2-3-1 network ({F} in both layers) on three examples:")
    s = deck000.forward(p, x1, x2, F)
    for k in range(len(X)):
        print(f"  x({k + 1}) = ({X[k][0]}, {X[k][1]}): u1..u4 = " +
              " ".join(f"{float(s[u][k]):+.3f}" for u in ("u1", "u2", "u3", "u4")) +
              f"   y({k + 1}) = {float(s['y'][k]):.4f}   t({k + 1}) = {T[k]:.0f}")
    before = error(p, x1, x2, t)
    g = deck000.gradient(p, x1, x2, t, F)
    print(f"  E before the step = {before:.10f}\n")

    model = jaxmlp.MLP((2, 3, 1), (F, F))
    library = deck000.to_deck(jaxmlp.backprop(model, deck000.from_deck(p), jnp.asarray(X),
                                              t[:, None], loss="sse", reduction="sum"))
    diff = max(abs(float(g[name] - library[name])) for name in W)
    print("∂E/∂w by hand (deck000.gradient: the chain rule, output → hidden → input):")
    print("  " + "  ".join(f"{name} {float(g[name]):+.5f}" for name in list(W)[:7]))
    print("  " + "  ".join(f"{name} {float(g[name]):+.5f}" for name in list(W)[7:]))
    verdict = "agree" if diff < 1e-12 else "DISAGREE"
    print(f"  max |hand − jaxmlp.backprop| = {diff:.1e}  ({verdict})\n")

    stepped = deck000.step(p, x1, x2, t, F, alpha=deck000.ALPHA)  # w ← w − α ∂E/∂w
    after = error(stepped, x1, x2, t)
    predicted = deck000.ALPHA * sum(float(v) ** 2 for v in g.values())  # first order: ΔE ≈ −α |∇E|²
    print(f"One step w ← w − α ∂E/∂w with α = {deck000.ALPHA}:")
    print(f"  E before = {before:.10f}\n  E after  = {after:.10f}")
    print(f"  decrease = {before - after:.3e}   (first-order prediction α |∇E|² = {predicted:.3e})")


if __name__ == "__main__":
    main()
