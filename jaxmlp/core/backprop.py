"""The δ rule, written out by hand: forward cache, output δ, hidden δ recursion, gradients.

For one example with layers ``u_l = w_l o_{l-1} + b_l``, ``o_l = f_l(u_l)`` and loss ``ℓ(o_L, t)``,
with ``δ_l = ∂ℓ/∂u_l`` (deck 001 (4)-(6), deck 004):

* output layer: ``δ_L = ∂ℓ/∂o_L ⊙ f_L'(u_L)`` (a vector-Jacobian product for softmax); for the
  canonical pairs this is ``δ_L = o_L − t`` (deck 003's ŷ − y),
* hidden layers: ``δ_l = (w_{l+1}ᵀ δ_{l+1}) ⊙ f_l'(u_l)``,
* gradients: ``∂E/∂w_l = Σ_n δ_l o_{l-1}ᵀ`` (one matrix product ``δᵀ O`` over the batch),
  ``∂E/∂b_l = Σ_n δ_l`` and, for PReLU, ``∂E/∂a_l = Σ_n (w_{l+1}ᵀ δ_{l+1}) ⊙ ∂f/∂a``;
  a gradient-descent step is ``Δw = −η ∂E/∂w``.

Nothing here calls JAX's autodiff; :func:`jaxmlp.check_gradients` proves it equals ``jax.grad``.
The per-example recursion is batched with ``jax.vmap``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import checkify

from jaxmlp.core.activations import get_activation
from jaxmlp.core.checks import prepare
from jaxmlp.core.losses import get_loss, penalty, penalty_grad, reduce
from jaxmlp.core.model import MLP, Params
from jaxmlp.core.programs import PROGRAMS
from jaxmlp.core.values import STAGE_VALUE_CHECKS

__all__ = ["backprop", "checked", "deltas", "loss", "loss_and_grads", "objective"]

Array = jax.Array


def loss(
    model: MLP, params: Params, x: Array, t: Array, loss: str = "categorical_crossentropy",
    reduction: str = "mean", l2: float = 0.0, l1: float = 0.0,
) -> Array:
    """The batch objective ``E = reduce_n ℓ(o_n, t_n) + λ₂/2 Σ w² + λ₁ Σ |w|``.

    Arguments:
        model, params: the network and its parameters.
        x: inputs ``(B, n_in)`` (or one example ``(n_in,)``), floating point.
        t: targets ``(B, n_out)``, or integer labels ``(B,)`` (one-hot encoded here).
        loss: ``"sse"``, ``"mse"``, ``"binary_crossentropy"`` or ``"categorical_crossentropy"``.
        reduction: ``"mean"`` over the batch (Keras) or ``"sum"`` (the lectures' ``E = ½ Σ``).
        l2, l1: weight-penalty rates (weights only, not biases).

    Every argument is checked before any work (``ValueError`` / ``TypeError`` naming it). Under
    ``jax.jit`` the arrays are tracers: shapes and dtypes are still checked, but values are not
    (a NaN in ``x`` or a label 7 of 3 classes gives a silently wrong number); wrap the jitted
    function in :func:`checked` to keep those checks.

    >>> m = MLP((2, 1), ("identity",))
    >>> p = [{"w": jnp.zeros((1, 2)), "b": jnp.zeros(1)}]
    >>> float(loss(m, p, jnp.zeros((3, 2)), jnp.array([[0.3], [-0.8], [0.2]]), "sse", "sum"))
    0.385...
    """
    x, t = prepare(model, params, x, t, loss, reduction, l2, l1)
    return _objective_jit(model, loss, reduction, params, x, t, l2, l1)


def backprop(
    model: MLP, params: Params, x: Array, t: Array, loss: str = "categorical_crossentropy",
    reduction: str = "mean", l2: float = 0.0, l1: float = 0.0,
) -> Params:
    """``∂E/∂params`` by the hand-written δ rule.

    The result has the structure of ``jax.grad`` of :func:`loss`. Arguments are those of
    :func:`loss`; so are the checks (values only eagerly or in :func:`checked`).

    >>> m = MLP((3, 4, 2), ("tanh", "softmax"))
    >>> p = m.init(jax.random.key(0))
    >>> g = backprop(m, p, jnp.ones((5, 3)), jnp.array([0, 1, 1, 0, 1]))
    >>> [layer["w"].shape for layer in g]
    [(4, 3), (2, 4)]
    """
    x, t = prepare(model, params, x, t, loss, reduction, l2, l1)
    return _loss_and_grads_jit(model, loss, reduction, params, x, t, l2, l1)[1]


def deltas(
    model: MLP, params: Params, x: Array, t: Array, loss: str = "categorical_crossentropy"
) -> list[Array]:
    """Every layer's δ = ∂ℓ_n/∂u_l of each example's own loss: a list of ``(B, fan_out)`` arrays.

    For teaching: with softmax + categorical cross-entropy the last entry is ``o − t``. Arguments
    and checks are those of :func:`loss` (values only eagerly or in :func:`checked`).

    >>> m = MLP((2, 2), ("softmax",))
    >>> p = [{"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}]
    >>> deltas(m, p, jnp.zeros((1, 2)), jnp.array([1]))[-1].tolist()
    [[0.5, -0.5]]
    """
    x, t = prepare(model, params, x, t, loss, "mean", 0.0, 0.0)
    return _deltas_jit(model, loss, params, x, t)


def checked(fn: Callable, **jit_kwargs: Any) -> Callable:
    """``jax.jit(fn)`` keeping the value checks that tracing skips.

    A failed check raises after the call.

    Inside ``fn``, the checks of :func:`loss`, :func:`backprop`, :func:`deltas` (and of every
    function that prepares its arguments the same way) that need values (NaN or infinity in
    ``x``, ``t`` or the parameters; labels outside ``[0, n_out)``) are staged into the compiled
    program with ``jax.experimental.checkify``. After each call the first one that failed is raised
    as JAX's ``JaxRuntimeError``, a ``ValueError`` with the message an eager call gives.

    Arguments:
        fn: a function calling jaxmlp's public functions (not already jitted: ``checked`` jits it).
        jit_kwargs: passed to ``jax.jit`` (``static_argnums``, ``static_argnames``, ...).

    >>> m = MLP((2, 3), ("softmax",))
    >>> p = m.init(jax.random.key(0))
    >>> safe = checked(lambda p, x, t: loss(m, p, x, t))
    >>> round(float(safe(p, jnp.ones((1, 2)), jnp.array([2]))), 3) > 0
    True
    >>> try:
    ...     safe(p, jnp.ones((1, 2)), jnp.array([7]))
    ... except ValueError as error:
    ...     print(str(error).split(" (`check`")[0])
    t: labels must lie in [0, 2] for 3 classes, got 7
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a function, got {type(fn).__name__}")

    def staged(*args, **kwargs):  # runs while tracing only
        token = STAGE_VALUE_CHECKS.set(True)
        try:
            return fn(*args, **kwargs)
        finally:
            STAGE_VALUE_CHECKS.reset(token)

    compiled = jax.jit(checkify.checkify(staged, errors=checkify.user_checks), **jit_kwargs)

    @functools.wraps(fn)
    def run(*args, **kwargs):
        error, out = compiled(*args, **kwargs)
        error.throw()
        return out

    return run


# --- the unvalidated, traceable core (what the training step calls) -----------------------

def objective(model, loss, reduction, params, x, t, l2=0.0, l1=0.0) -> Array:
    """:func:`loss` without argument checks: ``x (B, n_in)``, ``t (B, n_out)`` already prepared."""
    return objective_and_output(model, loss, reduction, params, x, t, l2, l1)[0]


def objective_and_output(model, loss, reduction, params, x, t, l2=0.0, l1=0.0, weights=None):
    """``(E, o)``: the objective and the network outputs ``(B, n_out)`` (for metrics).

    ``weights`` (optional, ``(B,)`` of 0 and 1) reduces over the rows of weight 1 alone (see
    :func:`weighted`): a padded batch counts only its real rows.
    """
    L = get_loss(loss)
    last = get_activation(model.activations[-1])

    def example(xn, tn):
        us, os = model.forward(params, xn)
        if L.canonical == last.name:
            return L.from_u(us[-1], tn), os[-1]
        return L.fn(os[-1], tn), os[-1]

    values, outputs = jax.vmap(example)(x, t)
    return weighted(values, reduction, weights) + penalty(params, l2, l1), outputs


def loss_and_grads(model, loss, reduction, params, x, t, l2=0.0, l1=0.0, weights=None):
    """``((E, o), ∂E/∂params)`` by the δ rule from one forward pass; inputs already prepared.

    Shaped like ``jax.value_and_grad(objective_and_output, has_aux=True)``: the objective, the
    outputs ``o (B, n_out)`` and the gradient pytree. With ``weights`` (``(B,)`` of 0 and 1)
    example n's δ is scaled by ``w_n / Σ w`` (``"mean"``) or ``w_n`` (``"sum"``) instead of
    ``1 / B`` or 1: the gradient of :func:`weighted`'s objective.
    """
    example = functools.partial(_example, model, loss, params)
    if weights is None:
        scale = 1.0 / x.shape[0] if reduction == "mean" else 1.0
        values, os, ds, das = jax.vmap(functools.partial(example, scale))(x, t)
    else:  # each example its own scale
        scale = weights / _count(weights) if reduction == "mean" else weights
        values, os, ds, das = jax.vmap(example)(scale, x, t)
    grads = []
    for lay, layer in enumerate(params):
        g = {
            "w": ds[lay].T @ os[lay] + penalty_grad(layer["w"], l2, l1),  # Σ_n δ oᵀ, one matmul
            "b": jnp.sum(ds[lay], axis=0),
        }
        if "a" in layer:
            g["a"] = jnp.sum(das[lay], axis=0)
        grads.append(g)
    value = weighted(values, reduction, weights) + penalty(params, l2, l1)
    return (value, os[-1]), grads


def weighted(values, reduction, weights=None):
    """The batch reduction of per-example values ``(B,)``: :func:`~jaxmlp.core.losses.reduce`,
    or with ``weights`` (``(B,)`` of 0 and 1) ``Σ w ℓ / Σ w`` (``"mean"``) or ``Σ w ℓ``
    (``"sum"``), 0 for a batch of weight 0. A row of weight 0 whose loss is not finite makes the
    result not finite, as it would its gradient (``0 · inf``): never silently dropped."""
    if weights is None:
        return reduce(values, reduction)
    total = jnp.sum(weights * values)
    return total / _count(weights) if reduction == "mean" else total


def _count(weights):
    """``Σ w``, at least 1 (a batch of weight 0 has mean 0, not 0 / 0)."""
    return jnp.maximum(jnp.sum(weights), 1)


def _example(model, loss, params, scale, x, t):
    """One example: its loss, the layer inputs ``o_{l-1}``, and ``scale · δ_l`` for every layer."""
    L = get_loss(loss)
    acts = [get_activation(name) for name in model.activations]
    us, os = model.forward(params, x)
    last = len(params) - 1
    ds, das = [None] * len(params), [None] * len(params)
    g_out = None
    if L.canonical == acts[last].name:  # the shortcut: δ = o − t
        value = L.from_u(us[last], t)
        ds[last] = scale * L.delta_u(os[-1], t)
    else:  # the general rule: δ = ∂ℓ/∂o ⊙ f'(u)
        value = L.fn(os[-1], t)
        g_out = scale * L.d(os[-1], t)
    for lay in range(last, -1, -1):
        act, a = acts[lay], params[lay].get("a")
        g = g_out if lay == last else params[lay + 1]["w"].T @ ds[lay + 1]  # (w_{l+1})ᵀ δ_{l+1}
        if ds[lay] is None:
            ds[lay] = act.backward(us[lay], os[lay + 1], g, *([a] if act.parametric else []))
        if act.parametric:
            das[lay] = g * act.df_da(us[lay], a)
    return value, os, ds, das


def _deltas(model, loss, params, x, t):
    return jax.vmap(lambda xn, tn: _example(model, loss, params, 1.0, xn, tn)[2])(x, t)


def _objective_jit(model, loss, reduction, params, x, t, l2, l1):
    def build():
        return jax.jit(lambda *args: objective(model, loss, reduction, *args))

    return PROGRAMS.get(model, ("objective", loss, reduction), build)(params, x, t, l2, l1)


def _loss_and_grads_jit(model, loss, reduction, params, x, t, l2, l1):
    def build():
        return jax.jit(lambda *args: loss_and_grads(model, loss, reduction, *args))

    return PROGRAMS.get(model, ("loss_and_grads", loss, reduction), build)(params, x, t, l2, l1)


def _deltas_jit(model, loss, params, x, t):
    return PROGRAMS.get(model, ("deltas", loss),
                        lambda: jax.jit(lambda *args: _deltas(model, loss, *args)))(params, x, t)
