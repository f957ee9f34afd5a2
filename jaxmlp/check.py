"""Compare any gradient (or δ, or worked number) with its reference, leaf by leaf and normwise.

:func:`check_gradients` judges a gradient function against ``jax.grad`` of :func:`jaxmlp.loss`
and returns a :class:`GradientReport`, the one report of every comparison of pytrees:
:func:`check_grads` and :func:`check_close` make the same report and give its one-line
:meth:`GradientReport.summary`, a :class:`Check` (as :func:`check_number` does for a worked
number), which the lecture derivations and ``jaxmlp verify`` list with :func:`table` and
:func:`check_line`. How close is close enough (the
measured tolerances, the normwise and per-leaf errors) is :mod:`jaxmlp.tolerance`'s, whose
:func:`~jaxmlp.tolerance.compare` and :func:`~jaxmlp.tolerance.tolerance` are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.core.backprop import objective
from jaxmlp.core.checks import prepare
from jaxmlp.core.model import MLP, Params
from jaxmlp.core.programs import PROGRAMS
from jaxmlp.core.rounding import rounding_bound
from jaxmlp.report import Check, GradientReport, check_line, table
from jaxmlp.tolerance import TOLERANCES, LeafError, Tolerance, compare, tolerance

__all__ = [
    "TOLERANCES",
    "Check",
    "GradientReport",
    "LeafError",
    "Tolerance",
    "check_close",
    "check_gradients",
    "check_grads",
    "check_line",
    "check_number",
    "compare",
    "float_bits",
    "in_other_precision",
    "reference_grads",
    "rounding_bound_of",
    "table",
    "tolerance",
]


def check_gradients(
    grad_fn: Callable[[Params, jax.Array, jax.Array], Params], model: MLP, params: Params,
    x: jax.Array, t: jax.Array, loss: str = "categorical_crossentropy", reduction: str = "mean",
    l2: float = 0.0, l1: float = 0.0, rtol: float | None = None,
) -> GradientReport:
    """Compare ``grad_fn(params, x, t)`` with ``jax.grad`` of :func:`jaxmlp.loss`.

    Per leaf and normwise, as :func:`~jaxmlp.tolerance.compare` judges.

    Arguments:
        grad_fn: the gradient to check; returns a pytree shaped like ``params``.
        model, params, x, t, loss, reduction, l2, l1: as for :func:`jaxmlp.loss`.
        rtol: the normwise tolerance (default by dtype, see :func:`tolerance`).

    A leaf out of tolerance is wrong only when rounding cannot explain it: it exceeds the
    rounding bound of a right δ rule at this point, does not shrink when ``grad_fn`` and
    ``jax.grad`` run in the other precision, and (below float64) is less accurate than
    ``jax.grad`` against float64 (:func:`compare`'s rules; each leaf says which judged it).
    Raises ``ValueError`` when the result's structure or a leaf's shape differs.

    >>> import jaxmlp
    >>> model = jaxmlp.MLP((3, 4, 2), ("tanh", "softmax"))
    >>> params = model.init(jax.random.key(0))
    >>> x, t = jnp.ones((5, 3)), jnp.array([0, 1, 1, 0, 1])
    >>> def grad_fn(p, x, t):
    ...     return jaxmlp.backprop(model, p, x, t)
    >>> check_gradients(grad_fn, model, params, x, t).passed
    True
    """
    # clear errors before anything else
    xp, tp = prepare(model, params, x, t, loss, reduction, l2, l1)
    args = (model, loss, reduction)
    want = jax.device_get(reference_grads(*args, params, xp, tp, l2, l1))
    got = grad_fn(params, x, t)
    try:
        report = _report(got, want, rtol)
    except ValueError as error:
        raise ValueError(f"grad_fn: returned {str(error).removeprefix('got: ')} "
                         "(a list with one dict per layer, keys as in params)") from None
    if report.passed:
        return report
    other = in_other_precision(
        lambda p, x, t, xp, tp: (grad_fn(p, x, t), reference_grads(*args, p, xp, tp, l2, l1),
                                 rounding_bound_of(*args, p, xp, tp, l2, l1)[0]),
        params, x, t, xp, tp)
    wider = other is not None and float_bits(other[1]) > float_bits(want)
    truth = other[1] if wider else None
    bound = rounding_bound_of(*args, params, xp, tp, l2, l1)[0]
    return _report(got, want, rtol, truth=truth, bound=bound, other=other)


def rounding_bound_of(model: MLP, loss: str, reduction: str, params: Params, x, t,
                      l2=0.0, l1=0.0) -> tuple[Params, list]:
    """:func:`jaxmlp.core.rounding.rounding_bound`, compiled once per network and settings."""
    def build():
        return jax.jit(lambda *a: rounding_bound(model, loss, reduction, *a))

    return PROGRAMS.get(model, ("rounding_bound", loss, reduction), build)(params, x, t, l2, l1)


def in_other_precision(fn: Callable, *args):
    """``fn(*args)`` with every float array in the other precision (float32 ↔ float64).

    The evidence of the precision rule of :func:`compare`. Returns the result on the host, or
    ``None`` when ``fn`` fails there (a function written for one precision only).
    """
    floats = [a for a in jax.tree.leaves(args) if jnp.issubdtype(jnp.result_type(a), jnp.floating)]
    wide = bool(floats) and float_bits(floats) < 64
    dtype = jnp.float64 if wide else jnp.float32
    with jax.enable_x64(wide):
        cast = jax.tree.map(lambda a: _cast(a, dtype), args)
        try:
            return jax.device_get(fn(*cast))
        except Exception:
            return None


def reference_grads(
    model: MLP, loss: str, reduction: str, params: Params, x, t, l2=0.0, l1=0.0
) -> Params:
    """``jax.grad`` of the objective: the reference of every check.

    The objective is :func:`jaxmlp.loss` without argument checks, with ``x (B, n_in)`` and
    ``t (B, n_out)`` prepared. Jitted, unless under ``jax.disable_jit()``.
    """
    def build():
        return jax.jit(lambda *a: jax.grad(objective, argnums=3)(model, loss, reduction, *a))

    return PROGRAMS.get(model, ("reference_grads", loss, reduction), build)(params, x, t, l2, l1)


def check_grads(name: str, grad_fn: Callable, model: MLP, params, x, t, loss: str = "sse",
                reduction: str = "sum") -> Check:
    """``grad_fn(params, x, t)`` against ``jax.grad`` of :func:`jaxmlp.loss`, compiled together.

    The comparison of :func:`check_gradients` (the same :class:`GradientReport`, summarised as
    one :class:`Check` line) for a traceable ``grad_fn`` with prepared ``x (B, n_in)``,
    ``t (B, n_out)``, in one compilation instead of two.
    """
    def both(p, x, t):
        want = jax.grad(objective, argnums=3)(model, loss, reduction, p, x, t)
        return grad_fn(p, x, t), want

    program = jax.jit(both)
    got, want = program(params, x, t)
    what = f"= jax.grad, {jnp.result_type(x)}"
    try:
        report = _report(got, want)
        if not report.passed:  # the evidence of rounding, only when needed
            def evidence(p, x, t):
                return *program(p, x, t), rounding_bound_of(model, loss, reduction, p, x, t)[0]

            bound = evidence(params, x, t)[2]
            other = in_other_precision(evidence, params, x, t)
            wider = other is not None and float_bits(other[1]) > float_bits(want)
            truth = other[1] if wider else None
            report = _report(got, want, bound=bound, other=other, truth=truth)
    except ValueError:
        return Check(name, f"{what} (structure or shapes differ)", math.inf, False)
    return report.summary(name, what)


def check_close(name: str, what: str, got, want, rtol: float | None = None) -> Check:
    """Compare two pytrees as :func:`check_gradients` does, summarised as one :class:`Check`
    (``max_rel`` is the worst per-leaf error).

    >>> check_close("w", "= w", [{"w": [1.0, 2.0]}], [{"w": [1.0, 2.0]}]).passed
    True
    """
    try:
        return _report(got, want, rtol).summary(name, what)
    except ValueError:
        return Check(name, f"{what} (structure or shapes differ)", math.inf, False)


def check_number(name: str, got, want: float, rtol: float = 1e-12) -> Check:
    """A worked number: ``|got − want| / |want|`` (``|got|`` when ``want == 0``) at most ``rtol``.

    >>> check_number("deck 000 E", 0.5 * (0.09 + 0.04 + 0.04), 0.085).passed
    True
    """
    got = float(got)
    rel = abs(got - want) / abs(want) if want else abs(got)
    return Check(name, f"deck: {want:,g}", rel, rel <= rtol)


def _report(got, want, rtol=None, **evidence) -> GradientReport:
    """The one comparison of pytrees behind every check (a ``ValueError`` for other shapes)."""
    leaves = compare(got, want, rtol, **evidence)
    dtype = jnp.result_type(*jax.tree.leaves(want))
    tol = tolerance(dtype, rtol)
    return GradientReport(leaves, tol.normwise, str(dtype), tol.leaf, tol.floor)


def _cast(a, dtype):
    """A float array in ``dtype``; a 64-bit integer array (labels, indices) in 32 bits when
    ``dtype`` is float32 (where JAX holds no 64-bit integers); any other value as it is."""
    kind = jnp.result_type(a)
    if jnp.issubdtype(kind, jnp.floating):
        return jnp.asarray(np.asarray(a), dtype)
    if jnp.issubdtype(kind, jnp.integer) and np.dtype(kind).itemsize == 8 \
            and np.dtype(dtype).itemsize < 8:
        return np.asarray(a).astype(np.int32 if jnp.issubdtype(kind, jnp.signedinteger)
                                    else np.uint32)
    return a


def float_bits(tree) -> int:
    """The bits of the float type of ``tree``'s first leaf."""
    return jnp.finfo(jnp.result_type(jax.tree.leaves(tree)[0])).bits
