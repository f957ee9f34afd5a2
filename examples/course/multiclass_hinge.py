"""The multiclass SVM (hinge) loss, checked in the general form of ``jaxmlp verify``.

CS231n assignment 1, ``svm_loss_vectorized``: for rows x_n (B, D), integer labels y_n and
weights W (C, D), the scores s_n = W x_n, the margins of the wrong classes and their hinge::

    s_nj = Σ_d W_jd x_nd                           S = X Wᵀ   (B, C)
    m_nj = s_nj − s_{n,y_n} + 1                    (the margin; Δ = 1)
    L    = (1/B) Σ_n Σ_{j≠y_n} max(0, m_nj) + λ Σ_jd W_jd²

The hinge passes the gradient where the margin is positive: a_nj = [j ≠ y_n][m_nj > 0]. Each
active margin pulls +x_n into row j and −x_n into row y_n::

    ∂L/∂s_nj     = a_nj / B                     (j ≠ y_n)
    ∂L/∂s_{n,y_n} = −(Σ_j a_nj) / B             (the label's score is in every margin)
    ∂L/∂W        = dSᵀ X + 2λ W

At the kink m_nj = 0 the gradient is 0 (the margin counts as inactive): the objective is
written ``jnp.where(m > 0, m, 0)`` with the same comparison as the hand gradient, so that
jax.grad takes the branch ``m > 0`` picks (``jnp.maximum(0, m)`` would give ½ there).

Checked leaf: W. ``rows`` is B; ``scale`` multiplies the inputs X. W and about half the rows of
X are small integers (as floats), so that at scale 1 margins of exactly 0 occur and the kink
convention is tested; the other rows are not, so that margins fall anywhere. C = 3 and D = 4
differ from each other and from the batch sizes.

Run: jaxmlp verify examples/course/multiclass_hinge.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

C, D = 3, 4  # classes, input features
λ = 0.05  # the L2 rate; its gradient is 2 λ W


def objective(params, x, t):
    s = x @ params["W"].T
    m = s - jnp.take_along_axis(s, t[:, None], axis=1) + 1
    wrong = t[:, None] != jnp.arange(C)
    hinge = jnp.where(wrong & (m > 0), m, 0.0)
    return jnp.sum(hinge) / x.shape[0] + λ * jnp.sum(params["W"] ** 2)


def forward(params, x, t):
    s = x @ params["W"].T                                # (B, C) scores
    label = t[:, None] == jnp.arange(C)                  # (B, C): True at y_n
    s_label = jnp.sum(jnp.where(label, s, 0.0), axis=1, keepdims=True)  # (B, 1) s_{n,y_n}
    m = s - s_label + 1                                  # (B, C) margins
    return label, m


def grads(params, x, t):
    label, m = forward(params, x, t)
    B = x.shape[0]
    active = (~label & (m > 0)).astype(x.dtype)          # max(0, m)' = [m > 0], j ≠ y_n only
    count = jnp.sum(active, axis=1, keepdims=True)       # (B, 1) active margins of each row
    ds = (active - label * count) / B                    # +1 per active j, −count at y_n
    dW = ds.T @ x + 2 * λ * params["W"]                  # s = x Wᵀ → dsᵀ x; λ W² → 2 λ W
    return {"W": dW}


def sample(key, rows=6, scale=1.0):
    kw, kx, kj, kc, kt = jax.random.split(key, 5)
    W = jnp.round(1.5 * jax.random.normal(kw, (C, D)))             # small integers
    x = jnp.round(jax.random.normal(kx, (rows, D)) + 0.7)          # small integers, mean > 0
    jitter = jax.random.bernoulli(kc, 0.5, (rows, 1)) * jax.random.normal(kj, (rows, D))
    x = scale * (x + 0.3 * jitter)                                 # about half the rows not
    t = jax.random.randint(kt, (rows,), 0, C)
    return {"W": W}, x, t


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
