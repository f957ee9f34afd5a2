"""Deck 000 (MLP 学習の仕組み): the 2-3-1 network, neuron by neuron, and one gradient-descent step.

The forward pass of the deck, one scalar at a time (f: any elementwise jaxmlp activation without
parameters, i.e. not softmax or prelu)::

    u1 = w1 x1 + w2 x2 + b1        f(u1)
    u2 = w3 x1 + w4 x2 + b2        f(u2)
    u3 = w5 x1 + w6 x2 + b3        f(u3)
    u4 = w7 f(u1) + w8 f(u2) + w9 f(u3) + b4
    y  = f(u4)

the sum-of-squares loss over the images k = 1 … n, ``E = ½ Σ_k (y(k) − t(k))²``, and gradient
descent ``w ← w − α ∂E/∂w``, ``b ← b − α ∂E/∂b`` with ``α = 0.001``. The deck's worked numbers:
``E = ½ ((0.3 − 0)² + (0.8 − 1)² + (0.2 − 0)²) = 0.085`` and the three error tables, whose sums of
differences (0, 0.2, 0.2) cannot tell table ② from table ③ while the sums of squares
(0, 0.18, 1.50) can.

The deck's table ③ is not self-consistent: its first slide lists outputs 0.5, 0.3, 0.6, 0.7, the
later slides 0.4, 0.3, 0.6, 0.7, and on every slide the third row's difference ``正解 − 出力`` is
−0.4 although its output is 0.6 (0 − 0.6 = −0.6). The sums the deck computes, 0.2 and 1.50, are
the sums of its difference column 0.6, 0.7, −0.4, −0.7, so we transcribe that column: outputs
0.4, 0.3, 0.4, 0.7 against targets 1, 1, 0, 0 (:data:`TABLE_3_AS_PRINTED` keeps the printed
outputs, whose sums would be 0 and 1.70). Two slides also print 0.8 as "8.0".

The deck states backprop in words only (学習:誤差逆伝播法: compute output layer → hidden layer →
input layer, the reverse of inference); no ``∂E/∂w1`` formula is on its slides. The scalar chain
rules of :func:`gradient` are ours, written in the deck's symbols.

In jaxmlp this is ``MLP((2, 3, 1), (f, f))`` with loss ``"sse"`` and reduction ``"sum"``;
:func:`to_deck` and :func:`from_deck` convert between the 13 named scalars and jaxmlp's layers.
Every array below holds one entry per image k, so ``x1[k]`` is the deck's ``x1`` of image k.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

import jaxmlp
from jaxmlp.check import Check, check_grads, check_number
from jaxmlp.core.activations import get_activation
from jaxmlp.core.random_problem import random_problem

__all__ = [
    "ALPHA",
    "TABLES",
    "TABLE_3_AS_PRINTED",
    "E",
    "checks",
    "forward",
    "from_deck",
    "gradient",
    "grads",
    "step",
    "sum_of_differences",
    "sum_of_squares",
    "to_deck",
]

Array = jax.Array
ALPHA = 0.001  #: the deck's learning rate α
NAMES = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9", "b1", "b2", "b3", "b4")

#: the deck's error tables: (outputs, targets) of four images each
TABLES = {
    "① perfect": ((1.0, 1.0, 0.0, 0.0), (1.0, 1.0, 0.0, 0.0)),
    "② small error": ((0.7, 0.8, 0.2, 0.1), (1.0, 1.0, 0.0, 0.0)),
    "③ large error": ((0.4, 0.3, 0.4, 0.7), (1.0, 1.0, 0.0, 0.0)),
}
TABLE_3_AS_PRINTED = ((0.4, 0.3, 0.6, 0.7), (1.0, 1.0, 0.0, 0.0))  #: its row 3 contradicts its −0.4


def forward(p: dict[str, Array], x1: Array, x2: Array, f: str = "sigmoid") -> dict[str, Array]:
    """The deck's forward pass: returns ``u1 … u4`` and ``y = f(u4)`` (one entry per image)."""
    f = get_activation(f).f
    u1 = p["w1"] * x1 + p["w2"] * x2 + p["b1"]
    u2 = p["w3"] * x1 + p["w4"] * x2 + p["b2"]
    u3 = p["w5"] * x1 + p["w6"] * x2 + p["b3"]
    u4 = p["w7"] * f(u1) + p["w8"] * f(u2) + p["w9"] * f(u3) + p["b4"]
    return {"u1": u1, "u2": u2, "u3": u3, "u4": u4, "y": f(u4)}


