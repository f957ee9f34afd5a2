"""Deck 004 (人工知能 第4回): the general layer-k derivation, ``Δw = α δ out`` with ``δ = −∂E/∂in``.

Layer k (k = 1 … M, layer 0 is the input, layer M the output) receives
``in_j^k = Σ_i w_ij^{k−1,k} out_i^{k−1}`` and emits ``out_j^k = f(in_j^k)``; the weight
``w_ij^{k−1,k}`` runs from neuron i of layer k−1 to neuron j of layer k. Gradient descent with the
chain rule (重みの更新式)::

    Δw_ij^{k−1,k} = −α ∂E/∂w_ij^{k−1,k} = −α ∂E/∂in_j^k · out_i^{k−1} = α δ_j^k out_i^{k−1}
    δ_j^k = −∂E/∂in_j^k = −∂E/∂out_j^k · f′(in_j^k)

* **output layer M**: with ``E = ½ Σ_l (t_l − out_l^M)²``, ``∂E/∂out_j^M = −(t_j − out_j^M)``, so
  ``Δw_ij^{M−1,M} = α (t_j − out_j^M) f′(in_j^M) out_i^{M−1}`` (:func:`output_update`);
* **hidden layer k**:
  ``∂E/∂out_j^k = Σ_l ∂E/∂in_l^{k+1} · w_jl^{k,k+1} = −Σ_l δ_l^{k+1} w_jl^{k,k+1}``, so
  ``δ_j^k = (Σ_l δ_l^{k+1} w_jl^{k,k+1}) f′(in_j^k)``: each layer needs the δ of the layer after
  it, and the updates run from the output back to the input.

**The slide's output-layer update has the wrong sign.** It writes ``∂E/∂out_i^M = t_i − out_i^M``
(the minus sign of the derivative is lost) and then multiplies by δ's own ``−1 ×`` to print
``Δw = −α (t_i − out_i^M) f′(in_j^k) out_i^{k−1}``. That ``−1`` is the minus of ``δ = −∂E/∂in``,
which the correct derivation carries too; it does not restore the lost sign. The printed update
is ``+α ∂E/∂w``, a step of gradient ASCENT: for ``t = 1``, ``out = 0.5``, ``f′ = 0.25`` and
``out^{M−1} = 1`` it gives −0.125 where descent needs +0.125 (:func:`output_update_as_printed`
keeps the slide's line so that the test can show it). We transcribe the corrected sign.

**Indices corrected silently by earlier transcriptions, now said** (each also at the line that
uses it): the slides name δ by ``i`` where it belongs to neuron ``j`` (``δ_i^k = −∂E/∂in_j^k``,
``α δ_i^k out_i^{k−1}``; we write ``δ_j^k``); they write ``out_j^k = f(Σ_l w_lj^{k−1,k} in_l^k)``
where ``out_j^k = f(in_j^k)``; the output layer's ``(t_i − out_i^M) f′(in_j^k) out_i^{k−1}`` mixes
``i``, ``j``, ``k`` and ``M`` (we write ``(t_j − out_j^M) f′(in_j^M) out_i^{M−1}``); the hidden
layer's ``∂E/∂out_i^k`` sums ``∂E/∂in_j^{k+1} · w_lj^{k,k+1}`` over ``l``, where the summed index
is the neuron ``l`` of layer k+1 and the weight runs from ``j`` to ``l``: we write
``∂E/∂out_j^k = Σ_l ∂E/∂in_l^{k+1} · w_jl^{k,k+1}``.

The rest of the deck (the cross-entropy ``H``, the L1 and L2 terms, the training / validation /
test split and the 5-fold table) is :mod:`deck004_losses_and_data`; its names are re-exported
here and its checks run with this module's.

The deck's δ is the NEGATIVE of jaxmlp's ``δ = ∂E/∂u`` (:func:`jaxmlp.deltas`), and its update is
``Δw = α δ out`` where optax's SGD adds ``−α ∂E/∂w``. Generalised as jaxmlp needs it: a bias
``b_j^k`` adds to ``in_j^k`` (``Δb_j^k = α δ_j^k``); f is any jaxmlp activation (softmax's ``f′``
is its Jacobian, PReLU's slope gets ``Δa_j^k = −α ∂E/∂out_j^k · ∂f/∂a``); any jaxmlp loss gives
``∂E/∂out^M``; reduction ``"mean"`` averages the samples' updates (deck 004's バッチサイズ:
"the mean error of the batch"), ``"sum"`` adds them. The deck's ``w^{k−1,k}`` is jaxmlp's
``w`` transposed (:func:`to_deck`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

import jaxmlp
from jaxmlp.check import Check, check_close, check_grads
from jaxmlp.core.activations import get_activation
from jaxmlp.core.losses import get_loss
from jaxmlp.core.random_problem import random_problem

from . import deck004_losses_and_data
from .deck004_losses_and_data import (
    PATTERNS,
    SPLIT,
    H,
    l1_term,
    l2_term,
    pattern_table,
    patterns,
    split,
)

__all__ = [
    "PATTERNS",
    "SPLIT",
    "H",
    "backward",
    "checks",
    "deltas",
    "f_prime_product",
    "forward",
    "from_deck",
    "grads",
    "l1_term",
    "l2_term",
    "output_update",
    "output_update_as_printed",
    "pattern_table",
    "patterns",
    "split",
    "to_deck",
    "updates",
]

Array = jax.Array
Layers = list[dict[str, Array]]


def forward(params: Layers, x: Array, f: tuple[str, ...]) -> tuple[list, list]:
    """One sample: ``(in_, out)`` with ``in_[k] = in^k`` (``in_[0]`` unused) and ``out[0] = x``."""
    in_, out = [None], [x]
    for k, (layer, name) in enumerate(zip(params, f), start=1):
        # in_j^k = Σ_i w_ij out_i^{k−1} (+ b_j); out_j^k = f(in_j^k) (the slide: f(Σ_l w_lj in_l^k))
        in_k = jnp.einsum("i,ij->j", out[k - 1], layer["w"]) + layer["b"]
        act = get_activation(name)
        in_.append(in_k)
        out.append(act.f(in_k, layer["a"]) if act.parametric else act.f(in_k))
    return in_, out


def deltas(params: Layers, x: Array, t: Array, f: tuple[str, ...], loss: str = "sse") -> list:
    """One sample: ``[None, δ^1, …, δ^M]`` with ``δ_j^k = −∂E/∂in_j^k`` (the lecture's sign)."""
    return backward(params, x, t, f, loss)[3]


def backward(params: Layers, x: Array, t: Array, f: tuple[str, ...], loss: str = "sse") -> tuple:
    """One sample, output layer first: ``(in_, out, dE_dout, δ)``, each indexed by the layer k."""
    in_, out = forward(params, x, f)
    M = len(params)
    dE_dout, δ = [None] * (M + 1), [None] * (M + 1)
    if loss == "sse":  # E = ½ Σ_l (t_l − out_l^M)²: the slide's t_i − out_i^M lost this minus
        dE_dout[M] = -(t - out[M])
    else:
        dE_dout[M] = get_loss(loss).d(out[M], t)
    for k in range(M, 0, -1):
        # ∂E/∂out_j^k = −Σ_l δ_l^{k+1} w_jl^{k,k+1} (the slide: out_i^k, in_j^{k+1}, w_lj)
        if k < M:
            dE_dout[k] = -jnp.einsum("l,jl->j", δ[k + 1], params[k]["w"])
        # δ_j^k = −∂E/∂out_j^k f′(in_j^k), which the slide names δ_i^k
        δ[k] = -f_prime_product(f[k - 1], in_[k], out[k], dE_dout[k], params[k - 1].get("a"))
    return in_, out, dE_dout, δ


def updates(params: Layers, x: Array, t: Array, f: tuple[str, ...], loss: str = "sse",
            reduction: str = "sum", α: float = 1.0) -> Layers:
    """The batch's ``Δw^{k−1,k} = α δ^k out^{k−1}`` (and ``Δb``, ``Δa``), summed or averaged.

    Arguments:
        params: the deck's layers ``[{"w": (N_{k−1}, N_k), "b": (N_k,)[, "a": (N_k,)]}, …]``.
        x: inputs ``(B, N_0)``; t: targets ``(B, N_M)``; f: one activation name per layer.
    """
    def one(x_n, t_n):
        in_, out, dE_dout, δ = backward(params, x_n, t_n, f, loss)
        Δ = []
        for k in range(1, len(params) + 1):
            # Δw_ij = α δ_j^k out_i^{k−1} (the slide: α δ_i^k out_i^{k−1})
            Δk = {"w": α * jnp.einsum("j,i->ij", δ[k], out[k - 1]), "b": α * δ[k]}
            if "a" in params[k - 1]:                  # PReLU: Δa_j = −α ∂E/∂out_j · ∂f/∂a
                df_da = get_activation(f[k - 1]).df_da(in_[k], params[k - 1]["a"])
                Δk["a"] = -α * dE_dout[k] * df_da
            Δ.append(Δk)
        return Δ

    per_sample = jax.vmap(one)(x, t)
    scale = 1 / x.shape[0] if reduction == "mean" else 1
    return jax.tree.map(lambda a: scale * jnp.sum(a, axis=0), per_sample)


def f_prime_product(
    name: str, in_k: Array, out_k: Array, g: Array, a: Array | None = None
) -> Array:
    """``g · f′(in^k)``: the Hadamard product, or ``Σ_l g_l ∂out_l/∂in_j`` for softmax."""
    act = get_activation(name)
    if act.df is not None:
        return g * (act.df(in_k, a) if act.parametric else act.df(in_k))
    J = jnp.diag(out_k) - jnp.outer(out_k, out_k)     # softmax: ∂out_l/∂in_j = out_l (δ_lj − out_j)
    return jnp.einsum("l,lj->j", g, J)


def to_deck(params: Layers) -> Layers:
    """jaxmlp's ``w (N_k, N_{k−1})`` → the deck's ``w^{k−1,k} (N_{k−1}, N_k)``; b, a unchanged."""
    return [{**layer, "w": layer["w"].T} for layer in params]


def from_deck(params: Layers) -> Layers:
    """The deck's ``w^{k−1,k}`` → jaxmlp's ``w`` (transposed back)."""
    return [{**layer, "w": layer["w"].T} for layer in params]


def grads(model: jaxmlp.MLP, params: Layers, x: Array, t: Array, loss: str = "sse",
          reduction: str = "sum") -> Layers:
    """``∂E/∂params = −Δ/α`` in jaxmlp's layout, for any ``jaxmlp.MLP`` ``model``.

    Wrap it for :func:`jaxmlp.check_gradients` as
    ``lambda p, x, t: grads(model, p, x, t, loss, reduction)``.
    """
    Δ = updates(to_deck(params), x, t, model.activations, loss, reduction, α=1.0)
    return jax.tree.map(lambda d: -d, from_deck(Δ))


def output_update(α: float, t_j, out_j, f_prime, out_i):
    """The output layer's update, sign corrected.

    ``Δw_ij = α (t_j − out_j^M) f′(in_j^M) out_i^{M−1}``; a descent: w grows, and out with it.

    >>> output_update(1.0, t_j=1.0, out_j=0.5, f_prime=0.25, out_i=1.0)
    0.125
    """
    return α * (t_j - out_j) * f_prime * out_i


def output_update_as_printed(α: float, t_i, out_i_M, f_prime, out_i):
    """The slide's last line, ``Δw = −α (t_i − out_i^M) f′(in_j^k) out_i^{k−1}``.

    That is ``+α ∂E/∂w``, an ascent: the wrong sign.

    >>> output_update_as_printed(1.0, t_i=1.0, out_i_M=0.5, f_prime=0.25, out_i=1.0)
    -0.125
    """
    return -α * (t_i - out_i_M) * f_prime * out_i


def checks(seed: int = 0) -> list[Check]:
    """Layer k against ``jax.grad`` for several depths, activations and losses.

    Then the rest of the deck's checks (:func:`deck004_losses_and_data.checks`).
    """
    cases = [
        ((3, 5, 4, 2), ("relu", "tanh", "identity"), "sse", "sum"),
        ((4, 3, 3, 3, 3), ("elu", "prelu", "swish", "softmax"), "categorical_crossentropy", "mean"),
        ((2, 4, 1), ("mish", "sigmoid"), "binary_crossentropy", "mean"),
    ]
    out = []
    for sizes, acts, loss, reduction in cases:
        model = jaxmlp.MLP(sizes, acts)
        params, x, t = random_problem(model, loss, seed, batch=6)
        grad_fn = functools.partial(grads, model, loss=loss, reduction=reduction)
        out.append(check_grads(f"deck 004 layer k {'→'.join(acts)}, {loss}, {reduction}", grad_fn,
                               model, params, x, t, loss, reduction))
    model = jaxmlp.MLP((3, 4, 2), ("tanh", "sigmoid"))
    params, x, t = random_problem(model, "sse", seed)

    def both(params, x, t):
        def one(x_n, t_n):
            return deltas(to_deck(params), x_n, t_n, model.activations)[1:]

        mine = jax.vmap(one)(x, t)
        return mine, [-d for d in jaxmlp.deltas(model, params, x, t, "sse")]

    out.append(check_close("deck 004 δ = −∂E/∂in", "= −jaxmlp.deltas",
                           *jax.jit(both)(params, x, t)))
    out += [
        check_close("deck 004 output Δw, t = 1, out = 0.5, f′ = 0.25", "deck: 0.125",
                    jnp.asarray(output_update(1.0, 1.0, 0.5, 0.25, 1.0)), jnp.asarray(0.125)),
        check_close("deck 004 output Δw as the slide prints it (ascent)", "deck: −0.125",
                    jnp.asarray(output_update_as_printed(1.0, 1.0, 0.5, 0.25, 1.0)),
                    jnp.asarray(-0.125)),
    ]
    return out + deck004_losses_and_data.checks(seed)
