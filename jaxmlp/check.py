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

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.core.backprop import objective
from jaxmlp.core.checks import prepare
from jaxmlp.core.model import MLP, Params
from jaxmlp.core.programs import PROGRAMS
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
    "reference_grads",
    "table",
    "tolerance",
]


@dataclasses.dataclass(frozen=True)
class Check:
    """One verified claim: its ``name``, ``what`` it was compared with, worst error, verdict."""

    name: str
    what: str
    max_rel: float
    passed: bool


@dataclasses.dataclass(frozen=True)
class GradientReport:
    """The result of :func:`check_gradients`.

    ``str(report)`` is a table, ``report.passed`` the verdict.
    """

    leaves: tuple[LeafError, ...]
    rtol: float
    dtype: str
    leaf_rtol: float = 0.0
    floor: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether every leaf is within both tolerances."""
        return all(leaf.passed for leaf in self.leaves)

    @property
    def max_rel(self) -> float:
        """The largest normwise relative error."""
        return max((leaf.rel for leaf in self.leaves), default=0.0)

    @property
    def failures(self) -> tuple[LeafError, ...]:
        """The leaves that are out of tolerance."""
        return tuple(leaf for leaf in self.leaves if not leaf.passed)

    def summary(self, name: str, what: str) -> Check:
        """The report as one :class:`Check` line (the worst leaf's own error and the verdict)."""
        worst = max((leaf.leaf_rel for leaf in self.leaves), default=0.0)
        return Check(name, what, worst, self.passed)

    def __str__(self) -> str:
        head = ("leaf", "shape", "max |jax.grad|", "max |Δ|", "normwise", "own", "ok")
        rows = [(leaf.path, str(leaf.shape), f"{leaf.max_ref:.3e}", f"{leaf.max_abs:.3e}",
                 f"{leaf.rel:.2e}", f"{leaf.leaf_rel:.2e}", _verdict(leaf))
                for leaf in self.leaves]
        lines = [_text_table(head, rows)]
        if any(leaf.by_truth for leaf in self.leaves):
            lines.append("yes*: as accurate as jax.grad in this precision, "
                         "against the float64 gradient")
        worst = max((leaf.leaf_rel for leaf in self.leaves), default=0.0)
        if self.passed:
            verdict = "PASS"
        else:
            verdict = f"FAIL ({len(self.failures)} of {len(self.leaves)} leaves)"
        lines.append(f"{verdict}: normwise {self.max_rel:.2e} (≤ {self.rtol:.0e}), own {worst:.2e} "
                     f"(≤ {self.leaf_rtol:.0e}, floor {self.floor:.0e}·max), {self.dtype}")
        return "\n".join(lines)


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

    Below float64, a leaf out of tolerance is judged against the float64 gradient too (see
    :func:`compare`). Raises ``ValueError`` when the result's structure or a leaf's shape differs.

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
    if not report.passed and jnp.finfo(report.dtype).bits < 64:
        with jax.enable_x64(True):
            wide = jax.tree.map(_float64, (params, xp, tp))
            truth = jax.device_get(reference_grads(*args, *wide, l2, l1))
        report = _report(got, want, rtol, truth)
    return report


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
        return grad_fn(p, x, t), jax.grad(objective, argnums=3)(model, loss, reduction, p, x, t)

    return check_close(name, f"= jax.grad, {jnp.result_type(x)}", *jax.jit(both)(params, x, t))


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


def table(checks: list[Check]) -> str:
    """The checks as a text table: check, compared with, max rel. error, ok.

    >>> print(table([Check("deck 002 μ", "deck: 0.4", 0.0, True)]))
    check       compared with  max rel. error  ok
    ----------  -------------  --------------  ---
    deck 002 μ  deck: 0.4      0.00e+00        yes
    """
    rows = [(c.name, c.what, f"{c.max_rel:.2e}", "yes" if c.passed else "NO") for c in checks]
    return _text_table(("check", "compared with", "max rel. error", "ok"), rows)


def check_line(check: Check, width: int = 100) -> str:
    """One check as one line of at most ``width`` columns, printed as soon as the check finishes.

    >>> check_line(Check("deck 002 μ", "deck: 0.4", 0.0, True))
    'ok  0.0e+00  deck 002 μ  (deck: 0.4)'
    """
    line = f"{'ok' if check.passed else 'NO':<3} {check.max_rel:.1e}  {check.name}  ({check.what})"
    return line if len(line) <= width else line[:width - 1] + "…"


def _report(got, want, rtol=None, truth=None) -> GradientReport:
    """The one comparison of pytrees behind every check (a ``ValueError`` for other shapes)."""
    leaves = compare(got, want, rtol, truth=truth)
    dtype = jnp.result_type(*jax.tree.leaves(want))
    tol = tolerance(dtype, rtol)
    return GradientReport(leaves, tol.normwise, str(dtype), tol.leaf, tol.floor)


def _float64(a) -> jax.Array:
    return jnp.asarray(np.asarray(a), jnp.float64)


def _verdict(leaf: LeafError) -> str:
    if not leaf.passed:
        return "NO"
    return "yes*" if leaf.by_truth else "yes"


def _text_table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    rule = ("-" * w for w in widths)
    lines = [fmt.format(*head), fmt.format(*rule)] + [fmt.format(*r) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
