"""Layer normalisation backward, derived step by step through the computational graph.

CS231n assignment 2 (BatchNormalization.ipynb), ``layernorm_backward``: the batch-norm graph
turned on its side. Each row x_n (N, D) is normalised with the mean and the biased variance of
its own D features::

    μ_n = (1/D) Σ_d x_nd            σ²_n = (1/D) Σ_d (x_nd − μ_n)²
    x̂_nd = (x_nd − μ_n) / √(σ²_n + ε)          y_nd = γ_d x̂_nd + β_d          (ε = 1e-5)

The objective is Σ_nd t_nd y_nd, so ``t`` is the upstream gradient ∂L/∂y and the gradient of
the objective is the layer's backward pass. Back through the graph, the sums now run over the
features d of each row (γ and β are still per feature, so their sums run over the rows)::

    ∂L/∂β_d  = Σ_n t_nd                   ∂L/∂γ_d = Σ_n t_nd x̂_nd
    dx̂_nd   = t_nd γ_d
    dσ²_n    = Σ_d dx̂_nd (x_nd − μ_n) · (−½) (σ²_n + ε)^(−3/2)
    dμ_n     = Σ_d dx̂_nd · (−1/√(σ²_n + ε)) + dσ²_n · (1/D) Σ_d −2 (x_nd − μ_n)
    dx_nd    = dx̂_nd / √(σ²_n + ε) + dσ²_n · 2 (x_nd − μ_n) / D + dμ_n / D

Checked leaves: ``x`` (dx), ``gamma`` (dγ) and ``beta`` (dβ); ``x`` is held in ``params`` so that
its gradient is checked, and the objective's ``x`` argument is ``None``. ``rows`` is N, the number
of examples; ``scale`` multiplies the inputs x (γ and β are drawn at unit scale). D = 3 features,
each row and each column with its own offset so that no mean is zero.

Run: jaxmlp verify examples/course/layer_norm.py
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

EPS = 1e-5  # ε, added to the variance
D = 3       # features


def forward(x, gamma, beta):
    mu = jnp.mean(x, axis=1, keepdims=True)          # (N, 1)
    xmu = x - mu                                     # (N, D)
    var = jnp.mean(xmu**2, axis=1, keepdims=True)    # (N, 1): biased variance
    inv_std = 1 / jnp.sqrt(var + EPS)                # (N, 1)
    xhat = xmu * inv_std                             # (N, D)
    y = gamma * xhat + beta                          # (N, D)
    return y, (xmu, var, inv_std, xhat)


def objective(params, x, t):
    y, _ = forward(params["x"], params["gamma"], params["beta"])
    return jnp.sum(t * y)


def grads(params, x, t):
    d = params["x"].shape[1]
    _, (xmu, var, inv_std, xhat) = forward(params["x"], params["gamma"], params["beta"])
    dbeta = jnp.sum(t, axis=0)                               # y = γ x̂ + β
    dgamma = jnp.sum(t * xhat, axis=0)
    dxhat = t * params["gamma"]
    dvar = jnp.sum(dxhat * xmu, axis=1, keepdims=True) * -0.5 * (var + EPS) ** -1.5
    dmu = (jnp.sum(-dxhat * inv_std, axis=1, keepdims=True)
           + dvar * jnp.mean(-2 * xmu, axis=1, keepdims=True))
    dx = dxhat * inv_std + dvar * 2 * xmu / d + dmu / d     # via xmu, σ² and μ
    return {"x": dx, "gamma": dgamma, "beta": dbeta}


def sample(key, rows=4, scale=1.0):
    kx, kr, kc, kg, kb, kt = jax.random.split(key, 6)
    offset = 2 * jax.random.normal(kr, (rows, 1)) + jax.random.normal(kc, (D,))
    x = scale * (jax.random.normal(kx, (rows, D)) + offset)
    params = {"x": x,
              "gamma": jax.random.normal(kg, (D,)),
              "beta": jax.random.normal(kb, (D,))}
    t = jax.random.normal(kt, (rows, D))
    return params, None, t


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
