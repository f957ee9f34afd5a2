"""How much rounding a right δ rule may carry: a bound built from the magnitudes that entered it.

A gradient computed by the δ rule (deck 001 (4)-(6)) in floating point is not the exact gradient.
Each subtraction, product and sum rounds, and a few round badly: at a saturated sigmoid the output
``o`` rounds to within an ulp of the target, so ``δ = o − t`` keeps only a few of its digits, and
at a saturated tanh ``1 − h²`` is all rounding. Error analysis bounds such a result by the sum of
the *magnitudes* of its terms: ``|fl(o − t) − (o − t)| ≤ ε (|o| + |t|)`` for the unit roundoff
``ε``, however small ``o − t`` is.

:func:`magnitudes` carries those magnitudes through the δ recursion, with absolute values
everywhere (for one example, batched by ``jax.vmap``):

* output: ``m_L = |a| + |b t|`` for the output error ``a + b t`` (the derivative of every loss
  here is affine in ``t``: ``o − t``, ``2 (o − t)/n``, ``(o − t)/(o (1 − o))``, ``−t/o``), times
  ``|f′(u_L)| + 1`` off the canonical pairs (``f′`` itself may be all rounding, as ``1 − h²`` is);
* hidden: ``m_l = (|w_{l+1}|ᵀ m_{l+1}) ⊙ (|f′(u_l)| + 1)`` — so a layer's bound includes the
  rounding it inherits from a saturated layer above it;
* leaves: ``Σ_n m_l |o_{l−1}|ᵀ`` for ``w`` (plus the penalty's ``λ₂|w|`` and ``λ₁``),
  ``Σ_n m_l`` for ``b``, ``Σ_n (|w_{l+1}|ᵀ m_{l+1}) ⊙ |∂f/∂a|`` for a PReLU slope.

:func:`rounding_bound` multiplies them by ``ε`` and by :func:`terms`, the most roundings one
entry of the result can collect (Higham's ``γ_n = n ε`` for a sum of ``n`` terms, once per
layer). A discrepancy from ``jax.grad`` within that bound can be rounding; one beyond it cannot
(:mod:`jaxmlp.tolerance` judges with it).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxmlp.core.activations import get_activation
from jaxmlp.core.losses import get_loss
from jaxmlp.core.model import MLP, Params

__all__ = ["magnitudes", "rounding_bound", "terms"]


def terms(model: MLP, batch: int) -> int:
    """The roundings one gradient entry may collect: ``2 (L + 1) (max width + batch)``.

    >>> terms(MLP((2, 8, 1), ("tanh", "sigmoid")), 5)
    78
    """
    return 2 * (len(model.activations) + 1) * (max(model.sizes) + batch)


def rounding_bound(model: MLP, loss: str, reduction: str, params: Params, x, t,
                   l2: float = 0.0, l1: float = 0.0) -> tuple[Params, list[jax.Array]]:
    """``(bound on each gradient entry, bound on each δ)`` of a right δ rule, in ``x``'s dtype.

    ``ε · terms · magnitudes``: see the module docstring. Inputs as for
    :func:`jaxmlp.core.backprop.objective` (``x (B, n_in)``, ``t (B, n_out)`` prepared).
    """
    eps = jnp.finfo(jnp.result_type(x)).eps
    factor = eps * terms(model, x.shape[0])
    grads, deltas = magnitudes(model, loss, reduction, params, x, t, l2, l1)
    return jax.tree.map(lambda m: factor * m, (grads, deltas))


def magnitudes(model: MLP, loss: str, reduction: str, params: Params, x, t,
               l2: float = 0.0, l1: float = 0.0) -> tuple[Params, list[jax.Array]]:
    """The magnitudes of the terms behind every gradient entry and every δ (module docstring).

    Returns a pytree shaped like ``params`` and a list of ``(B, fan_out)`` arrays, one per layer.
    """
    scale = 1.0 / x.shape[0] if reduction == "mean" else 1.0
    os, ms, gs = jax.vmap(lambda xn, tn: _example(model, loss, params, xn, tn))(x, t)
    grads = []
    for lay, layer in enumerate(params):
        g = {"w": scale * (ms[lay].T @ jnp.abs(os[lay])) + l2 * jnp.abs(layer["w"]) + l1,
             "b": scale * jnp.sum(ms[lay], axis=0)}
        if "a" in layer:
            g["a"] = scale * jnp.sum(gs[lay], axis=0)
        grads.append(g)
    return grads, ms


def _example(model, loss, params, x, t):
    """One example: the layer inputs, each layer's δ magnitude, and each PReLU slope's."""
    L = get_loss(loss)
    acts = [get_activation(name) for name in model.activations]
    us, os = model.forward(params, x)
    last = len(params) - 1
    ms, gs = [None] * len(params), [None] * len(params)
    for lay in range(last, -1, -1):
        act, a = acts[lay], params[lay].get("a")
        extra = [a] if act.parametric else []
        if lay < last:
            g = jnp.abs(params[lay + 1]["w"]).T @ ms[lay + 1]
        elif L.canonical == act.name:  # δ = o − t (or its like), affine in t
            ms[lay] = _affine(lambda t_: L.delta_u(os[-1], t_), t)
            continue
        else:
            g = _affine(lambda t_: L.d(os[-1], t_), t)
        if act.df is None:  # softmax: Jᵀ g = o ⊙ (g − ⟨g, o⟩), each term by its size
            o = jnp.abs(os[lay + 1])
            ms[lay] = o * (g + jnp.dot(g, o)) + g
        else:
            ms[lay] = g * (jnp.abs(act.df(us[lay], *extra)) + 1)
        if act.parametric:
            gs[lay] = g * jnp.abs(act.df_da(us[lay], a))
    return os, ms, gs


def _affine(d, t):
    """``|a| + |b t|`` for ``d(t) = a + b t``: the magnitudes of the two terms of the error."""
    a = d(jnp.zeros_like(t))
    return jnp.abs(a) + jnp.abs(d(t) - a)
