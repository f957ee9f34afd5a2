"""Deck 001 (学習理論の練習 1): the sigmoid network M → H1 → H2 → N, three ways, and descent.

Forward, one sample (indices m = 1 … M, k = 1 … H1, j = 1 … H2, i = 1 … N)::

    o_k = σ(Σ_m w_km x_m + θ_k)      input → hidden 1
    o_j = σ(Σ_k w_jk o_k + θ_j)      hidden 1 → hidden 2
    o_i = σ(Σ_j w_ij o_j + θ_i)      hidden 2 → output

with ``σ(u) = 1 / (1 + e^{−u})`` and the squared error ``E(w) = ½ Σ_i (o_i − y_i)²``.

* **Index form**, equations (4)(5)(6) (:func:`index_form`)::

    (4) δ_i = (o_i − y_i) o_i (1 − o_i)      Δw_ij = −η(t) δ_i o_j    Δθ_i = −η(t) δ_i
    (5) δ_j = Σ_i δ_i w_ij o_j (1 − o_j)      Δw_jk = −η(t) δ_j o_k    Δθ_j = −η(t) δ_j
    (6) δ_k = Σ_j δ_j w_jk o_k (1 − o_k)      Δw_km = −η(t) δ_k x_m    Δθ_k = −η(t) δ_k

* **Matrix form** with the k samples of a mini-batch as columns (:func:`matrix_form`): ``x`` is
  M×k, ``I_k`` the 1×k row of ones, ``(A)'`` the transpose, ``·`` the elementwise product::

    o¹ = σ(w¹ x + θ¹ I_k)    o² = σ(w² o¹ + θ² I_k)    o³ = σ(w³ o² + θ³ I_k)
    δ³ = (o³ − y)·o³·(1 − o³)            Δw³ = −η(t) δ³ (o²)'   Δθ³ = −η(t) δ³ (I_k)'
    δ² = ((w³)' δ³)·o²·(1 − o²)          Δw² = −η(t) δ² (o¹)'   Δθ² = −η(t) δ² (I_k)'
    δ¹ = ((w²)' δ²)·o¹·(1 − o¹)          Δw¹ = −η(t) δ¹ (x)'    Δθ¹ = −η(t) δ¹ (I_k)'

* **Chain rule**, derivations (1)(2)(3) (:func:`chain_rule`), the explicit products::

    (1) ∂E/∂w_ij = (o_i − y_i) o_i (1 − o_i) o_j
    (2) ∂E/∂w_jk = Σ_i (o_i − y_i) o_i (1 − o_i) w_ij o_j (1 − o_j) o_k
    (3) ∂E/∂w_km = Σ_i Σ_j (o_i − y_i) o_i (1 − o_i) w_ij o_j (1 − o_j) w_jk o_k (1 − o_k) x_m

  (the slide of (2) writes ``∂o_j/∂w_jk = o_j (1 − o_j) x_k``; the input of ``w_jk`` is ``o_k``,
  as equation (5) has it). For a threshold θ the last factor is 1.

* **Steepest descent** is the Euler step of ``dw/dt = −∇E(w)``: ``w(t+1) − w(t) = −η ∇E(w(t))``
  (:func:`euler_step`); stochastic descent takes one sample (or a mini-batch) at a time and makes
  η shrink little by little (η > 0 を少しずつ小さくしていく) (:func:`descend`). The deck gives no
  formula for the shrinking; the schedule ``η(t) = η0 / (1 + t/τ)`` of :func:`eta` is OURS.

* **Training and test error** (学習誤差とテスト誤差): with ``E(w) = ½ Σ_i (o_i − y_i)²`` the
  error of one sample, the training error is its mean over the training data and the test error
  its mean over the test data (:func:`mean_error`; jaxmlp's loss ``"sse"`` with reduction
  ``"mean"``).

In jaxmlp this is ``MLP((M, H1, H2, N), ("sigmoid",) * 3)`` with ``w_km, θ_k = params[0]``,
``w_jk, θ_j = params[1]``, ``w_ij, θ_i = params[2]``; the deck's teacher ``y`` is jaxmlp's ``t``
and E summed over the samples is loss ``"sse"`` with reduction ``"sum"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import jax
import jax.numpy as jnp

import jaxmlp
from jaxmlp.check import Check, check_close, check_grads
from jaxmlp.core.random_problem import random_problem

__all__ = ["chain_rule", "checks", "descend", "eta", "euler_step", "grads_chain", "grads_index",
           "grads_matrix", "index_form", "matrix_form", "mean_error", "σ"]

Array = jax.Array
Params = list[dict[str, Array]]
einsum = jnp.einsum


def σ(u: Array) -> Array:
    """The sigmoid ``σ(u) = 1 / (1 + e^{−u})``."""
    return 1 / (1 + jnp.exp(-u))


def index_form(params: Params, x_m: Array, y_i: Array, η: float) -> dict[str, Array]:
    """Equations (4)(5)(6) for ONE sample.

    Returns ``{"Δw_ij": (N, H2), "Δθ_i": (N,), …, "Δθ_k": (H1,)}``.
    """
    (w_km, θ_k), (w_jk, θ_j), (w_ij, θ_i) = ((layer["w"], layer["b"]) for layer in params)
    o_k = σ(einsum("km,m->k", w_km, x_m) + θ_k)
    o_j = σ(einsum("jk,k->j", w_jk, o_k) + θ_j)
    o_i = σ(einsum("ij,j->i", w_ij, o_j) + θ_i)

    δ_i = (o_i - y_i) * o_i * (1 - o_i)                      # (4)
    δ_j = einsum("i,ij->j", δ_i, w_ij) * o_j * (1 - o_j)     # (5)  Σ_i δ_i w_ij
    δ_k = einsum("j,jk->k", δ_j, w_jk) * o_k * (1 - o_k)     # (6)  Σ_j δ_j w_jk
    return {
        "Δw_ij": -η * einsum("i,j->ij", δ_i, o_j), "Δθ_i": -η * δ_i,
        "Δw_jk": -η * einsum("j,k->jk", δ_j, o_k), "Δθ_j": -η * δ_j,
        "Δw_km": -η * einsum("k,m->km", δ_k, x_m), "Δθ_k": -η * δ_k,
    }


def matrix_form(params: Params, x: Array, y: Array, η: float) -> dict[str, Array]:
    """The matrix form for a mini-batch as columns: ``x`` M×k, ``y`` N×k → ``{"Δw1", "Δθ1", …}``.

    The thresholds are columns (``θ¹`` is H1×1), so ``Δθ = −η δ (I_k)'`` is H×1 too.
    """
    w1, w2, w3 = (layer["w"] for layer in params)
    θ1, θ2, θ3 = (layer["b"][:, None] for layer in params)
    I_k = jnp.ones((1, x.shape[1]), x.dtype)
    o1 = σ(w1 @ x + θ1 @ I_k)
    o2 = σ(w2 @ o1 + θ2 @ I_k)
    o3 = σ(w3 @ o2 + θ3 @ I_k)

    δ3 = (o3 - y) * o3 * (1 - o3)
    δ2 = (w3.T @ δ3) * o2 * (1 - o2)
    δ1 = (w2.T @ δ2) * o1 * (1 - o1)
    return {
        "Δw3": -η * δ3 @ o2.T, "Δθ3": -η * δ3 @ I_k.T,
        "Δw2": -η * δ2 @ o1.T, "Δθ2": -η * δ2 @ I_k.T,
        "Δw1": -η * δ1 @ x.T, "Δθ1": -η * δ1 @ I_k.T,
    }


def chain_rule(params: Params, x_m: Array, y_i: Array) -> dict[str, Array]:
    """Derivations (1)(2)(3) for ONE sample: ``∂E/∂w``, ``∂E/∂θ``, the deck's explicit products."""
    (w_km, θ_k), (w_jk, θ_j), (w_ij, θ_i) = ((layer["w"], layer["b"]) for layer in params)
    o_k = σ(einsum("km,m->k", w_km, x_m) + θ_k)
    o_j = σ(einsum("jk,k->j", w_jk, o_k) + θ_j)
    o_i = σ(einsum("ij,j->i", w_ij, o_j) + θ_i)
    e_i, s_i, s_j, s_k = o_i - y_i, o_i * (1 - o_i), o_j * (1 - o_j), o_k * (1 - o_k)
    return {
        "∂E/∂w_ij": einsum("i,i,j->ij", e_i, s_i, o_j),                                  # (1)
        "∂E/∂θ_i": einsum("i,i->i", e_i, s_i),
        "∂E/∂w_jk": einsum("i,i,ij,j,k->jk", e_i, s_i, w_ij, s_j, o_k),                  # (2)
        "∂E/∂θ_j": einsum("i,i,ij,j->j", e_i, s_i, w_ij, s_j),
        "∂E/∂w_km": einsum("i,i,ij,j,jk,k,m->km", e_i, s_i, w_ij, s_j, w_jk, s_k, x_m),  # (3)
        "∂E/∂θ_k": einsum("i,i,ij,j,jk,k->k", e_i, s_i, w_ij, s_j, w_jk, s_k),
    }


