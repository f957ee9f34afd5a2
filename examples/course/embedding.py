"""The backward pass of an embedding lookup, checked in the general form of ``jaxmlp verify``.

CS231n assignment 3 (RNN captioning), ``word_embedding_backward``: each row n looks up one row
of the table E (V, D) by its integer index idx_n ∈ {0, …, V−1}::

    y_n = E[idx_n]            y_nd = Σ_v [idx_n = v] E_vd      Y = onehot(idx) E   (B, D)

The layer is checked through its vector-Jacobian product: with t the upstream gradient
dL/dy (B, D), the objective is L = Σ_nd t_nd y_nd, so ∂L/∂E is the backward pass::

    ∂L/∂E_vd = Σ_n [idx_n = v] t_nd               dE = onehot(idx)ᵀ t

Row v of dE collects the upstream gradient of every row that looked v up: E_v is used once
per lookup, and the derivative of a sum of uses is the sum of their derivatives, so repeated
indices ADD (a scatter-add, ``dE.at[idx].add(t)``; ``.set`` would keep only one of them).
Rows never looked up get 0.

Checked leaf: E. ``x`` is idx (B,), drawn with repeats (V = 4, so 5 rows must repeat one);
``t`` is the upstream gradient. ``rows`` is B; ``scale`` multiplies the table E and t.

Run: jaxmlp verify examples/course/embedding.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

V, D = 4, 3  # vocabulary size, embedding width


def objective(params, x, t):
    y = params["E"][x]                                   # (B, D) the rows looked up
    return jnp.sum(t * y)


def grads(params, x, t):
    E = params["E"]
    dE = jnp.zeros_like(E)                               # rows never looked up: 0
    dE = dE.at[x].add(t)                                 # y_n = E[idx_n] → dE[idx_n] += t_n
    return {"E": dE}


def sample(key, rows=6, scale=1.0):
    ke, kx, kt = jax.random.split(key, 3)
    params = {"E": scale * jax.random.normal(ke, (V, D))}
    x = jax.random.randint(kx, (rows,), 0, V)
    t = scale * (jax.random.normal(kt, (rows, D)) + 0.3)
    return params, x, t


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
