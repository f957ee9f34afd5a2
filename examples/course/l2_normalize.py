"""Row-wise L2 normalisation backward, derived step by step through the computational graph.

The normalisation layer of course exercises on embeddings and cosine similarity (CS231n-style:
"derive the backward pass of y = x / ‖x‖"). Each row x_n (N, D) is divided by its Euclidean
norm::

    s_n = Σ_d x_nd²          r_n = √s_n          y_nd = x_nd / r_n

The objective is Σ_nd t_nd y_nd, so ``t`` is the upstream gradient ∂L/∂y. Back through the
graph: x reaches y directly and through the norm, and the two paths add::

    dr_n   = Σ_d t_nd x_nd · (−1/r_n²)           (y = x · r⁻¹)
    ds_n   = dr_n · 1/(2 √s_n)                   (r = √s)
    dx_nd  = t_nd / r_n + ds_n · 2 x_nd          (direct path + s = Σ x²)

which is the compact dx_n = (t_n − (t_n · y_n) y_n) / r_n.

Checked leaf: ``x`` (dx), held in ``params`` so that its gradient is checked; the objective's
``x`` argument is ``None``. ``rows`` is N, the number of rows; ``scale`` multiplies the inputs x
(y is scale-free, dx shrinks as 1/scale). D = 3 features with non-zero column offsets; the norm of
a normal draw is never near 0, so y is always defined.

Run: jaxmlp verify examples/course/l2_normalize.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

D = 3  # features


def forward(x):
    s = jnp.sum(x**2, axis=1, keepdims=True)    # (N, 1)
    r = jnp.sqrt(s)                             # (N, 1): the norm
    y = x / r                                   # (N, D)
    return y, (s, r)


def objective(params, x, t):
    y, _ = forward(params["x"])
    return jnp.sum(t * y)


def grads(params, x, t):
    xs = params["x"]
    _, (s, r) = forward(xs)
    dr = jnp.sum(t * xs, axis=1, keepdims=True) * -1 / r**2    # y = x · r⁻¹
    ds = dr / (2 * jnp.sqrt(s))                               # r = √s
    dx = t / r + ds * 2 * xs                                  # y = x / r, and s = Σ x²
    return {"x": dx}


def sample(key, rows=4, scale=1.0):
    kx, ko, kt = jax.random.split(key, 3)
    offset = jax.random.normal(ko, (D,))
    x = scale * (jax.random.normal(kx, (rows, D)) + offset)
    t = jax.random.normal(kt, (rows, D))
    return {"x": x}, None, t


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
