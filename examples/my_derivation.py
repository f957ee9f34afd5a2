"""A student's own derivation of backprop, checked by ``jaxmlp verify examples/my_derivation.py``.

Follows deck 001 (equations (4)-(6), slide 「誤差逆伝播法」) and deck 003 (slide
「計算グラフでデルタを追う」): a 2-layer network, tanh hidden layer and sigmoid
output, trained with binary cross-entropy averaged over the batch. For one example x (shapes for
n_in = 2, H = 8, one output)::

    u1 = w1 x + b1        h = tanh(u1)              (8,)
    u2 = w2 h + b2        o = σ(u2)                 (1,)
    ℓ  = −[t log o + (1 − t) log(1 − o)]            E = (1/B) Σ_n ℓ_n

Backwards, with δ = ∂ℓ/∂u:

    δ2 = o − t                       sigmoid + binary cross-entropy: the canonical link (deck 003)
    δ1 = (w2ᵀ δ2) ⊙ (1 − h²)         tanh′ = 1 − tanh² (deck 003's Hadamard product)
    ∂E/∂w2 = (1/B) Σ_n δ2 hᵀ,  ∂E/∂b2 = (1/B) Σ_n δ2,  and layer 1 alike with x in place of h.

The file defines what ``jaxmlp verify`` reads (the MLP form): ``model``, ``loss``, ``reduction``,
``grads(params, x, t)``, which returns the gradient in jaxmlp's layout (one dict per layer), and
``deltas(params, x, t)``, the list [δ1 (B, 8), δ2 (B, 1)] of each example's own δ = ∂ℓ_n/∂u, so
that a wrong derivation is reported as the first wrong δ. Samples are rows here: ``x`` is (B, 2),
``t`` is (B, 1).

Run: python examples/my_derivation.py
(it verifies itself, as ``jaxmlp verify examples/my_derivation.py``)
"""

import sys

import jax.numpy as jnp

import jaxmlp
import jaxmlp.verify

model = jaxmlp.MLP((2, 8, 1), ("tanh", "sigmoid"))
loss = "binary_crossentropy"
reduction = "mean"


def forward(params, x):
    w1, b1 = params[0]["w"], params[0]["b"]
    w2, b2 = params[1]["w"], params[1]["b"]
    u1 = x @ w1.T + b1[None, :]        # (B, 8)
    h = jnp.tanh(u1)
    u2 = h @ w2.T + b2[None, :]        # (B, 1)
    o = 1 / (1 + jnp.exp(-u2))
    return h, o


def deltas(params, x, t):
    h, o = forward(params, x)
    δ2 = o - t                                # (B, 1)
    δ1 = (δ2 @ params[1]["w"]) * (1 - h**2)   # (B, 8): row n is (w2ᵀ δ2_n) ⊙ (1 − h_n²)
    return [δ1, δ2]


def grads(params, x, t):
    B = x.shape[0]
    h, _ = forward(params, x)
    δ1, δ2 = deltas(params, x, t)
    return [
        {"w": δ1.T @ x / B, "b": jnp.sum(δ1, axis=0) / B},
        {"w": δ2.T @ h / B, "b": jnp.sum(δ2, axis=0) / B},
    ]


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
