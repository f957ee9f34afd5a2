"""How much rounding a right δ rule may carry: a bound built from the magnitudes that entered it.

A gradient computed by the δ rule (deck 001 (4)-(6)) in floating point is not the exact gradient.
Each subtraction, product and sum rounds, and a few round badly: at a saturated sigmoid the output
``o`` rounds to within an ulp of the target, so ``δ = o − t`` keeps only a few of its digits, and
at a saturated tanh ``1 − h²`` is all rounding. Error analysis bounds such a result by the
*magnitudes* of its terms: ``|fl(o − t) − (o − t)| ≤ ε (|o| + |t|)`` for the unit roundoff ``ε``,
however small ``o − t`` is.

:func:`magnitudes` runs the network for one example (batched by ``jax.vmap``) and beside each
value its first-order error bound ``ε e``, in units of ``ε`` (Higham's running error analysis):

* forward: ``e_u = |w| e_o + n |w| |o| + |b|`` (a sum of ``n`` products, then the bias) and
  ``e_o = |f′(u)| e_u + |o|`` (carried through ``f``, then ``f``'s own rounding);
* output: ``e_L = |∂d/∂o| e_o + |d|`` for the output error ``d(o, t)`` (``o − t``,
  ``2 (o − t)/n``, ``(o − t)/(o (1 − o))``, ``−t/o``); for the canonical pairs ``o`` carries
  ``ε |u| |o|`` more, the rounding of ``jax.grad``'s own log-sum-exp. Off the canonical pairs,
  ``δ_L = g ⊙ f′(u_L)`` has ``e_L = e_g |f′| + |g| (|f″| e_u + |f′| + 1)`` (``f′`` itself may
  be all rounding, as ``1 − h²`` is);
* hidden: ``g_l = w_{l+1}ᵀ δ_{l+1}`` has ``e_g = |w_{l+1}|ᵀ e_{l+1} + n |w_{l+1}|ᵀ |δ_{l+1}|`` (a
  sum of ``n`` terms), and ``δ_l = g_l ⊙ f′(u_l)`` as above: a layer's bound carries what it
  inherits from a saturated layer above it;
* leaves: ``Σ_n (e_l + (B + 1) |δ_l|) |o_{l−1}|ᵀ + |δ_l| e_{o,l−1}ᵀ`` for ``w`` (plus
  ``λ₂ |w|``), ``Σ_n e_l + (B + 1) |δ_l|`` for ``b``, and likewise for a PReLU slope.

These are worst-case bounds (errors of one sign everywhere), far above the rounding a right
derivation shows; :mod:`jaxmlp.tolerance` consults them only for a leaf beyond the measured
tolerance, and in float32 only when the same functions cannot run in float64.

:func:`rounding_bound` is ``ε · SAFETY · e``. A discrepancy from ``jax.grad`` within it can be
rounding; one beyond it cannot (:mod:`jaxmlp.tolerance` judges with it).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxmlp.core.activations import get_activation
from jaxmlp.core.losses import get_loss
from jaxmlp.core.model import MLP, Params

__all__ = ["SAFETY", "magnitudes", "rounding_bound"]

#: the bound's margin over the first-order analysis: the roundings it counts once (a product, the
#: forward pass's own) and a derivation that orders its sums differently
SAFETY = 8


def rounding_bound(model: MLP, loss: str, reduction: str, params: Params, x, t,
                   l2: float = 0.0, l1: float = 0.0) -> tuple[Params, list[jax.Array]]:
    """``(bound on each gradient entry, bound on each δ)`` of a right δ rule, in ``x``'s dtype.

    ``ε · SAFETY · e``: see the module docstring. Inputs as for
    :func:`jaxmlp.core.backprop.objective` (``x (B, n_in)``, ``t (B, n_out)`` prepared).
    """
    factor = SAFETY * jnp.finfo(jnp.result_type(x)).eps
    grads, deltas = magnitudes(model, loss, reduction, params, x, t, l2, l1)
    return jax.tree.map(lambda m: factor * m, (grads, deltas))


def magnitudes(model: MLP, loss: str, reduction: str, params: Params, x, t,
               l2: float = 0.0, l1: float = 0.0) -> tuple[Params, list[jax.Array]]:
    """The error bounds ``e`` (in units of ``ε``) of every gradient entry and every δ.

    Returns a pytree shaped like ``params`` and a list of ``(B, fan_out)`` arrays, one per layer
    (the module docstring says how they are built).
    """
    B = x.shape[0]
    scale = 1.0 / B if reduction == "mean" else 1.0
    os, eos, ds, es, gs = jax.vmap(lambda xn, tn: _example(model, loss, params, xn, tn))(x, t)
    grads = []
    for lay, layer in enumerate(params):
        e = es[lay] + (B + 1) * jnp.abs(ds[lay])
        w = e.T @ jnp.abs(os[lay]) + jnp.abs(ds[lay]).T @ eos[lay]
        g = {"w": scale * w + l2 * jnp.abs(layer["w"]) + l1, "b": scale * jnp.sum(e, axis=0)}
        if "a" in layer:
            g["a"] = scale * jnp.sum(gs[lay], axis=0)
        grads.append(g)
    return grads, es


def _example(model, loss, params, x, t):
    """One example: the layer inputs and their bounds, each δ and its bound, each PReLU slope's
    bound."""
    L = get_loss(loss)
    acts = [get_activation(name) for name in model.activations]
    us, eus, os, eos = _forward(acts, params, x)
    last = len(params) - 1
    ds, es, gs = [None] * len(params), [None] * len(params), [None] * len(params)
    for lay in range(last, -1, -1):
        act, a = acts[lay], params[lay].get("a")
        extra = [a] if act.parametric else []
        if lay < last:
            w = jnp.abs(params[lay + 1]["w"])
            g = params[lay + 1]["w"].T @ ds[lay + 1]
            e_g = w.T @ es[lay + 1] + w.shape[0] * (w.T @ jnp.abs(ds[lay + 1]))
        elif L.canonical == act.name:  # δ = o − t (or its like)
            # jax.grad differentiates the log-sum-exp form: its o carries ε |u| more
            e_o = eos[-1] + jnp.max(jnp.abs(us[lay])) * jnp.abs(os[-1])
            ds[lay] = L.delta_u(os[-1], t)
            es[lay] = _carried(lambda o_: L.delta_u(o_, t), os[-1], e_o) + jnp.abs(ds[lay])
            continue
        else:
            g = L.d(os[-1], t)
            e_g = _carried(lambda o_: L.d(o_, t), os[-1], eos[-1]) + jnp.abs(g)
        ds[lay] = act.backward(us[lay], os[lay + 1], g, *extra)
        if act.df is None:  # softmax: Jᵀ g = o ⊙ (g − ⟨g, o⟩), each term by its size
            o, n = jnp.abs(os[lay + 1]), g.shape[0]
            size = jnp.abs(g) + jnp.dot(jnp.abs(g), o)
            es[lay] = o * (e_g + jnp.dot(e_g, o)) + (eos[lay + 1] + (n + 2) * o) * size
        else:
            df = act.df(us[lay], *extra)
            slope = _carried(lambda u_, act=act, extra=extra: act.df(u_, *extra), us[lay], eus[lay])
            e_df = slope + jnp.abs(df) + 1
            es[lay] = e_g * jnp.abs(df) + jnp.abs(g) * e_df
        if act.parametric:
            da = jnp.abs(act.df_da(us[lay], a))
            gs[lay] = e_g * da + jnp.abs(g) * (da + 1)
    return os, eos, ds, es, gs


def _forward(acts, params, x):
    """The forward pass with each pre-activation's and output's error bound (units of ``ε``):
    ``e_u = |w| e_o + n |w| |o| + |b|`` (a sum of ``n`` products, then the bias),
    ``e_o = |f′(u)| e_u + |o|`` (carried through ``f``, then ``f``'s own rounding)."""
    us, eus, os, eos = [], [], [x], [jnp.zeros_like(x)]
    for act, layer in zip(acts, params):
        w, b = layer["w"], layer["b"]
        extra = [layer["a"]] if act.parametric else []
        u = w @ os[-1] + b
        eu = jnp.abs(w) @ eos[-1] + w.shape[1] * (jnp.abs(w) @ jnp.abs(os[-1])) + jnp.abs(b)
        o = act.f(u, *extra)
        if act.df is None:  # softmax: J e = o ⊙ (e − ⟨o, e⟩), each term by its size
            carried = jnp.abs(o) * (eu + jnp.dot(jnp.abs(o), eu))
        else:
            carried = _carried(lambda u_, act=act, extra=extra: act.f(u_, *extra), u, eu)
        us.append(u)
        eus.append(eu)
        os.append(o)
        eos.append(carried + jnp.abs(o))
    return us, eus, os, eos


def _carried(f, v, e):
    """``|f′(v)| e``: the error ``e ≥ 0`` of ``v`` carried through the elementwise ``f`` (one
    forward-mode product)."""
    return jnp.abs(jax.jvp(f, (v,), (e,))[1])
