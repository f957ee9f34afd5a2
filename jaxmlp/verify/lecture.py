"""Right derivations written the way a student writes them: the evidence that verify stays quiet.

:func:`lecture_derivation` returns ``grads(params, x, t)`` and ``deltas(params, x, t)`` for any
network of the activations in :data:`DERIVATIVES` and an output pair of :data:`OUTPUT_ERRORS`,
written as the lectures write them, with rows as samples (``x`` is ``(B, n_in)``):

* forward: ``h = f(x @ wᵀ + b)``, the sigmoid as ``1 / (1 + exp(−u))``, the softmax as
  ``exp(u − max u) / Σ exp(u − max u)`` (deck 003);
* output: ``δ = o − t`` for the canonical pairs (deck 003's ŷ − y), else ``∂ℓ/∂o ⊙ f′(u)``;
* hidden: ``δ_l = (δ_{l+1} @ w_{l+1}) ⊙ f′_l``, with ``f′`` from the forward's own output where
  the lectures do so (``σ′ = o (1 − o)``, ``tanh′ = 1 − h²``) and the kink conventions of
  ``jax.grad`` (``relu′(0) = 0``, ``leaky_relu′(0) = 1``, ``elu′(0)`` from the left);
* gradients: ``δᵀ @ o_prev`` and ``Σ_n δ``, divided by ``B`` for the mean, plus ``λ₂ w`` and
  ``λ₁ sign(w)``.

None of it is numerically careful beyond the stable softmax, on purpose: these are the forms whose
rounding (``o − t`` at a saturated sigmoid, ``1 − h²`` at a saturated tanh) a derivation debugger
must not call wrong. ``tests/test_verify_trust.py`` checks them and ``jaxmlp bench verdicts``
runs them at every effort.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from jaxmlp.core.model import MLP

__all__ = ["DERIVATIVES", "OUTPUT_ERRORS", "lecture_derivation"]


def _sigmoid(u):
    return 1 / (1 + jnp.exp(-u))


def _softmax(u):
    e = jnp.exp(u - jnp.max(u, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


#: activation: (forward f(u), derivative f′(u, o) as the lectures write it)
DERIVATIVES: dict[str, tuple[Callable, Callable]] = {
    "identity": (lambda u: u, lambda u, o: jnp.ones_like(u)),
    "sigmoid": (_sigmoid, lambda u, o: o * (1 - o)),
    "tanh": (jnp.tanh, lambda u, o: 1 - o**2),
    "relu": (lambda u: jnp.maximum(u, 0), lambda u, o: jnp.where(u > 0, 1.0, 0.0)),
    "leaky_relu": (lambda u: jnp.where(u >= 0, u, 0.01 * u),
                   lambda u, o: jnp.where(u >= 0, 1.0, 0.01)),
    "elu": (lambda u: jnp.where(u > 0, u, jnp.expm1(jnp.minimum(u, 0))),
            lambda u, o: jnp.where(u > 0, 1.0, o + 1)),
    "softplus": (lambda u: jnp.logaddexp(0.0, u), lambda u, o: _sigmoid(u)),
    "swish": (lambda u: u * _sigmoid(u),
              lambda u, o: _sigmoid(u) + u * _sigmoid(u) * (1 - _sigmoid(u))),
}

#: (output activation, loss): ∂ℓ/∂o as a student writes it, or ``None`` for the canonical o − t
OUTPUT_ERRORS: dict[tuple[str, str], Callable | None] = {
    ("sigmoid", "binary_crossentropy"): None,
    ("softmax", "categorical_crossentropy"): None,
    ("identity", "sse"): None,
    ("sigmoid", "sse"): lambda o, t: o - t,
    ("tanh", "sse"): lambda o, t: o - t,
    ("identity", "mse"): lambda o, t: 2 * (o - t) / o.shape[-1],
    ("sigmoid", "mse"): lambda o, t: 2 * (o - t) / o.shape[-1],
}


def lecture_derivation(model: MLP, loss: str, reduction: str = "mean", l2: float = 0.0,
                       l1: float = 0.0) -> tuple[Callable, Callable]:
    """``(grads, deltas)`` of ``model`` and ``loss``, written as the lectures write them.

    Arguments:
        model: hidden activations from :data:`DERIVATIVES`; its output activation and ``loss`` a
            pair of :data:`OUTPUT_ERRORS`.
        loss, reduction, l2, l1: as for :func:`jaxmlp.loss`.

    Raises ``ValueError`` for an activation or pair not written here.

    >>> import jax, jaxmlp
    >>> model = jaxmlp.MLP((2, 3, 1), ("tanh", "sigmoid"))
    >>> grads, deltas = lecture_derivation(model, "binary_crossentropy")
    >>> params = model.init(jax.random.key(0))
    >>> [d.shape for d in deltas(params, jnp.ones((4, 2)), jnp.ones((4, 1)))]
    [(4, 3), (4, 1)]
    """
    *hidden, out = model.activations
    for name in hidden:
        if name not in DERIVATIVES:
            raise ValueError(f"model: hidden activation {name!r} is not written here; "
                             f"expected one of {tuple(DERIVATIVES)}")
    if (out, loss) not in OUTPUT_ERRORS:
        raise ValueError(f"loss: the pair ({out!r}, {loss!r}) is not written here; "
                         f"expected one of {tuple(OUTPUT_ERRORS)}")
    error = OUTPUT_ERRORS[(out, loss)]

    def forward(params, x):
        us, os = [], [x]
        for name, layer in zip(model.activations, params):
            u = os[-1] @ layer["w"].T + layer["b"][None, :]
            f = _softmax if name == "softmax" else DERIVATIVES[name][0]
            us.append(u)
            os.append(f(u))
        return us, os

    def deltas(params, x, t):
        us, os = forward(params, x)
        o = os[-1]
        if error is None:
            d = [o - t]  # the canonical link: δ = o − t
        else:
            d = [error(o, t) * DERIVATIVES[out][1](us[-1], o)]
        for lay in range(len(params) - 2, -1, -1):
            df = DERIVATIVES[model.activations[lay]][1](us[lay], os[lay + 1])
            d.insert(0, (d[0] @ params[lay + 1]["w"]) * df)
        return d

    def grads(params, x, t):
        _, os = forward(params, x)
        n = x.shape[0] if reduction == "mean" else 1
        out = []
        for layer, d, o in zip(params, deltas(params, x, t), os):
            w = d.T @ o / n + l2 * layer["w"] + l1 * jnp.sign(layer["w"])
            out.append({"w": w, "b": jnp.sum(d, axis=0) / n})
        return out

    return grads, deltas
