"""Per-example losses, each next to its derivative with respect to the network output.

A loss ``ℓ(o, t)`` compares one output vector ``o`` (shape ``(N,)``) with its target ``t``;
the batch objective reduces the per-example values by ``"mean"`` (Keras's default) or
``"sum"`` (the lectures' ``E = ½ Σ``). ``d(o, t) = ∂ℓ/∂o`` is what the general output-δ rule
multiplies by ``f'(u)``.

Three (activation, loss) pairs are *canonical*: softmax + categorical cross-entropy, sigmoid +
binary cross-entropy and identity + sse. For them ``∂ℓ/∂u = o − t`` (deck 003's ŷ − y), and the
loss is evaluated stably from the pre-activation ``u`` (log-softmax, log-sigmoid) by ``from_u``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["REDUCTIONS", "Loss", "get_loss", "loss_names", "penalty", "penalty_grad", "reduce"]

Array = jax.Array
EPSILON = 1e-7  #: clipping of probabilities inside the logs, as Keras's ``epsilon()``
REDUCTIONS = ("mean", "sum")


@dataclasses.dataclass(frozen=True)
class Loss:
    """One per-example loss.

    Arguments:
        name: the registry name.
        fn: ``ℓ(o, t)``, ``(N,), (N,) -> ()``.
        d: ``∂ℓ/∂o``, ``(N,), (N,) -> (N,)``.
        canonical: the output activation whose pair with this loss has ``∂ℓ/∂u = o − t``.
        from_u: ``ℓ`` computed stably from the pre-activation ``u`` for the canonical pair.
        delta_u: ``∂ℓ/∂u`` for the canonical pair, from ``o`` and ``t`` (the shortcut).
    """

    name: str
    fn: Callable[[Array, Array], Array]
    d: Callable[[Array, Array], Array]
    canonical: str | None = None
    from_u: Callable[[Array, Array], Array] | None = None
    delta_u: Callable[[Array, Array], Array] | None = None


def sse(o: Array, t: Array) -> Array:
    """Sum of squared errors of one example, ``½ Σ_i (o_i − t_i)²`` (deck 000, deck 001 (4)).

    >>> float(sse(jnp.array([0.3, 0.8, 0.2]), jnp.array([0.0, 1.0, 0.0])))  # deck 000: E = 0.085
    0.085...
    """
    return 0.5 * jnp.sum((o - t) ** 2)


def d_sse(o: Array, t: Array) -> Array:
    """``∂ sse / ∂o = o − t``."""
    return o - t


def mse(o: Array, t: Array) -> Array:
    """Mean squared error over the ``N`` outputs of one example, ``(1/N) Σ_i (o_i − t_i)²``."""
    return jnp.mean((o - t) ** 2)


def d_mse(o: Array, t: Array) -> Array:
    """``∂ mse / ∂o = 2 (o − t) / N``."""
    return 2.0 * (o - t) / o.shape[-1]


def binary_crossentropy(o: Array, t: Array) -> Array:
    """``−Σ_i [t_i log o_i + (1 − t_i) log(1 − o_i)]`` with ``o`` clipped to ``[ε, 1 − ε]``.

    Summed over the outputs (independent Bernoullis), so that with a sigmoid output
    ``∂ℓ/∂u = o − t`` exactly; Keras averages over the outputs instead, which differs only when
    there is more than one output.
    """
    oc = _clip(o, EPSILON, 1 - EPSILON)
    return -jnp.sum(t * jnp.log(oc) + (1 - t) * jnp.log(1 - oc))


def d_binary_crossentropy(o: Array, t: Array) -> Array:
    """``∂ℓ/∂o = (o − t) / (o (1 − o))`` inside the clipping range, 0 outside."""
    oc = _clip(o, EPSILON, 1 - EPSILON)
    inside = (o >= EPSILON) & (o <= 1 - EPSILON)
    return jnp.where(inside, (oc - t) / (oc * (1 - oc)), 0.0)


def _binary_crossentropy_from_u(u: Array, t: Array) -> Array:
    # −[t log σ(u) + (1 − t) log(1 − σ(u))] = softplus(u) − t u
    return jnp.sum(jnp.logaddexp(0.0, u) - t * u)


def categorical_crossentropy(o: Array, t: Array) -> Array:
    """``−Σ_i t_i log o_i`` with ``o`` floored at ``ε`` (deck 002, deck 003)."""
    return -jnp.sum(t * jnp.log(_clip(o, EPSILON, None)))


def d_categorical_crossentropy(o: Array, t: Array) -> Array:
    """``∂ℓ/∂o = −t / o`` from the floor ``ε`` up, 0 below it."""
    return jnp.where(o >= EPSILON, -t / _clip(o, EPSILON, None), 0.0)


def _categorical_crossentropy_from_u(u: Array, t: Array) -> Array:
    # −Σ t log softmax(u) = Σ t · (logsumexp(u) − u)
    return jnp.sum(t * (jax.nn.logsumexp(u) - u))


def _softmax_crossentropy_delta(o: Array, t: Array) -> Array:
    # ∂/∂u of Σ t (logsumexp(u) − u) is o Σt − t, which is deck 003's ŷ − y when Σ t = 1
    return o * jnp.sum(t) - t


def _clip(o: Array, low: float, high: float | None) -> Array:
    # clipping by selection, so that jax.grad passes the gradient at the bounds themselves
    # (jnp.clip would halve it there) and the hand derivatives above agree with it exactly
    o = jnp.where(o < low, low, o)
    return o if high is None else jnp.where(o > high, high, o)


def _difference(o: Array, t: Array) -> Array:
    return o - t


_REGISTRY: dict[str, Loss] = {
    "sse": Loss("sse", sse, d_sse, "identity", sse, _difference),
    "mse": Loss("mse", mse, d_mse),
    "binary_crossentropy": Loss(
        "binary_crossentropy", binary_crossentropy, d_binary_crossentropy,
        "sigmoid", _binary_crossentropy_from_u, _difference,
    ),
    "categorical_crossentropy": Loss(
        "categorical_crossentropy", categorical_crossentropy, d_categorical_crossentropy,
        "softmax", _categorical_crossentropy_from_u, _softmax_crossentropy_delta,
    ),
}


def get_loss(name: str) -> Loss:
    """Look up a loss by name.

    >>> get_loss("sse").canonical
    'identity'
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"loss: unknown name {name!r}; expected one of {loss_names()}") from None


