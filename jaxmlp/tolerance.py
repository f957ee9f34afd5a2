"""The one judge of every check: how close is close enough, and when rounding explains the rest.

:func:`compare` judges a pytree against its reference leaf by leaf. A leaf within the measured
tolerances below passes; a leaf beyond them is called wrong only when rounding cannot explain its
error: it exceeds the rounding bound of a right δ rule at this point
(:mod:`jaxmlp.core.rounding`), it does not shrink when the same functions run in the other
precision, and (float32) it is less accurate than ``jax.grad`` against float64. ``jaxmlp
verify``, :func:`jaxmlp.check_gradients`, the lecture derivations' checks and the test suite
judge with it; each leaf records the rule that judged it.

Two errors judge a pytree ``got`` against ``want`` (``S = max |want|`` over the whole pytree):

* normwise: ``max |got − want| / S`` over the whole pytree, at most ``rtol``;
* per leaf: ``max |got_i − want_i| / max(max |want_i|, floor · S)`` for each leaf ``i``, at most
  ``leaf_rtol``. The floor ties a leaf of near-zero gradient to the whole gradient's scale, so
  that it is not judged by rounding noise; every other leaf is judged by its own size, so that a
  0.2 % error in any one leaf of at least ``floor · S`` fails (``leaf_rtol < 2e-3``).

The tolerances by precision (:data:`TOLERANCES`) come from measurements, not from taste.

float32: ``jax.grad`` and :func:`jaxmlp.backprop` in float32 against ``jax.grad`` in float64 on
150 random networks of ``tests/test_backprop.py``'s grid (depth 1-5, widths 1-64, every
activation, loss, reduction and penalty, batches 1-128, inputs N(0, 0.5²) or N(0, 2²); 925
leaves). Hand float32 against ``jax.grad`` float32, per leaf with floor 1e-3: median 2.6e-8,
99.9 % 3.9e-6, max 1.6e-5; hence ``leaf_rtol`` 1e-4 (6× the worst). ``jax.grad`` float32 against
float64 itself reached 1.1e-3 on ill-conditioned draws (a saturated softmax under sse). So in
float32 a leaf that misses its tolerance still passes when it is as accurate as ``jax.grad``: its
error against the float64 truth at most twice ``jax.grad``'s plus ``leaf_rtol`` (the ``truth``
argument of :func:`compare`).

float64: hand against ``jax.grad`` on 60 networks of the same grid, per leaf even with floor
1e-8: median 1.2e-16, max 1.4e-15; ``leaf_rtol`` 1e-8 leaves room for a derivation that rounds in
another order, floor 1e-5 for a near-zero leaf computed as a difference, and still fails a leaf
off by 1e-6.

How: draw each network as ``tests/test_backprop.py``'s ``problem`` does, in float64; cast it to
float32; compare ``jax.jit(jax.grad(objective))`` and ``jax.jit(loss_and_grads)`` leaf by leaf.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["RULES", "SHRINK", "TOLERANCES", "LeafError", "Tolerance", "compare", "tolerance"]


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """``normwise`` and ``leaf`` relative tolerances, and the per-leaf ``floor`` (a part of S)."""

    normwise: float
    leaf: float
    floor: float


#: by the bits of the float type: 64, 32 and 16 (measured; see the module docstring)
TOLERANCES = {
    64: Tolerance(1e-10, 1e-8, 1e-5),
    32: Tolerance(1e-5, 1e-4, 1e-3),
    16: Tolerance(1e-2, 1e-1, 1e-1),
}


@dataclasses.dataclass(frozen=True)
class LeafError:
    """One leaf against its reference.

    Its normwise ``rel``, its own ``leaf_rel``, the verdict, and the ``rule`` that gave it (one of
    :data:`RULES`): a leaf passes within the tolerance, or when rounding explains its error.
    """

    path: str
    shape: tuple[int, ...]
    max_ref: float
    max_abs: float
    rel: float
    passed: bool
    leaf_rel: float = 0.0
    rule: str = "tolerance"

    @property
    def by_truth(self) -> bool:
        """Whether it passed only by being as accurate as ``jax.grad`` against float64."""
        return self.rule == AS_ACCURATE


#: the rules of :func:`compare`: five that pass a leaf, two that fail it
TOLERANCE, BOUND, NOISE, PRECISION, AS_ACCURATE = (
    "tolerance", "rounding bound", "rounding noise", "precision", "as accurate as jax.grad")
NOT_FINITE, BEYOND = "not finite", "not rounding"
RULES = (TOLERANCE, BOUND, NOISE, PRECISION, AS_ACCURATE, NOT_FINITE, BEYOND)
#: rounding shrinks this many times at least from float32 to float64 (2⁻²⁹ in theory, 600× where
#: float32 lost every digit and float64 three); a mathematical error stays the same size
SHRINK = 16


def tolerance(dtype, rtol: float | None = None) -> Tolerance:
    """The :class:`Tolerance` of ``dtype``.

    An explicit ``rtol`` sets the normwise one (and the leaf one is at least ``rtol``).

    >>> tolerance(jnp.float32)
    Tolerance(normwise=1e-05, leaf=0.0001, floor=0.001)
    """
    bits = jnp.finfo(dtype).bits
    base = TOLERANCES[64 if bits >= 64 else 32 if bits >= 32 else 16]
    if rtol is None:
        return base
    return Tolerance(float(rtol), max(float(rtol), base.leaf), base.floor)


def compare(got, want, rtol: float | None = None, *, truth=None, bound=None, noise=None,
            other=None) -> tuple[LeafError, ...]:
    """Judge pytree ``got`` against ``want`` leaf by leaf: the one judge of every check.

    A leaf passes by the first of these rules that holds (its ``rule`` says which):

    1. ``tolerance``: both errors of the module docstring within the tolerances of ``want``'s dtype.
    2. ``rounding bound``: ``|got − want| ≤ bound`` entry by entry, for ``bound`` an upper bound on
       the rounding of a right computation (:func:`jaxmlp.core.rounding.rounding_bound`).
    3. ``rounding noise``: ``|got − want| ≤ noise`` entry by entry, for ``noise`` the rounding
       both sides were measured to have at this point
       (:func:`jaxmlp.core.random_rounding.rounding_spread`, times a margin): the evidence for a
       function that has no bound.
    4. ``precision``: ``other = (got′, want′)`` or ``(got′, want′, bound′)``, the same computed
       in the other precision.
       For a float32 leaf the float64 evaluation decides (it comes first, and a leaf it does not
       explain fails): in float64 the leaf is within float64's tolerances or within ``bound``
       scaled to float64's roundoff. For a float64 leaf the discrepancy in float64 is at least
       :data:`SHRINK` times smaller than in float32. Rounding shrinks with the precision; a
       mathematical error does not.
    5. ``as accurate as jax.grad``: ``truth``, ``want`` computed in float64, and
       ``max |got − truth| ≤ 2 max |want − truth| + leaf_rtol · max(max |truth|, floor · S)``.

    Otherwise it fails: ``not finite`` (a NaN or ±inf where ``want`` is finite) or ``not rounding``.

    Arguments:
        got, want: pytrees of arrays of the same structure and shapes (``want`` sets the dtype).
        rtol: the normwise tolerance (default by dtype, :func:`tolerance`).
        truth, bound, noise, other: the evidence of rules 2-5 (each optional, shaped like
            ``want``; ``other``'s bound′ may be a measured noise′).

    Raises ``ValueError`` naming the leaf when the structures or shapes differ.

    >>> [leaf.passed for leaf in compare([1.0, 1.002], [1.0, 1.0])]
    [True, False]
    >>> compare([1.002], [1.0], bound=[0.01])[0].rule
    'rounding bound'
    """
    got_leaves, got_tree = jax.tree_util.tree_flatten_with_path(got)
    want_leaves, want_tree = jax.tree_util.tree_flatten_with_path(want)
    if got_tree != want_tree:
        raise ValueError(f"got: a pytree of structure {got_tree}, expected {want_tree}")
    wants = [np.asarray(w) for _, w in want_leaves]
    dtype = np.result_type(*wants) if wants else np.float64
    tol = tolerance(dtype, rtol)
    scale = max((_max_abs(w) for w in wants), default=0.0) or 1.0
    count = len(wants)
    truths = _leaves(truth, count)
    bounds = _leaves(bound, count)
    noises = _leaves(noise, count)
    others = [None] * count
    if other is not None:  # (got′, want′) or (got′, want′, bound′)
        bound_there = other[2] if len(other) > 2 else None
        others = list(zip(_leaves(other[0], count, raw=True), _leaves(other[1], count, raw=True),
                          _leaves(bound_there, count)))
    other_scale = max((_max_abs(np.asarray(o[1], np.float64)) for o in others if o is not None),
                      default=0.0) if other is not None else 0.0
    rows = []
    for (path, g), w, true, limit, spread, pair in zip(got_leaves, wants, truths, bounds, noises,
                                                       others):
        name = jax.tree_util.keystr(path)
        if np.shape(g) != w.shape:
            raise ValueError(f"got: leaf {name} has shape {np.shape(g)}, expected {w.shape}")
        g_in = np.asarray(g)
        g = np.asarray(g, np.float64)
        w = w.astype(np.float64)
        error = _max_abs(g - w) if np.isfinite(g).all() else math.inf
        error = math.inf if math.isnan(error) else error  # a non-finite reference
        den = max(_max_abs(w), tol.floor * scale)
        rel = error / scale
        leaf_rel = error / den
        if rel <= tol.normwise and leaf_rel <= tol.leaf:
            rule = TOLERANCE
        elif not math.isfinite(error):
            rule = NOT_FINITE
        elif pair is not None and _bits(pair[0]) > _bits(g_in):  # the float64 evaluation decides
            rule = PRECISION if _right_in(pair, limit, dtype, other_scale) else BEYOND
        elif limit is not None and np.all(np.abs(g - w) <= _finite(limit)):
            rule = BOUND
        elif spread is not None and np.all(np.abs(g - w) <= _finite(spread)):
            rule = NOISE
        elif pair is not None and _shrinks(g - w, pair[:2], dtype):
            rule = PRECISION
        elif true is not None and _max_abs(g - true) <= 2 * _max_abs(w - true) + tol.leaf * den:
            rule = AS_ACCURATE
        else:
            rule = BEYOND
        passed = rule not in (NOT_FINITE, BEYOND)
        shape = tuple(w.shape)
        rows.append(LeafError(name, shape, _max_abs(w), error, rel, passed, leaf_rel, rule))
    return tuple(rows)


def _right_in(pair, limit, dtype, scale: float) -> bool:
    """Whether the float64 evaluation ``pair = (got, want, bound)`` of a float32 leaf agrees:
    within the float64 tolerances, or within its float64 rounding bound (else ``limit``, the
    float32 one, scaled to float64's roundoff)."""
    got, want = (np.asarray(a, np.float64) for a in pair[:2])
    error = _max_abs(got - want)
    if not math.isfinite(error):
        return False
    tol = TOLERANCES[64]
    scale = scale or 1.0
    if error / scale <= tol.normwise and error / max(_max_abs(want), tol.floor * scale) <= tol.leaf:
        return True
    if pair[2] is not None:
        return bool(np.all(np.abs(got - want) <= _finite(pair[2])))
    if limit is None:
        return False
    shrink = np.finfo(np.float64).eps / np.finfo(dtype).eps
    return bool(np.all(np.abs(got - want) <= shrink * _finite(limit)))


def _finite(limit):
    """A bound with its non-finite entries at 0: an infinite bound explains nothing."""
    return np.where(np.isfinite(limit), limit, 0.0)


def _bits(a) -> int:
    return np.dtype(np.asarray(a).dtype).itemsize * 8


def _shrinks(difference, pair, dtype) -> bool:
    """Whether ``difference`` (in ``dtype``) and the other precision's are those of rounding:
    the float64 one at least :data:`SHRINK` times smaller than the float32 one."""
    got, want = (np.asarray(a) for a in pair)
    if np.dtype(got.dtype).itemsize == np.dtype(dtype).itemsize:
        return False  # the other evaluation kept this precision: no evidence
    there = _max_abs(got.astype(np.float64) - want.astype(np.float64))
    here = _max_abs(difference)
    if not (math.isfinite(there) and math.isfinite(here)):
        return False
    high, low = (here, there) if np.dtype(dtype).itemsize >= 8 else (there, here)
    return SHRINK * high <= low


def _leaves(tree, count: int, raw: bool = False) -> list:
    if tree is None:
        return [None] * count
    leaves = [np.asarray(v) if raw else np.asarray(v, np.float64) for v in jax.tree.leaves(tree)]
    if len(leaves) != count:
        raise ValueError(f"evidence: expected {count} leaves, got {len(leaves)}")
    return leaves


def _max_abs(a) -> float:
    return float(np.max(np.abs(a))) if np.size(a) else 0.0
