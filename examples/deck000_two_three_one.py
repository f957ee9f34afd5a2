"""Deck 000: the 2-3-1 network by hand, one gradient-descent step, checked against jaxmlp.backprop.

Follows deck 000 ("MLP 学習の仕組み"), slides 「誤差について」 to 「学習:誤差逆伝播法」: the
error tables that show why errors are squared, the worked E = 0.085, the network written neuron by
neuron (u1 = w1 x1 + w2 x2 + b1, ..., y = f(u4)), the sum-of-squares loss
E = 1/2 Σ_k (y(k) − t(k))², the update w ← w − α ∂E/∂w with α = 0.001, and backprop running
output → hidden → input. Hidden neurons use ReLU, the output neuron the sigmoid (the deck's
suggestions). Every derivative is written as a scalar chain rule, then compared with the library's
δ rule on the same numbers.

Run: python examples/deck000_two_three_one.py   (prints only; takes a second)
"""

import argparse
import math

import jax

jax.config.update("jax_enable_x64", True)  # float64, so hand and library agree to ~1e-16

import jax.numpy as jnp  # noqa: E402

import jaxmlp  # noqa: E402

ALPHA = 0.001  # deck 000: α = 0.001
X = [(1.0, 0.5), (0.2, 0.9), (0.7, 0.1)]  # three inputs x(k) = (x1, x2)
T = [0.0, 1.0, 0.0]  # their targets t(k), as the deck's worked example
W = {"w1": 0.5, "w2": -0.3, "w3": 0.2, "w4": 0.8, "w5": -0.6, "w6": 0.4,  # input -> hidden
     "w7": 0.7, "w8": -0.5, "w9": 0.3,  # hidden -> output
     "b1": 0.1, "b2": -0.1, "b3": 0.2, "b4": 0.0}


def relu(u):
    return max(u, 0.0)


def d_relu(u):
    return 1.0 if u > 0 else 0.0


def sigmoid(u):
    return 1.0 / (1.0 + math.exp(-u))


def forward(p, x1, x2):
    """The deck's equations, one neuron at a time."""
    u1 = p["w1"] * x1 + p["w2"] * x2 + p["b1"]
    u2 = p["w3"] * x1 + p["w4"] * x2 + p["b2"]
    u3 = p["w5"] * x1 + p["w6"] * x2 + p["b3"]
    u4 = p["w7"] * relu(u1) + p["w8"] * relu(u2) + p["w9"] * relu(u3) + p["b4"]
    return (u1, u2, u3, u4), sigmoid(u4)


def error(p):
    """E = 1/2 Σ_k (y(k) − t(k))²."""
    return 0.5 * sum((forward(p, *x)[1] - t) ** 2 for x, t in zip(X, T))


def gradient(p):
    """∂E/∂(every weight and bias) by the chain rule, output → hidden → input."""
    g = dict.fromkeys(p, 0.0)
    for (x1, x2), t in zip(X, T):
        (u1, u2, u3, _), y = forward(p, x1, x2)
        e4 = (y - t) * y * (1 - y)  # ∂E/∂u4 = (y − t) f'(u4), f' = y (1 − y) for the sigmoid
        g["w7"] += e4 * relu(u1)  # ∂u4/∂w7 = f(u1)
        g["w8"] += e4 * relu(u2)
        g["w9"] += e4 * relu(u3)
        g["b4"] += e4
        for i, (u, w_out) in enumerate(((u1, "w7"), (u2, "w8"), (u3, "w9"))):
            e = e4 * p[w_out] * d_relu(u)  # ∂E/∂u_i = ∂E/∂u4 · w_out · f'(u_i)
            g[f"w{2 * i + 1}"] += e * x1  # ∂u_i/∂w = x1
            g[f"w{2 * i + 2}"] += e * x2  # ∂u_i/∂w = x2
            g[f"b{i + 1}"] += e
    return g


def as_params(p):
    """The same numbers as jaxmlp parameters: a row per neuron, w of shape (fan_out, fan_in)."""
    return [{"w": jnp.array([[p["w1"], p["w2"]], [p["w3"], p["w4"]], [p["w5"], p["w6"]]]),
             "b": jnp.array([p["b1"], p["b2"], p["b3"]])},
            {"w": jnp.array([[p["w7"], p["w8"], p["w9"]]]), "b": jnp.array([p["b4"]])}]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="unused: this example draws no pictures (accepted like the others)")
    parser.parse_args()
    print("Why the errors are squared (deck 000's tables of t − y for four outputs):")
    tables = {"(1) perfect": (0, 0, 0, 0), "(2) small error": (0.3, 0.2, -0.2, -0.1),
              "(3) large error": (0.6, 0.7, -0.4, -0.7)}
    print(f"  {'table':<16} {'t − y':<24} {'Σ (t − y)':>10} {'Σ (t − y)²':>11}")
    for name, d in tables.items():
        print(f"  {name:<16} {d!s:<24} {sum(d):>10.2f} {sum(v * v for v in d):>11.2f}")
    print("  the plain sum rates (2) and (3) alike (0.2); the squares rank them 0 < 0.18 < 1.50")
    worked = 0.5 * sum((a - b) ** 2 for a, b in zip((0.3, 0.8, 0.2), (0, 1, 0)))
    print(f"  E = 1/2 Σ (y − t)² for y = (0.3, 0.8, 0.2), t = (0, 1, 0): {worked:.3f}\n")

    print("The 2-3-1 network (ReLU hidden, sigmoid output) on three examples:")
    for k, ((x1, x2), t) in enumerate(zip(X, T), start=1):
        (u1, u2, u3, u4), y = forward(W, x1, x2)
        print(f"  x({k}) = ({x1}, {x2}): u1..u4 = {u1:+.3f} {u2:+.3f} {u3:+.3f} {u4:+.3f}   "
              f"y({k}) = {y:.4f}   t({k}) = {t:.0f}")
    before = error(W)
    g = gradient(W)
    print(f"  E before the step = {before:.10f}\n")

    model = jaxmlp.MLP((2, 3, 1), ("relu", "sigmoid"))
    library = jaxmlp.backprop(model, as_params(W), jnp.array(X), jnp.array(T)[:, None], loss="sse",
                              reduction="sum")
    hand = as_params(g)
    diff = max(float(jnp.max(jnp.abs(library[i][k] - hand[i][k]))) for i in range(2) for k in ("w", "b"))
    print("∂E/∂w by hand (chain rule, output → hidden → input):")
    print("  " + "  ".join(f"{name} {value:+.5f}" for name, value in list(g.items())[:7]))
    print("  " + "  ".join(f"{name} {value:+.5f}" for name, value in list(g.items())[7:]))
    print(f"  max |hand − jaxmlp.backprop| = {diff:.1e}  ({'agree' if diff < 1e-12 else 'DISAGREE'})\n")

    stepped = {name: W[name] - ALPHA * g[name] for name in W}  # w ← w − α ∂E/∂w
    after = error(stepped)
    predicted = ALPHA * sum(v * v for v in g.values())  # first order: ΔE ≈ −α |∇E|²
    print(f"One step w ← w − α ∂E/∂w with α = {ALPHA}:")
    print(f"  E before = {before:.10f}\n  E after  = {after:.10f}")
    print(f"  decrease = {before - after:.3e}   (first-order prediction α |∇E|² = {predicted:.3e})")


if __name__ == "__main__":
    main()
