"""The backward pass of 1-D max pooling, checked in the general form of ``jaxmlp verify``.

CS231n assignment 2 (convolutional networks), ``max_pool_forward_naive`` / ``backward``, in one
dimension: windows of 2, stride 2, over rows x_n of length L = 6 (3 windows each)::

    y_nj = max(x_{n,2j}, x_{n,2j+1})              X reshaped (B, 3, 2), Y = max over the last axis

The layer is checked through its vector-Jacobian product: with t the upstream gradient
dL/dy (B, 3), the objective is L = Σ_nj t_nj y_nj, so ∂L/∂x is the backward pass. The max
passes the upstream gradient to the element that is the maximum of its window::

    ∂L/∂x_{n,2j+i} = t_nj [x_{n,2j+i} = y_nj] / c_nj     c_nj = Σ_i [x_{n,2j+i} = y_nj]

Ties are kinks. The convention here is jax.grad's for ``jnp.max`` over an axis: the gradient is
split EQUALLY among tied maxima (c_nj = 2 gives each ½ t_nj). The course's naive loop, which
routes all of it to the first maximum (argmax), is another subgradient; it would fail here.

Checked leaf: x (held in params, so the ``x`` argument is None). ``rows`` is B; ``scale``
multiplies the inputs x. x is drawn as small integers (as floats), so that ties occur often at
every scale; t has a non-zero mean.

Run: jaxmlp verify examples/course/max_pool.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

L, WINDOW = 6, 2  # row length, window (= stride)


def objective(params, x, t):
    xw = params["x"].reshape(-1, L // WINDOW, WINDOW)
    return jnp.sum(t * jnp.max(xw, axis=2))


def forward(x):
    xw = x.reshape(-1, L // WINDOW, WINDOW)              # (B, 3, 2) the windows
    y = jnp.max(xw, axis=2)                              # (B, 3) their maxima
    return xw, y


def grads(params, x, t):
    xw, y = forward(params["x"])
    is_max = (xw == y[:, :, None]).astype(xw.dtype)      # 1 at each maximum of its window
    n_max = jnp.sum(is_max, axis=2, keepdims=True)       # (B, 3, 1) ties share equally
    dxw = is_max / n_max * t[:, :, None]                 # y = max → t to the maxima
    dx = dxw.reshape(params["x"].shape)                  # undo the windowing
    return {"x": dx}


def sample(key, rows=4, scale=1.0):
    kx, kt = jax.random.split(key)
    x = scale * jnp.round(1.2 * jax.random.normal(kx, (rows, L)) + 0.5)  # integers: ties
    t = jax.random.normal(kt, (rows, L // WINDOW)) + 0.3
    return {"x": x}, None, t


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
