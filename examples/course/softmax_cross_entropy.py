"""Softmax cross-entropy after a linear layer, checked in the general form of ``jaxmlp verify``.

CS231n assignment 1 (softmax classifier) and assignment 2 (``softmax_loss``): the scores of a
linear layer, their softmax, and the mean cross-entropy with integer labels. For rows x_n
(B, D), labels t_n ∈ {0, …, C−1}, weights W (C, D) and bias b (C,)::

    s_nj = Σ_d W_jd x_nd + b_j                    S = X Wᵀ + b   (B, C)
    p_nj = e^{s_nj} / Σ_k e^{s_nk}                (softmax; subtracting max_k s_nk changes nothing)
    L    = (1/B) Σ_n −log p_{n,t_n} = (1/B) Σ_n log Σ_k e^{s_nk − s_{n,t_n}}

The objective is the last form, a log-sum-exp (stable) of z_nk = s_nk − s_{n,t_n}, whose label
entry is the constant 0. Differentiating, the log-sum-exp gives the softmax p of z (= of s)::

    ∂L/∂s_nj = (p_nj − [j = t_n]) / B             dS = (P − onehot(t)) / B
    ∂L/∂W_jd = Σ_n dS_nj x_nd                     dW = dSᵀ X
    ∂L/∂b_j  = Σ_n dS_nj                          db = Σ_n dS_n

At the label, p − 1 is written −Σ_{k≠t_n} p_nk (the same number, since Σ_k p_nk = 1): when the
softmax saturates on the right class, 1 − p_label is tiny and ``p − 1`` would lose its digits to
cancellation (in the reference too, were the objective written log Σ_k e^{s_nk} − s_{n,t_n}).

Checked leaves: W and b. ``rows`` is B; ``scale`` multiplies the inputs X and the weights W, so
the scores grow as scale² and the softmax saturates (p one-hot, right or wrong); at 100× they
reach ~10⁴, where e^s overflows unless the row maximum is subtracted first.
C = 3 and D = 4 differ from each other and from the batch sizes, so that a dropped transpose
fails on shapes; X has a non-zero mean so that dW and db are unrelated.

Run: jaxmlp verify examples/course/softmax_cross_entropy.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

C, D = 3, 4  # classes, input features


def objective(params, x, t):
    s = x @ params["W"].T + params["b"]
    s_label = jnp.take_along_axis(s, t[:, None], axis=1)
    z = jnp.where(t[:, None] == jnp.arange(C), 0.0, s - s_label)
    return jnp.mean(jax.nn.logsumexp(z, axis=1))


def forward(params, x):
    s = x @ params["W"].T + params["b"]                  # (B, C) scores
    s_shift = s - jnp.max(s, axis=1, keepdims=True)      # the same softmax, no overflow
    e = jnp.exp(s_shift)
    p = e / jnp.sum(e, axis=1, keepdims=True)            # (B, C) softmax
    return p


def grads(params, x, t):
    p = forward(params, x)
    B = x.shape[0]
    label = t[:, None] == jnp.arange(C)                  # (B, C): True at the label
    p_wrong = jnp.where(label, 0.0, p)                   # p at the wrong classes, 0 at t_n
    p_minus_1 = -jnp.sum(p_wrong, axis=1, keepdims=True)  # (B, 1) p_label − 1, no cancellation
    ds = jnp.where(label, p_minus_1, p) / B              # ∂L/∂s = (p − onehot) / B
    dW = ds.T @ x                                        # s = x Wᵀ + b  →  dW = dsᵀ x
    db = jnp.sum(ds, axis=0)                             # b broadcast over rows → sum
    return {"W": dW, "b": db}


def sample(key, rows=6, scale=1.0):
    kw, kb, kx, kt = jax.random.split(key, 4)
    params = {"W": scale * jax.random.normal(kw, (C, D)), "b": jax.random.normal(kb, (C,))}
    x = scale * (jax.random.normal(kx, (rows, D)) + 0.5)
    t = jax.random.randint(kt, (rows,), 0, C)
    return params, x, t


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