def loss_names() -> tuple[str, ...]:
    """All loss names."""
    return tuple(_REGISTRY)


def reduce(values: Array, reduction: str) -> Array:
    """Reduce per-example values ``(B,)`` to a scalar by ``"mean"`` or ``"sum"``."""
    if reduction == "mean":
        return jnp.mean(values)
    if reduction == "sum":
        return jnp.sum(values)
    raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")


def penalty(params: list[dict[str, Array]], l2: float = 0.0, l1: float = 0.0) -> Array:
    """Weight penalty ``λ₂/2 Σ w² + λ₁ Σ |w|`` over every layer's ``"w"`` (biases are not decayed).

    A rate that is a Python zero adds nothing to the computation (no wasted pass over the weights).

    >>> import jax.numpy as jnp
    >>> float(penalty([{"w": jnp.array([[1.0, -2.0]]), "b": jnp.zeros(1)}], l2=0.5, l1=0.1))
    1.55
    """
    total = jnp.zeros(())
    for layer in params:
        w = layer["w"]
        if not _is_zero(l2):
            total = total + 0.5 * l2 * jnp.sum(w * w)
        if not _is_zero(l1):
            # |w| written as w·sign(w): jax.grad then gives sign(0) = 0 at w = 0,
            # as penalty_grad does
            total = total + l1 * jnp.sum(w * jnp.sign(w))
    return total.astype(params[0]["w"].dtype) if params else total


def penalty_grad(w: Array, l2: float = 0.0, l1: float = 0.0) -> Array | float:
    """``∂ penalty / ∂w = λ₂ w + λ₁ sign(w)``, taking the subgradient 0 at ``w = 0``."""
    grad = 0.0
    if not _is_zero(l2):
        grad = grad + l2 * w
    if not _is_zero(l1):
        grad = grad + l1 * jnp.sign(w)
    return grad


def _is_zero(rate) -> bool:
    return isinstance(rate, (int, float)) and rate == 0