def E(y, t):  # noqa: N802 (the deck's symbol)
    """The sum-of-squares loss ``E = ½ Σ_k (y(k) − t(k))²`` over the images k.

    Plain arithmetic, so exact numbers stay exact (the deck's worked example):

    >>> from fractions import Fraction as F
    >>> E([F("0.3"), F("0.8"), F("0.2")], [0, 1, 0])
    Fraction(17, 200)
    """
    return sum((y_k - t_k) ** 2 for y_k, t_k in zip(y, t)) / 2


def sum_of_differences(outputs, targets) -> float:
    """``Σ (正解 − 出力)``: 0, 0.2 and 0.2 for the deck's tables ①, ② and ③."""
    return sum(t - y for y, t in zip(outputs, targets))


def sum_of_squares(outputs, targets) -> float:
    """``Σ (正解 − 出力)²``: 0, 0.18 and 1.50 for the deck's tables ①, ② and ③."""
    return sum((t - y) ** 2 for y, t in zip(outputs, targets))


def gradient(
    p: dict[str, Array], x1: Array, x2: Array, t: Array, f: str = "sigmoid"
) -> dict[str, Array]:
    """``∂E/∂w1 … ∂E/∂w9, ∂E/∂b1 … ∂E/∂b4`` by the chain rule, one scalar at a time.

    Backprop runs output → hidden → input (the deck's 誤差逆伝播法): first ``∂E/∂u4``, then the
    output weights, then each hidden neuron's ``∂E/∂u``, then its weights. Every line is one link
    of the chain; the sum over the images k comes last. The deck gives this order in prose only;
    the formulas (e.g. ``∂E/∂w1 = (y − t) f′(u4) w7 f′(u1) x1``) are ours.
    """
    act = get_activation(f)
    f, df = act.f, act.df
    s = forward(p, x1, x2, act.name)
    u1, u2, u3, u4, y = s["u1"], s["u2"], s["u3"], s["u4"], s["y"]

    dE_dy = y - t                      # E = ½ (y − t)²
    dE_du4 = dE_dy * df(u4)            # y = f(u4)
    dE_dw7 = dE_du4 * f(u1)            # u4 = w7 f(u1) + w8 f(u2) + w9 f(u3) + b4
    dE_dw8 = dE_du4 * f(u2)
    dE_dw9 = dE_du4 * f(u3)
    dE_db4 = dE_du4

    dE_du1 = dE_du4 * p["w7"] * df(u1)  # ∂u4/∂f(u1) = w7, ∂f(u1)/∂u1 = f'(u1)
    dE_du2 = dE_du4 * p["w8"] * df(u2)
    dE_du3 = dE_du4 * p["w9"] * df(u3)

    dE_dw1, dE_dw2, dE_db1 = dE_du1 * x1, dE_du1 * x2, dE_du1  # u1 = w1 x1 + w2 x2 + b1
    dE_dw3, dE_dw4, dE_db2 = dE_du2 * x1, dE_du2 * x2, dE_du2  # u2 = w3 x1 + w4 x2 + b2
    dE_dw5, dE_dw6, dE_db3 = dE_du3 * x1, dE_du3 * x2, dE_du3  # u3 = w5 x1 + w6 x2 + b3

    per_image = {
        "w1": dE_dw1, "w2": dE_dw2, "w3": dE_dw3, "w4": dE_dw4, "w5": dE_dw5, "w6": dE_dw6,
        "w7": dE_dw7, "w8": dE_dw8, "w9": dE_dw9, "b1": dE_db1, "b2": dE_db2, "b3": dE_db3,
        "b4": dE_db4,
    }
    return {name: jnp.sum(g) for name, g in per_image.items()}  # E = Σ_k: the gradients add up