def grads_index(params: Params, x: Array, t: Array) -> Params:
    """``∂E/∂params`` from the index form: ``−Δ/η`` summed over the samples (rows of ``x``).

    ``x`` is ``(B, M)``.
    """
    per_sample = jax.vmap(index_form, (None, 0, 0, None))(params, x, t, 1.0)
    Δ = jax.tree.map(lambda a: jnp.sum(a, axis=0), per_sample)
    return [{"w": -Δ[f"Δw_{n}"], "b": -Δ[f"Δθ_{n[0]}"]} for n in ("km", "jk", "ij")]


def grads_matrix(params: Params, x: Array, t: Array) -> Params:
    """``∂E/∂params`` from the matrix form.

    The rows of ``x (B, M)`` become the deck's columns ``x (M, B)``.
    """
    Δ = matrix_form(params, x.T, t.T, 1.0)
    return [{"w": -Δ[f"Δw{n}"], "b": -Δ[f"Δθ{n}"][:, 0]} for n in (1, 2, 3)]


def grads_chain(params: Params, x: Array, t: Array) -> Params:
    """``∂E/∂params`` from the chain-rule products, summed over the samples."""
    g = jax.tree.map(lambda a: jnp.sum(a, axis=0), jax.vmap(chain_rule, (None, 0, 0))(params, x, t))
    return [{"w": g[f"∂E/∂w_{n}"], "b": g[f"∂E/∂θ_{n[0]}"]} for n in ("km", "jk", "ij")]


