"""The backward pass of a 1-D convolution, checked in the general form of ``jaxmlp verify``.

CS231n assignment 2 (convolutional networks), ``conv_forward_naive`` / ``conv_backward_naive``,
in one dimension: a cross-correlation, 'valid', stride 1, of x (B, C_in = 2, L = 7) with
filters w (C_out = 3, C_in, K = 3) and bias b (C_out,), giving L' = L − K + 1 = 5 outputs::

    y_nol = b_o + Σ_c Σ_k w_ock x_{n,c,l+k}      Y = b + Σ_k W_k X_k
    (W_k = w[:, :, k] (C_out, C_in); X_k = x[:, :, k:k+L'] (B, C_in, L'), the inputs tap k sees)

The layer is checked through its vector-Jacobian product: with t the upstream gradient
dL/dy (B, C_out, L'), the objective is L = Σ t_nol y_nol. Each tap k is a matrix product, so::

    ∂L/∂b_o   = Σ_n Σ_l t_nol                    db = t summed over rows and positions
    ∂L/∂w_ock = Σ_n Σ_l t_nol x_{n,c,l+k}        dW_k = Σ_n t_n X_{n,k}ᵀ
    ∂L/∂x_ncm = Σ_o Σ_k w_ock t_{n,o,m−k}        dX_k = W_kᵀ t_n, added at positions k…k+L'−1

An input position m is seen by up to K taps, so the dX_k of the taps overlap and ADD.

Checked leaves: w, b and x (the input is held in params, so the ``x`` argument is None).
``rows`` is B; ``scale`` multiplies the inputs x. x and t have non-zero means.

Run: jaxmlp verify examples/course/conv1d.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

C_IN, C_OUT, K, L = 2, 3, 3, 7  # input channels, output channels, taps, input length


def objective(params, x, t):
    w, b, xs = params["w"], params["b"], params["x"]
    Lo = L - K + 1
    y = b[:, None] + sum(jnp.einsum("oc,ncl->nol", w[:, :, k], xs[:, :, k:k + Lo])
                         for k in range(K))
    return jnp.sum(t * y)


def grads(params, x, t):
    w, xs = params["w"], params["x"]
    Lo = L - K + 1                                       # output length
    db = jnp.sum(jnp.sum(t, axis=2), axis=0)             # b added at every (n, l)
    dw_taps = []
    dx = jnp.zeros_like(xs)
    for k in range(K):
        xk = xs[:, :, k:k + Lo]                          # (B, C_in, L') inputs tap k sees
        dw_k = t @ jnp.swapaxes(xk, 1, 2)                # (B, C_out, C_in): y = W_k X_k → t X_kᵀ
        dw_taps.append(jnp.sum(dw_k, axis=0))            # shared over the rows → sum
        dx_k = w[:, :, k].T @ t                          # (B, C_in, L'): W_kᵀ t
        dx = dx.at[:, :, k:k + Lo].add(dx_k)             # overlapping taps add
    dw = jnp.stack(dw_taps, axis=2)                      # (C_out, C_in, K)
    return {"w": dw, "b": db, "x": dx}


def sample(key, rows=4, scale=1.0):
    kw, kb, kx, kt = jax.random.split(key, 4)
    params = {"w": jax.random.normal(kw, (C_OUT, C_IN, K)),
              "b": jax.random.normal(kb, (C_OUT,)),
              "x": scale * (jax.random.normal(kx, (rows, C_IN, L)) + 0.5)}
    t = jax.random.normal(kt, (rows, C_OUT, L - K + 1)) + 0.3
    return params, None, t


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