def step(p: dict[str, Array], x1: Array, x2: Array, t: Array, f: str = "sigmoid",
         alpha: float = ALPHA) -> dict[str, Array]:
    """One gradient-descent step, ``w ← w − α ∂E/∂w`` and ``b ← b − α ∂E/∂b``, per scalar."""
    g = gradient(p, x1, x2, t, f)
    return {
        "w1": p["w1"] - alpha * g["w1"], "w2": p["w2"] - alpha * g["w2"],
        "w3": p["w3"] - alpha * g["w3"], "w4": p["w4"] - alpha * g["w4"],
        "w5": p["w5"] - alpha * g["w5"], "w6": p["w6"] - alpha * g["w6"],
        "w7": p["w7"] - alpha * g["w7"], "w8": p["w8"] - alpha * g["w8"],
        "w9": p["w9"] - alpha * g["w9"],
        "b1": p["b1"] - alpha * g["b1"], "b2": p["b2"] - alpha * g["b2"],
        "b3": p["b3"] - alpha * g["b3"], "b4": p["b4"] - alpha * g["b4"],
    }


def grads(
    params: list[dict[str, Array]], x: Array, t: Array, f: str = "sigmoid"
) -> list[dict[str, Array]]:
    """:func:`gradient` in jaxmlp's layout: ``x (n, 2)``, ``t (n, 1)`` → the gradient pytree.

    Wrap it for :func:`jaxmlp.check_gradients` as ``lambda p, x, t: grads(p, x, t, f)`` with
    ``MLP((2, 3, 1), (f, f))``, loss ``"sse"`` and reduction ``"sum"``.
    """
    return from_deck(gradient(to_deck(params), x[:, 0], x[:, 1], t[:, 0], f))


def to_deck(params: list[dict[str, Array]]) -> dict[str, Array]:
    """jaxmlp's layers → the deck's scalars.

    ``[{"w": (3, 2), "b": (3,)}, {"w": (1, 3), "b": (1,)}]`` → ``{"w1": …, "b4": …}``.
    """
    (w1, w2), (w3, w4), (w5, w6) = params[0]["w"]
    b1, b2, b3 = params[0]["b"]
    ((w7, w8, w9),), (b4,) = params[1]["w"], params[1]["b"]
    values = (w1, w2, w3, w4, w5, w6, w7, w8, w9, b1, b2, b3, b4)
    return dict(zip(NAMES, values))


def from_deck(p: dict[str, Array]) -> list[dict[str, Array]]:
    """``{"w1": …, "b4": …}`` → jaxmlp's layers (row = neuron: ``u1`` is row 0 of layer 0)."""
    return [
        {"w": jnp.stack([jnp.stack([p["w1"], p["w2"]]), jnp.stack([p["w3"], p["w4"]]),
                         jnp.stack([p["w5"], p["w6"]])]),
         "b": jnp.stack([p["b1"], p["b2"], p["b3"]])},
        {"w": jnp.stack([p["w7"], p["w8"], p["w9"]])[None], "b": jnp.stack([p["b4"]])},
    ]


def checks(seed: int = 0) -> list[Check]:
    """The deck's worked numbers and the chain rule against ``jax.grad``."""
    error = E([0.3, 0.8, 0.2], [0.0, 1.0, 0.0])
    out = [check_number("deck 000 E = ½ Σ_k (y(k) − t(k))²", error, 0.085)]
    for (label, (y, t)), diff, square in zip(TABLES.items(), (0.0, 0.2, 0.2), (0.0, 0.18, 1.50)):
        out.append(check_number(f"deck 000 table {label}: Σ (t − y)",
                                sum_of_differences(y, t), diff))
        out.append(check_number(f"deck 000 table {label}: Σ (t − y)²",
                                sum_of_squares(y, t), square))
    for f in ("sigmoid", "tanh"):
        model = jaxmlp.MLP((2, 3, 1), (f, f))
        params, x, t = random_problem(model, "sse", seed, batch=6)
        out.append(check_grads(f"deck 000 ∂E/∂w1 … ∂E/∂b4 per scalar (f = {f})",
                               functools.partial(grads, f=f), model, params, x, t, "sse", "sum"))
    return out
