"""One LSTM cell step, its backward pass checked in the general form of ``jaxmlp verify``.

CS231n assignment 3, ``lstm_step_forward`` / ``lstm_step_backward``. Rows are examples: x_t (B, D),
h_prev (B, H), c_prev (B, H); the weights in CS231n's layout, Wx (D, 4H), Wh (H, 4H), b (4H,),
whose 4H columns are the gates in the order i, f, o, g::

    a = x_t Wx + h_prev Wh + b = [a_i | a_f | a_o | a_g]        (B, 4H), D = 3, H = 4
    i = σ(a_i)   f = σ(a_f)   o = σ(a_o)   g = tanh(a_g)
    c_next = f ⊙ c_prev + i ⊙ g           h_next = o ⊙ tanh(c_next)

The objective is Σ dh_next ⊙ h_next + Σ dc_next ⊙ c_next, with t = (dh_next, dc_next) the
upstream gradients of both outputs, so its gradient is the step's backward pass. The student
goes down the graph, σ′ = σ(1 − σ) and tanh′ = 1 − tanh²::

    do  = dh_next ⊙ tanh(c_next)          dtc = dh_next ⊙ o
    dc  = dc_next + dtc ⊙ (1 − tanh²(c_next))     (c_next reaches the objective twice: add)
    df  = dc ⊙ c_prev    di = dc ⊙ g    dg = dc ⊙ i
    da_i = di ⊙ i(1 − i)   da_f = df ⊙ f(1 − f)   da_o = do ⊙ o(1 − o)   da_g = dg ⊙ (1 − g²)
    da  = [da_i | da_f | da_o | da_g]
    dWx = x_tᵀ da   (D, 4H)       dWh = h_prevᵀ da   (H, 4H)       db = Σ_n da_n   (4H,)

jax.grad writes tanh′ as (1 + h)(1 − h): at saturation the two forms round differently (1 − h²
through h² as h → +1, jax's through 1 + h as h → −1), a rounding difference, not a wrong
derivation. σ′ is written as jax writes it, σ(1 − σ).

Checked leaves: dWx, dWh, db (x = (x_t, h_prev, c_prev) is data). ``rows`` is B; ``scale``
multiplies Wx, Wh and b, so the gate pre-activations grow with it and at scale 100 most gates
saturate. h_prev is drawn as tanh of a normal; c_prev, a cell state, is any real.

Run: jaxmlp verify examples/course/lstm_step.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

D, H = 3, 4  # input width, hidden units


def objective(params, x, t):
    x_t, h_prev, c_prev = x
    dh_next, dc_next = t
    a = x_t @ params["Wx"] + h_prev @ params["Wh"] + params["b"]
    a_i, a_f, a_o, a_g = jnp.split(a, 4, axis=1)
    c_next = jax.nn.sigmoid(a_f) * c_prev + jax.nn.sigmoid(a_i) * jnp.tanh(a_g)
    h_next = jax.nn.sigmoid(a_o) * jnp.tanh(c_next)
    return jnp.sum(dh_next * h_next) + jnp.sum(dc_next * c_next)


def forward(params, x):
    x_t, h_prev, c_prev = x
    a = x_t @ params["Wx"] + h_prev @ params["Wh"] + params["b"]  # (B, 4H)
    a_i, a_f, a_o, a_g = jnp.split(a, 4, axis=1)                   # (B, H) each
    i, f, o = jax.nn.sigmoid(a_i), jax.nn.sigmoid(a_f), jax.nn.sigmoid(a_o)
    g = jnp.tanh(a_g)
    c_next = f * c_prev + i * g
    tc = jnp.tanh(c_next)
    return i, f, o, g, tc


def grads(params, x, t):
    x_t, h_prev, c_prev = x
    dh_next, dc_next = t
    i, f, o, g, tc = forward(params, x)
    do = dh_next * tc                      # h_next = o ⊙ tanh(c_next)
    dtc = dh_next * o
    dc = dc_next + dtc * (1 - tc**2)       # tanh′ = 1 − tanh², plus the direct path
    df = dc * c_prev                       # c_next = f ⊙ c_prev + i ⊙ g
    di = dc * g
    dg = dc * i
    da_i = di * (i * (1 - i))              # i = σ(a_i): σ′ = σ(1 − σ)
    da_f = df * (f * (1 - f))
    da_o = do * (o * (1 - o))
    da_g = dg * (1 - g**2)                 # g = tanh(a_g)
    da = jnp.concatenate([da_i, da_f, da_o, da_g], axis=1)  # (B, 4H), order i, f, o, g
    dWx = x_t.T @ da                       # a = x_t Wx + ...: (D, B) @ (B, 4H)
    dWh = h_prev.T @ da                    # a = ... + h_prev Wh: (H, B) @ (B, 4H)
    db = jnp.sum(da, axis=0)               # b is broadcast over the rows
    return {"Wx": dWx, "Wh": dWh, "b": db}


def sample(key, rows=5, scale=1.0):
    kx, kh, kc, kwx, kwh, kb, kdh, kdc = jax.random.split(key, 8)
    params = {"Wx": scale * jax.random.normal(kwx, (D, 4 * H)),
              "Wh": scale * jax.random.normal(kwh, (H, 4 * H)),
              "b": scale * (jax.random.normal(kb, (4 * H,)) + 0.5)}
    x_t = jax.random.normal(kx, (rows, D)) + 0.3
    h_prev = jnp.tanh(jax.random.normal(kh, (rows, H)) - 0.2)
    c_prev = 2 * jax.random.normal(kc, (rows, H)) + 0.5
    dh_next = jax.random.normal(kdh, (rows, H)) + 0.4
    dc_next = jax.random.normal(kdc, (rows, H)) - 0.3
    return params, (x_t, h_prev, c_prev), (dh_next, dc_next)


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
