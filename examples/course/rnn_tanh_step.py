"""One step of a vanilla tanh RNN, its backward pass checked in the general form of
``jaxmlp verify``.

CS231n assignment 3, ``rnn_step_forward`` / ``rnn_step_backward``. Rows are examples: the input
x_t (B, D), the previous hidden state h_prev (B, H); each weight maps INTO the H units, Wx (H, D),
Wh (H, H), b (H,) (so the forward multiplies by their transposes; CS231n stores Wx as (D, H))::

    a      = x_t Wxᵀ + h_prev Whᵀ + b          a_nj = Σ_k x_nk Wx_jk + Σ_k h_nk Wh_jk + b_j
    h_next = tanh(a)                           (B, H), D = 3, H = 4

The objective is Σ t ⊙ h_next, with t (B, H) playing the upstream dL/dh_next, so its gradient is
the step's backward pass. The student differentiates from the top::

    da  = t ⊙ (1 − h_next²)                    tanh′(a) = 1 − tanh²(a), the textbook form
    dWx = daᵀ x_t          (H, D)              dWh = daᵀ h_prev   (H, H)
    db  = Σ_n da_n         (H,)

Rounding at saturation: jax.grad computes t ⊙ tanh′ as (t + t h)(1 − h), the same number in
exact arithmetic. When |a| is large, tanh′ is tiny next to the ±1 it is computed from, and each
form loses it to cancellation on its own side: 1 − h² through the rounding of h² (h → +1; XLA
under jit on CPU fuses it into an exact-product FMA), jax's through t + t h (h → −1). Each is off
by about one ulp of 1 (1.1e-16 in float64, 6e-8 in float32) times |t|, which next to a derivative
that small can be per cents of it: the two differ by rounding, not by a wrong derivation.

Checked leaves: dWx, dWh, db (x = (x_t, h_prev) is data; dx_t and dh_prev are not checked here).
``rows`` is B; ``scale`` multiplies Wx, Wh and b, so the pre-activations a grow with it and at
scale 100 most units saturate. h_prev is drawn as tanh of a normal, a hidden state in (−1, 1).

Run: jaxmlp verify examples/course/rnn_tanh_step.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

D, H = 3, 4  # input width, hidden units


def objective(params, x, t):
    x_t, h_prev = x
    a = x_t @ params["Wx"].T + h_prev @ params["Wh"].T + params["b"]
    return jnp.sum(t * jnp.tanh(a))


def forward(params, x):
    x_t, h_prev = x
    a = x_t @ params["Wx"].T + h_prev @ params["Wh"].T + params["b"]  # (B, H)
    h_next = jnp.tanh(a)
    return h_next


def grads(params, x, t):
    x_t, h_prev = x
    h_next = forward(params, x)
    dh_next = t                        # (B, H): upstream dL/dh_next
    da = dh_next * (1 - h_next**2)     # h_next = tanh(a): tanh′ = 1 − tanh²
    dWx = da.T @ x_t                   # a = x_t Wxᵀ + ...: (H, B) @ (B, D)
    dWh = da.T @ h_prev                # a = ... + h_prev Whᵀ: (H, B) @ (B, H)
    db = jnp.sum(da, axis=0)           # b is broadcast over the rows
    return {"Wx": dWx, "Wh": dWh, "b": db}


def sample(key, rows=5, scale=1.0):
    kx, kh, kwx, kwh, kb, kt = jax.random.split(key, 6)
    params = {"Wx": scale * jax.random.normal(kwx, (H, D)),
              "Wh": scale * jax.random.normal(kwh, (H, H)),
              "b": scale * (jax.random.normal(kb, (H,)) + 0.5)}
    x_t = jax.random.normal(kx, (rows, D)) + 0.3
    h_prev = jnp.tanh(jax.random.normal(kh, (rows, H)) - 0.2)
    t = jax.random.normal(kt, (rows, H)) + 0.4
    return params, (x_t, h_prev), t


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
