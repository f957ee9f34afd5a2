"""Inverted dropout backward, with the mask as data.

CS231n assignment 2 (Dropout.ipynb), ``dropout_forward`` / ``dropout_backward`` in training mode.
Each unit is kept with probability p (a Bernoulli mask m, drawn once, fixed during the backward
pass) and the kept units are scaled by 1/p so that the expected output equals the input::

    y_nd = m_nd x_nd / p          m_nd ∈ {0, 1},  p = 0.8

The objective is Σ_nd g_nd y_nd, so g is the upstream gradient ∂L/∂y. The layer is linear in x
and the mask is a constant, so the backward pass lets the same units through with the same
scale::

    dx_nd = g_nd m_nd / p

Checked leaf: ``x`` (dx), held in ``params`` so that its gradient is checked; the objective's
``x`` argument is ``None`` and ``t`` is the tuple ``(mask, g)``: ``mask`` a boolean (N, D)
array (verify keeps it boolean), ``g`` the float upstream gradient (N, D). ``rows`` is N, the
number of rows; ``scale`` multiplies the inputs x (dx does not depend on x; large activations
are legitimate inputs all the same). D = 3 features.

Run: jaxmlp verify examples/course/dropout.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

KEEP = 0.8  # p, the probability that a unit is kept
D = 3       # features


def forward(x, mask):
    return mask * x / KEEP


def objective(params, x, t):
    mask, g = t
    return jnp.sum(g * forward(params["x"], mask))


def grads(params, x, t):
    mask, g = t
    dx = g * mask / KEEP            # y = m x / p: dy/dx = m / p
    return {"x": dx}


def sample(key, rows=4, scale=1.0):
    kx, km, kg = jax.random.split(key, 3)
    x = scale * jax.random.normal(kx, (rows, D))
    mask = jax.random.bernoulli(km, KEEP, (rows, D))
    g = jax.random.normal(kg, (rows, D))
    return {"x": x}, None, (mask, g)


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
