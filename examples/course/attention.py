"""Scaled dot-product attention (one head, no mask), its backward pass checked in the general
form of ``jaxmlp verify``.

CS231n assignment 3 (Transformers), the attention at the heart of ``MultiHeadAttention``. Queries
Q (rows, d), keys K (n, d), values V (n, d_v), with n = 4, d = 3, d_v = 2::

    S = Q Kᵀ / √d                     S_mj = Σ_k Q_mk K_jk / √d          (rows, n)
    A = softmax(S) row-wise           A_mj = e^{S_mj − m_m} / Σ_l e^{S_ml − m_m},  m_m = max_l S_ml
    Y = A V                                                              (rows, d_v)

The objective is Σ t ⊙ Y, with t (rows, d_v) playing the upstream dY. The row max m_m only
keeps exp from overflowing: softmax(S − m) = softmax(S) for any m, so its gradient is exactly 0;
the objective holds m with stop_gradient (as jax.nn.softmax does), and ties at the max do not
matter. The student differentiates from the top::

    dV = Aᵀ dY        (n, d_v)        dA = dY Vᵀ        (rows, n)
    dS = A ⊙ (dA − Σ_j dA ⊙ A)        row by row: the softmax Jacobian diag(a) − a aᵀ
    dQ = dS K / √d    (rows, d)       dK = dSᵀ Q / √d   (n, d)

Checked leaves: dQ, dK, dV: the inputs are held in ``params`` (``x`` is None). ``rows`` is the
number of queries; ``scale`` multiplies Q and K, so the scores grow as scale²: at 10 the softmax
rows are nearly one-hot, at 100 they are one-hot (and a softmax without the max overflows).

Run: jaxmlp verify examples/course/attention.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

N, D, DV = 4, 3, 2  # keys, query/key width, value width


def objective(params, x, t):
    q, k, v = params["q"], params["k"], params["v"]
    s = q @ k.T / jnp.sqrt(q.shape[1])
    e = jnp.exp(s - jax.lax.stop_gradient(jnp.max(s, axis=1, keepdims=True)))
    a = e / jnp.sum(e, axis=1, keepdims=True)
    return jnp.sum(t * (a @ v))


def forward(q, k):
    s = q @ k.T / jnp.sqrt(q.shape[1])                 # (rows, n) scores
    e = jnp.exp(s - jnp.max(s, axis=1, keepdims=True))  # stable: the row max subtracted
    a = e / jnp.sum(e, axis=1, keepdims=True)          # (rows, n), rows sum to 1
    return a


def grads(params, x, t):
    q, k, v = params["q"], params["k"], params["v"]
    a = forward(q, k)
    dy = t                                             # (rows, d_v): upstream dL/dY
    dv = a.T @ dy                                      # Y = A V: (n, rows) @ (rows, d_v)
    da = dy @ v.T                                      # (rows, d_v) @ (d_v, n)
    ds = a * (da - jnp.sum(da * a, axis=1, keepdims=True))  # softmax Jacobian, row by row
    dq = ds @ k / jnp.sqrt(q.shape[1])                 # S = Q Kᵀ / √d: (rows, n) @ (n, d)
    dk = ds.T @ q / jnp.sqrt(q.shape[1])               # (n, rows) @ (rows, d)
    return {"q": dq, "k": dk, "v": dv}


def sample(key, rows=5, scale=1.0):
    kq, kk, kv, kt = jax.random.split(key, 4)
    params = {"q": scale * (jax.random.normal(kq, (rows, D)) + 0.3),
              "k": scale * (jax.random.normal(kk, (N, D)) - 0.2),
              "v": jax.random.normal(kv, (N, DV)) + 0.5}
    t = jax.random.normal(kt, (rows, DV)) - 0.4
    return params, None, t


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