def euler_step(w: Params, grad_E: Params, η: float) -> Params:
    """Steepest descent as the Euler step of ``dw/dt = −∇E(w)``: ``w(t+1) = w(t) − η ∇E(w(t))``."""
    return jax.tree.map(lambda w_t, g: w_t - η * g, w, grad_E)


def eta(t: int | Array, η0: float = 0.5, τ: float = 10.0) -> Array:
    """A shrinking learning rate for stochastic descent, ``η(t) = η0 / (1 + t/τ)`` (ours: the deck
    only says to make η smaller little by little)."""
    return η0 / (1 + t / τ)


def mean_error(params: Params, x: Array, y: Array) -> Array:
    """学習誤差 / テスト誤差: the mean over the samples (columns of ``x`` M×n, ``y`` N×n) of
    ``E(w) = ½ Σ_i (o_i − y_i)²``, the outputs ``o`` from the matrix form.

    Every o below is σ(0) = 0.5, so each sample's E is ½ (0.5 − 1)² = ½ (0.5 − 0)² = 0.125:

    >>> p = [{"w": jnp.zeros((1, 1)), "b": jnp.zeros(1)}] * 3
    >>> float(mean_error(p, jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]])))
    0.125
    """
    w1, w2, w3 = (layer["w"] for layer in params)
    θ1, θ2, θ3 = (layer["b"][:, None] for layer in params)
    # θ I_k: the column broadcast over the k samples
    o3 = σ(w3 @ σ(w2 @ σ(w1 @ x + θ1) + θ2) + θ3)
    return jnp.mean(0.5 * jnp.sum((o3 - y) ** 2, axis=0))


def descend(params: Params, batches: Iterable[tuple[Array, Array]],
            η: Callable[[int], float] = eta) -> Params:
    """Stochastic descent: for t = 0, 1, …, ``w(t+1) = w(t) + Δw`` on the t-th mini-batch, ``η(t)``.

    Each batch is ``(x (B, M), y (B, N))``; ``Δw`` comes from the matrix form (4)(5)(6).
    """
    w = params
    for t, (x, y) in enumerate(batches):
        Δ = matrix_form(w, x.T, y.T, η(t))
        w = [{"w": layer["w"] + Δ[f"Δw{n}"], "b": layer["b"] + Δ[f"Δθ{n}"][:, 0]}
             for n, layer in zip((1, 2, 3), w)]
    return w


def checks(seed: int = 0) -> list[Check]:
    """Index, matrix and chain-rule forms against ``jax.grad``; one descent step."""
    model = jaxmlp.MLP((4, 5, 3, 2), ("sigmoid", "sigmoid", "sigmoid"))
    params, x, t = random_problem(model, "sse", seed, batch=7)
    out = [check_grads(f"deck 001 {label}", fn, model, params, x, t, "sse", "sum")
           for label, fn in (("(4)(5)(6) index form", grads_index),
                             ("matrix form, samples as columns", grads_matrix),
                             ("(1)(2)(3) chain rule", grads_chain))]
    η = 0.1

    def both_steps(p, x, t):
        by_deck = descend(p, [(x, t)], lambda _: η)
        by_jaxmlp = euler_step(p, jaxmlp.backprop(model, p, x, t, "sse", "sum"), η)
        return by_deck, by_jaxmlp

    out.append(check_close("deck 001 w + Δw (matrix form)", "= w − η · jaxmlp.backprop",
                           *jax.jit(both_steps)(params, x, t)))
    out.append(check_close("deck 001 training error: mean of ½ Σ (o − y)²",
                           "= jaxmlp.loss(\"sse\", mean)",
                           mean_error(params, x.T, t.T),
                           jaxmlp.loss(model, params, x, t, "sse", "mean")))
    return out
