"""Compare any gradient (or δ, or worked number) with its reference, leaf by leaf and normwise.

Two errors judge a pytree ``got`` against ``want`` (``S = max |want|`` over the whole pytree):

* normwise: ``max |got − want| / S`` over the whole pytree, at most ``rtol``;
* per leaf: ``max |got_i − want_i| / max(max |want_i|, floor · S)`` for each leaf ``i``, at most
  ``leaf_rtol``. The floor ties a leaf of near-zero gradient to the whole gradient's scale, so
  that it is not judged by rounding noise; every other leaf is judged by its own size, so that a
  0.2 % error in any one leaf of at least ``floor · S`` fails (``leaf_rtol < 2e-3``).

The tolerances by precision (:data:`TOLERANCES`) come from measurements, not from taste. float32:
``jax.grad`` and :func:`jaxmlp.backprop` in float32 against ``jax.grad`` in float64 on 150 random
networks of ``tests/test_backprop.py``'s grid (depth 1-5, widths 1-64, every activation, loss,
reduction and penalty, batches 1-128, inputs N(0, 0.5²) or N(0, 2²); 925 leaves). Hand float32
against ``jax.grad`` float32, per leaf with floor 1e-3: median 2.6e-8, 99.9 % 3.9e-6, max 1.6e-5; hence
``leaf_rtol`` 1e-4 (6× the worst). ``jax.grad`` float32 against float64 itself reached 1.1e-3 on
ill-conditioned draws (a saturated softmax under sse). So in float32 a leaf that misses its
tolerance still passes when it is as accurate as ``jax.grad``: its error against the float64 truth
at most twice ``jax.grad``'s plus ``leaf_rtol`` (the ``truth`` argument of :func:`compare`).
float64: hand against ``jax.grad`` on 60 networks of the same grid, per leaf even with floor 1e-8:
median 1.2e-16, max 1.4e-15; ``leaf_rtol`` 1e-8 leaves room for a derivation that rounds in another
order, floor 1e-5 for a near-zero leaf computed as a difference, and still fails a leaf off by 1e-6.
How: draw each network as ``tests/test_backprop.py``'s ``problem`` does, in float64; cast it to
float32; compare ``jax.jit(jax.grad(objective))`` and ``jax.jit(loss_and_grads)`` leaf by leaf.
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

__all__ = ["TOLERANCES", "Check", "GradientReport", "LeafError", "Tolerance", "check_close",
           "check_gradients", "check_grads", "check_line", "check_number", "compare", "default_rtol",
           "reference_grads", "table", "tolerance"]


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """``normwise`` and ``leaf`` relative tolerances, and the per-leaf ``floor`` (a fraction of ``S``)."""

    normwise: float
    leaf: float
    floor: float


#: by the bits of the float type: 64, 32 and 16 (measured; see the module docstring)
TOLERANCES = {64: Tolerance(1e-10, 1e-8, 1e-5), 32: Tolerance(1e-5, 1e-4, 1e-3),
              16: Tolerance(1e-2, 1e-1, 1e-1)}


@dataclasses.dataclass(frozen=True)
class Check:
    """One verified claim: its ``name``, ``what`` it was compared with, the worst error and the verdict."""

    name: str
    what: str
    max_rel: float
    passed: bool


@dataclasses.dataclass(frozen=True)
class LeafError:
    """One leaf against its reference: normwise ``rel``, its own ``leaf_rel``, the verdict, and
    ``by_truth`` when it passed only as accurate as ``jax.grad`` against float64."""

    path: str
    shape: tuple[int, ...]
    max_ref: float
    max_abs: float
    rel: float
    passed: bool
    leaf_rel: float = 0.0
    by_truth: bool = False


@dataclasses.dataclass(frozen=True)
class GradientReport:
    """The result of :func:`check_gradients`; ``str(report)`` is a table, ``report.passed`` the verdict."""

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

    def __str__(self) -> str:
        rows = [(leaf.path, str(leaf.shape), f"{leaf.max_ref:.3e}", f"{leaf.max_abs:.3e}", f"{leaf.rel:.2e}",
                 f"{leaf.leaf_rel:.2e}", ("yes*" if leaf.by_truth else "yes") if leaf.passed else "NO")
                for leaf in self.leaves]
        lines = [_text_table(("leaf", "shape", "max |jax.grad|", "max |Δ|", "normwise", "own", "ok"), rows)]
        if any(leaf.by_truth for leaf in self.leaves):
            lines.append("yes*: as accurate as jax.grad in this precision, against the float64 gradient")
        worst = max((leaf.leaf_rel for leaf in self.leaves), default=0.0)
        verdict = "PASS" if self.passed else f"FAIL ({len(self.failures)} of {len(self.leaves)} leaves)"
        lines.append(f"{verdict}: normwise {self.max_rel:.2e} (≤ {self.rtol:.0e}), own {worst:.2e} "
                     f"(≤ {self.leaf_rtol:.0e}, floor {self.floor:.0e}·max), {self.dtype}")
        return "\n".join(lines)


def default_rtol(dtype) -> float:
    """The normwise tolerance: ``1e-10`` for float64, ``1e-5`` for float32, ``1e-2`` for 16-bit floats."""
    return tolerance(dtype).normwise


def tolerance(dtype, rtol: float | None = None) -> Tolerance:
    """The :class:`Tolerance` of ``dtype``; an explicit ``rtol`` sets the normwise one (the leaf one ≥ it).

    >>> tolerance(jnp.float32)
    Tolerance(normwise=1e-05, leaf=0.0001, floor=0.001)
    """
    bits = jnp.finfo(dtype).bits
    base = TOLERANCES[64 if bits >= 64 else 32 if bits >= 32 else 16]
    return base if rtol is None else Tolerance(float(rtol), max(float(rtol), base.leaf), base.floor)


def compare(got, want, rtol: float | None = None, *, truth=None) -> tuple[LeafError, ...]:
    """Judge pytree ``got`` against ``want`` leaf by leaf (normwise and per leaf, see the module docstring).

    Arguments:
        got, want: pytrees of arrays of the same structure and shapes (``want`` sets the dtype).
        rtol: the normwise tolerance (default by dtype, :func:`tolerance`).
        truth: optionally ``want`` computed in float64: a leaf out of tolerance still passes when
            ``max |got − truth| ≤ 2 max |want − truth| + leaf_rtol · max(max |truth|, floor · S)``.

    Raises ``ValueError`` naming the leaf when the structures or shapes differ. A non-finite entry
    in ``got`` where ``want`` is finite makes that leaf's error infinite.

    >>> [leaf.passed for leaf in compare([1.0, 1.002], [1.0, 1.0])]
    [True, False]
    """
    got_leaves, got_tree = jax.tree_util.tree_flatten_with_path(got)
    want_leaves, want_tree = jax.tree_util.tree_flatten_with_path(want)
    if got_tree != want_tree:
        raise ValueError(f"got: a pytree of structure {got_tree}, expected {want_tree}")
    wants = [np.asarray(w) for _, w in want_leaves]
    tol = tolerance(np.result_type(*wants) if wants else np.float64, rtol)
    scale = max((_max_abs(w) for w in wants), default=0.0) or 1.0
    truths = [None] * len(wants) if truth is None else [np.asarray(v, np.float64)
                                                        for v in jax.tree.leaves(truth)]
    rows = []
    for (path, g), w, true in zip(got_leaves, wants, truths):
        name = jax.tree_util.keystr(path)
        if np.shape(g) != w.shape:
            raise ValueError(f"got: leaf {name} has shape {np.shape(g)}, expected {w.shape}")
        g, w = np.asarray(g, np.float64), w.astype(np.float64)
        max_abs = _max_abs(g - w) if np.isfinite(g).all() else math.inf
        max_abs = math.inf if math.isnan(max_abs) else max_abs  # a non-finite reference
        den = max(_max_abs(w), tol.floor * scale)
        rel, leaf_rel = max_abs / scale, max_abs / den
        passed, by_truth = rel <= tol.normwise and leaf_rel <= tol.leaf, False
        if not passed and true is not None and math.isfinite(max_abs):
            by_truth = _max_abs(g - true) <= 2 * _max_abs(w - true) + tol.leaf * den
            passed = by_truth
        rows.append(LeafError(name, tuple(w.shape), _max_abs(w), max_abs, rel, passed, leaf_rel, by_truth))
    return tuple(rows)


def check_gradients(
    grad_fn: Callable[[Params, jax.Array, jax.Array], Params], model: MLP, params: Params,
    x: jax.Array, t: jax.Array, loss: str = "categorical_crossentropy", reduction: str = "mean",
    l2: float = 0.0, l1: float = 0.0, rtol: float | None = None,
) -> GradientReport:
    """Compare ``grad_fn(params, x, t)`` with ``jax.grad`` of :func:`jaxmlp.loss`, per leaf and normwise.

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
    >>> check_gradients(lambda p, x, t: jaxmlp.backprop(model, p, x, t), model, params, x, t).passed
    True
    """
    xp, tp = prepare(model, params, x, t, loss, reduction, l2, l1)  # clear errors before anything else
    args = (model, loss, reduction)
    want = jax.device_get(reference_grads(*args, params, xp, tp, l2, l1))
    got = grad_fn(params, x, t)
    try:
        leaves = compare(got, want, rtol)
    except ValueError as error:
        raise ValueError(f"grad_fn: returned {str(error).removeprefix('got: ')} "
                         "(a list with one dict per layer, keys as in params)") from None
    dtype = jnp.result_type(*jax.tree.leaves(want))
    if not all(leaf.passed for leaf in leaves) and jnp.finfo(dtype).bits < 64:
        with jax.enable_x64(True):
            wide = jax.tree.map(lambda a: jnp.asarray(np.asarray(a), jnp.float64), (params, xp, tp))
            truth = jax.device_get(reference_grads(*args, *wide, l2, l1))
        leaves = compare(got, want, rtol, truth=truth)
    tol = tolerance(dtype, rtol)
    return GradientReport(leaves, tol.normwise, str(dtype), tol.leaf, tol.floor)


def reference_grads(model: MLP, loss: str, reduction: str, params: Params, x, t, l2=0.0, l1=0.0) -> Params:
    """``jax.grad`` of the objective (:func:`jaxmlp.loss` without argument checks; ``x (B, n_in)`` and
    ``t (B, n_out)`` prepared): the reference of every check. Jitted, unless under ``jax.disable_jit()``."""
    return _grad(model, loss, reduction, params, x, t, l2, l1)


def check_grads(name: str, grad_fn: Callable, model: MLP, params, x, t, loss: str = "sse",
                reduction: str = "sum") -> Check:
    """``grad_fn(params, x, t)`` against ``jax.grad`` of :func:`jaxmlp.loss`, compiled together.

    The comparison of :func:`check_gradients` for a traceable ``grad_fn`` with prepared ``x (B, n_in)``,
    ``t (B, n_out)``, in one compilation instead of two.
    """
    def both(p, x, t):
        return grad_fn(p, x, t), jax.grad(objective, argnums=3)(model, loss, reduction, p, x, t)

    return check_close(name, f"= jax.grad, {jnp.result_type(x)}", *jax.jit(both)(params, x, t))


def check_close(name: str, what: str, got, want, rtol: float | None = None) -> Check:
    """Compare two pytrees with :func:`compare`; ``max_rel`` is the worst per-leaf error.

    >>> check_close("w", "= w", [{"w": [1.0, 2.0]}], [{"w": [1.0, 2.0]}]).passed
    True
    """
    try:
        leaves = compare(got, want, rtol)
    except ValueError:
        return Check(name, f"{what} (structure or shapes differ)", math.inf, False)
    worst = max((leaf.leaf_rel for leaf in leaves), default=0.0)
    return Check(name, what, worst, all(leaf.passed for leaf in leaves))


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


def _text_table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _max_abs(a) -> float:
    return float(np.max(np.abs(a))) if np.size(a) else 0.0


_grad = jax.jit(jax.grad(objective, argnums=3), static_argnums=(0, 1, 2))
