"""Activation functions, each written next to its hand-written derivative.

Every activation of deck 002's list (step, identity, sigmoid, tanh, ReLU, softplus, Leaky ReLU,
softmax, PReLU, ELU, SELU, Swish, Mish) is an :class:`Activation`: the forward ``f(u)`` and its
derivative ``df(u) = f'(u)``, both elementwise on the pre-activation ``u``. Backprop multiplies the
incoming error by ``f'(u)`` (the Hadamard product of deck 003's computation graph); softmax is not
elementwise, so it carries a vector-Jacobian product instead.

At a kink the derivative takes the branch that ``jax.grad`` takes through the same forward
(relu'(0) = 0, leaky_relu'(0) = 1, elu'(0) and selu'(0) from the left, step' = 0), because each
derivative below uses the very comparison its forward uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["LECTURE", "Activation", "activation_names", "get_activation", "register_activation"]

Array = jax.Array

LEAKY_SLOPE = 0.01  #: negative slope of ``leaky_relu`` (as ``jax.nn.leaky_relu`` and PyTorch)
#: deck 002's activation list, in the deck's order: every one is built in
#: (and tested against jax.grad)
LECTURE = (
    "identity", "step", "sigmoid", "tanh", "relu", "softplus", "leaky_relu", "prelu", "elu",
    "selu", "swish", "mish", "softmax",
)
PRELU_INIT = 0.25  #: initial learnable slope ``a`` of ``prelu`` (He et al. 2015)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@dataclasses.dataclass(frozen=True)
class Activation:
    """One activation function and its derivative.

    Arguments:
        name: the registry name.
        f: the forward ``f(u)`` (``f(u, a)`` for a parametric activation), shape-preserving.
        df: the elementwise derivative ``f'(u)`` (``f'(u, a)``); ``None`` when ``f`` is not
            elementwise (softmax), in which case ``vjp`` is given.
        vjp: ``vjp(u, o, g) = J_f(u)^T g`` for a non-elementwise ``f``, with ``o = f(u)``.
        df_da: for a parametric activation, ``∂f/∂a`` elementwise.
    """

    name: str
    f: Callable[..., Array]
    df: Callable[..., Array] | None = None
    vjp: Callable[[Array, Array, Array], Array] | None = None
    df_da: Callable[[Array, Array], Array] | None = None

    @property
    def parametric(self) -> bool:
        """Whether the activation has a learnable per-neuron slope ``a`` (PReLU)."""
        return self.df_da is not None

    def backward(self, u: Array, o: Array, g: Array, *a: Array) -> Array:
        """Return ``g ⊙ f'(u)`` (or ``J_f(u)^T g``).

        That is the error at ``u`` given the error ``g`` at ``o``.
        """
        if self.df is None:
            return self.vjp(u, o, g)
        return g * self.df(u, *a)


# --- the forward functions, each beside its derivative -------------------------------------

def _identity(u):
    return u


def _d_identity(u):
    return jnp.ones_like(u)


def _step(u):  # deck 002: fires (1) when mu > 0, else 0
    return jnp.where(u > 0, 1.0, 0.0).astype(u.dtype)


def _d_step(u):
    return jnp.zeros_like(u)


def _sigmoid(u):
    return jax.nn.sigmoid(u)


def _d_sigmoid(u):  # deck 001: o (1 - o)
    o = jax.nn.sigmoid(u)
    return o * (1 - o)


def _tanh(u):
    return jnp.tanh(u)


def _d_tanh(u):  # deck 003: 1 - tanh^2
    o = jnp.tanh(u)
    return 1 - o * o


def _relu(u):
    return jnp.where(u > 0, u, 0.0).astype(u.dtype)


def _d_relu(u):  # relu'(0) = 0, as jax.nn.relu
    return jnp.where(u > 0, 1.0, 0.0).astype(u.dtype)


def _softplus(u):
    return jnp.logaddexp(u, 0.0)


def _d_softplus(u):
    return jax.nn.sigmoid(u)


def _leaky_relu(u):
    return jnp.where(u >= 0, u, LEAKY_SLOPE * u)


def _d_leaky_relu(u):  # leaky_relu'(0) = 1, as jax.nn.leaky_relu
    return jnp.where(u >= 0, 1.0, LEAKY_SLOPE).astype(u.dtype)


def _prelu(u, a):
    return jnp.where(u >= 0, u, a * u)


def _d_prelu(u, a):
    return jnp.where(u >= 0, jnp.ones_like(u), a * jnp.ones_like(u))


def _d_prelu_da(u, a):
    return jnp.where(u >= 0, 0.0, u).astype(u.dtype)


def _elu(u):
    return jnp.where(u > 0, u, jnp.expm1(jnp.where(u > 0, 0.0, u)))


def _d_elu(u):  # elu'(0) from the left: exp(0) = 1
    return jnp.where(u > 0, 1.0, jnp.exp(jnp.where(u > 0, 0.0, u))).astype(u.dtype)


def _selu(u):
    return SELU_SCALE * jnp.where(u > 0, u, SELU_ALPHA * jnp.expm1(jnp.where(u > 0, 0.0, u)))


def _d_selu(u):  # selu'(0) from the left: scale * alpha
    return SELU_SCALE * jnp.where(u > 0, 1.0, SELU_ALPHA * jnp.exp(jnp.where(u > 0, 0.0, u)))


def _swish(u):
    return u * jax.nn.sigmoid(u)


def _d_swish(u):
    s = jax.nn.sigmoid(u)
    return s + u * s * (1 - s)


def _mish(u):
    return u * jnp.tanh(jnp.logaddexp(u, 0.0))


def _d_mish(u):
    th = jnp.tanh(jnp.logaddexp(u, 0.0))
    return th + u * (1 - th * th) * jax.nn.sigmoid(u)


def _softmax(u):  # exp(u_i) / Σ_j exp(u_j), shifted by max u for stability
    return jax.nn.softmax(u, axis=-1)


def _softmax_vjp(u, o, g):  # J = diag(o) - o o^T is symmetric: J^T g = o ⊙ (g - <g, o>)
    return o * (g - jnp.sum(g * o, axis=-1, keepdims=True))


_REGISTRY: dict[str, Activation] = {}


def register_activation(
    name: str, f: Callable[[Array], Array], df: Callable[[Array], Array]
) -> Activation:
    """Register an elementwise activation ``f`` with its hand-written derivative ``df = f'``.

    Both take and return arrays of the same shape. Verify the pair with
    :func:`jaxmlp.check_gradients` (or ``jaxmlp verify``) before trusting it.

    >>> import jax.numpy as jnp
    >>> act = register_activation("cube", lambda u: u**3, lambda u: 3 * u**2)
    >>> float(act.df(jnp.array(2.0)))
    12.0
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty string, got {name!r}")
    if name in _REGISTRY or name == "linear":
        raise ValueError(f"name: expected a new name, got {name!r}, which is already registered")
    if not callable(f) or not callable(df):
        raise TypeError(f"f and df: expected two callables, got {type(f).__name__}, "
                        f"{type(df).__name__}")
    act = Activation(name, f, df)
    _REGISTRY[name] = act
    return act


