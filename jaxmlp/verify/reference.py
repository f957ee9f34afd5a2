"""What a hand gradient is judged against: ``jax.grad`` of the objective (and each δ by it)."""

from __future__ import annotations

import functools

import jax

from jaxmlp.check import reference_grads
from jaxmlp.core.backprop import objective
from jaxmlp.core.programs import PROGRAMS
from jaxmlp.verify.userfile import BadFileError, located

__all__ = ["jitted_grad", "reference"]


def reference(subject, params, x, t):
    """``jax.grad`` of the objective, and (MLP form with ``deltas``) every δ_l = ∂ℓ_n/∂u_l."""
    if subject.model is None:
        return _general_grad(subject, params, x, t), None
    m, loss = subject.model, subject.loss
    grads = reference_grads(m, loss, subject.reduction, params, x, t, subject.l2, subject.l1)
    return grads, None if subject.deltas is None else _reference_deltas(m, loss, params, x, t)


def _reference_deltas(model, loss, params, x, t):
    """Every example's δ by ``jax.grad`` (compiled once per network, in jaxmlp's own cache)."""
    def build():
        def deltas(params, x, t):
            def one(x_n, t_n):  # ∂ℓ_n/∂u_l = ∂ℓ_n/∂b_l, since u_l = w_l o_{l−1} + b_l
                g = jax.grad(objective, argnums=3)(model, loss, "sum", params, x_n[None],
                                                   t_n[None])
                return [layer["b"] for layer in g]
            return jax.vmap(one)(x, t)

        return jax.jit(deltas)

    return PROGRAMS.get(model, ("reference_deltas", loss), build)(params, x, t)


def _general_grad(subject, params, x, t):
    """``jax.grad(objective)``, jitted once per file.

    Op by op when the objective cannot be traced.
    """
    try:
        return jitted_grad(subject.objective)(params, x, t)
    except Exception:
        pass
    try:
        return jax.grad(subject.objective)(params, x, t)
    except Exception as error:
        message = f"{subject.path}: jax.grad(objective) raised {located(error, subject)}"
        raise BadFileError(message) from None


@functools.lru_cache(maxsize=4)
def jitted_grad(objective):
    return jax.jit(jax.grad(objective))
