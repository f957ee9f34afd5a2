"""Batch normalisation backward, derived step by step through the computational graph.

CS231n assignment 2 (BatchNormalization.ipynb), ``batchnorm_backward``: the staged derivation
through the graph (dxhat, dvar, dmu), not the compact one-line formula. Training mode: for rows
x_n (N, D), each feature d is normalised with the mean and the biased variance of its column::

    μ_d = (1/N) Σ_n x_nd            σ²_d = (1/N) Σ_n (x_nd − μ_d)²
    x̂_nd = (x_nd − μ_d) / √(σ²_d + ε)          y_nd = γ_d x̂_nd + β_d          (ε = 1e-5)

The objective is Σ_nd t_nd y_nd, so ``t`` is the upstream gradient ∂L/∂y and the gradient of
the objective is the layer's backward pass. Going back through the graph, node by node::

    ∂L/∂β_d  = Σ_n t_nd                   ∂L/∂γ_d = Σ_n t_nd x̂_nd
    dx̂_nd   = t_nd γ_d
    dσ²_d    = Σ_n dx̂_nd (x_nd − μ_d) · (−½) (σ²_d + ε)^(−3/2)
    dμ_d     = Σ_n dx̂_nd · (−1/√(σ²_d + ε)) + dσ²_d · (1/N) Σ_n −2 (x_nd − μ_d)
    dx_nd    = dx̂_nd / √(σ²_d + ε) + dσ²_d · 2 (x_nd − μ_d) / N + dμ_d / N

(the last term of dμ is zero in exact arithmetic, Σ_n (x_nd − μ_d) = 0, but the graph has it).

Checked leaves: ``x`` (dx), ``gamma`` (dγ) and ``beta`` (dβ); ``x`` is held in ``params`` so that
its gradient is checked, and the objective's ``x`` argument is ``None``. ``rows`` is N, the batch
size (rows = 1 is legitimate: σ² = 0, ε keeps it defined, and dx = 0); ``scale`` multiplies the
inputs x (γ and β are drawn at unit scale). D = 3 features, each column with its own offset.

Run: jaxmlp verify examples/course/batch_norm.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

EPS = 1e-5  # ε, added to the variance
D = 3       # features


def forward(x, gamma, beta):
    mu = jnp.mean(x, axis=0)                 # (D,)
    xmu = x - mu                             # (N, D)
    var = jnp.mean(xmu**2, axis=0)           # (D,): biased variance
    inv_std = 1 / jnp.sqrt(var + EPS)        # (D,)
    xhat = xmu * inv_std                     # (N, D)
    y = gamma * xhat + beta                  # (N, D)
    return y, (xmu, var, inv_std, xhat)


def objective(params, x, t):
    y, _ = forward(params["x"], params["gamma"], params["beta"])
    return jnp.sum(t * y)


def grads(params, x, t):
    n = params["x"].shape[0]
    _, (xmu, var, inv_std, xhat) = forward(params["x"], params["gamma"], params["beta"])
    dbeta = jnp.sum(t, axis=0)                               # y = γ x̂ + β
    dgamma = jnp.sum(t * xhat, axis=0)
    dxhat = t * params["gamma"]
    dvar = jnp.sum(dxhat * xmu, axis=0) * -0.5 * (var + EPS) ** -1.5   # x̂ = xmu / √(σ² + ε)
    dmu = jnp.sum(-dxhat * inv_std, axis=0) + dvar * jnp.mean(-2 * xmu, axis=0)
    dx = dxhat * inv_std + dvar * 2 * xmu / n + dmu / n     # via xmu, σ² and μ
    return {"x": dx, "gamma": dgamma, "beta": dbeta}


def sample(key, rows=4, scale=1.0):
    kx, ko, kg, kb, kt = jax.random.split(key, 5)
    offset = 2 * jax.random.normal(ko, (D,))
    x = scale * (jax.random.normal(kx, (rows, D)) + offset)
    params = {"x": x,
              "gamma": jax.random.normal(kg, (D,)),
              "beta": jax.random.normal(kb, (D,))}
    t = jax.random.normal(kt, (rows, D))
    return params, None, t


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
