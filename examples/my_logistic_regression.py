"""A student's gradient of L2-regularised logistic regression, checked in the general form of
``jaxmlp verify`` (any JAX function, not only a ``jaxmlp.MLP``).

Deck 003 (slide 「ロジスティック回帰」): logistic regression is the one-layer network with a sigmoid
output and cross-entropy. For rows x_n (B, 3), labels t_n ∈ {0, 1}, weights w (3,) and bias b::

    u_n = w · x_n + b        o_n = σ(u_n)
    E   = (1/B) Σ_n [log(1 + e^{u_n}) − t_n u_n] + (λ/2) |w|²   (the cross-entropy, in u)

Differentiating, with σ' = σ (1 − σ) and the canonical link of deck 003 (∂ℓ/∂u = o − t)::

    ∂E/∂w = (1/B) Σ_n (o_n − t_n) x_n + λ w          ∂E/∂b = (1/B) Σ_n (o_n − t_n)

The general form: ``objective(params, x, t)`` returns the scalar E, ``grads(params, x, t)`` the hand
gradient shaped like ``params``, and ``sample(key, rows, scale)`` one random problem
``(params, x, t)``. By naming ``rows`` and ``scale``, the file lets verify choose them: any number
of rows (it tries 1, 2 and 5: batch size 1 is where a forgotten 1/B hides) and weights and inputs
up to 100× (saturated sigmoids) are problems of this derivation. A ``sample(key)`` without them
is checked on exactly the problems it draws.

Run: python examples/my_logistic_regression.py
(or: jaxmlp verify examples/my_logistic_regression.py)
"""

import sys

import jax
import jax.numpy as jnp

import jaxmlp.verify

λ = 0.1  # the L2 rate; its gradient is λ w (the ½ cancels the 2 of w²)


def objective(params, x, t):
    u = x @ params["w"] + params["b"]
    return jnp.mean(jnp.logaddexp(0.0, u) - t * u) + λ / 2 * jnp.sum(params["w"] ** 2)


def grads(params, x, t):
    o = 1 / (1 + jnp.exp(-(x @ params["w"] + params["b"])))
    δ = (o - t) / x.shape[0]                           # (B,): ∂E/∂u_n
    return {"w": x.T @ δ + λ * params["w"], "b": jnp.sum(δ)}


def sample(key, rows=8, scale=1.0):
    kw, kb, kx, kt = jax.random.split(key, 4)
    params = {"w": scale * jax.random.normal(kw, (3,)), "b": scale * jax.random.normal(kb, ())}
    x = scale * jax.random.normal(kx, (rows, 3))
    t = jax.random.bernoulli(kt, 0.5, (rows,)).astype(x.dtype)
    return params, x, t


if __name__ == "__main__":
    sys.exit(jaxmlp.verify.run(__file__))