def get_activation(name: str) -> Activation:
    """Look up an activation by name (``"linear"`` is an alias of ``"identity"``).

    >>> get_activation("relu").name
    'relu'
    """
    key = "identity" if name == "linear" else name
    try:
        return _REGISTRY[key]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation: unknown name {name!r}; expected one of {activation_names()}"
        ) from None


def activation_names() -> tuple[str, ...]:
    """All registered activation names, built-in first."""
    return tuple(_REGISTRY)


for _act in (
    Activation("identity", _identity, _d_identity),
    Activation("step", _step, _d_step),
    Activation("sigmoid", _sigmoid, _d_sigmoid),
    Activation("tanh", _tanh, _d_tanh),
    Activation("relu", _relu, _d_relu),
    Activation("softplus", _softplus, _d_softplus),
    Activation("leaky_relu", _leaky_relu, _d_leaky_relu),
    Activation("prelu", _prelu, _d_prelu, df_da=_d_prelu_da),
    Activation("elu", _elu, _d_elu),
    Activation("selu", _selu, _d_selu),
    Activation("swish", _swish, _d_swish),
    Activation("mish", _mish, _d_mish),
    Activation("softmax", _softmax, vjp=_softmax_vjp),
):
    _REGISTRY[_act.name] = _act
del _act
