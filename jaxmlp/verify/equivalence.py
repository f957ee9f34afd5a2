"""When a surviving mutant is equivalent: it computes what the original computes.

:func:`cases_of` draws problems of the search's region (every batch size, scale and kind, in
float64 and float32) with the original's outputs; :func:`differs` names one where a mutant's
output differs from the original's, or ``None``. Equal means bit for bit, or within 8 ulps of the
largest entry (a fixed rule, never the judge's, so a weakened judge still shows its gaps), or, in
the general form, within the rounding both sides were measured to have there
(:func:`jaxmlp.core.random_rounding.rounding_spread`).
"""

from __future__ import annotations

import jax
import numpy as np

from jaxmlp.core.random_rounding import rounding_spread
from jaxmlp.verify.derivation import DTYPES
from jaxmlp.verify.problem import Problem, draw, region
from jaxmlp.verify.search import NOISE_MARGIN
from jaxmlp.verify.userfile import Subject, one_line

__all__ = ["cases_of", "differs"]


def cases_of(original: Subject, count: int) -> dict:
    """Per precision, ``count`` problems of the search's region (every batch size, scale and
    kind in turn), drawn, with the original's outputs on them."""
    batches, scales, kinds = region(original)
    grid = [(batch, scale, kind) for kind in kinds for scale in scales for batch in batches]
    cases = {}
    for dtype in DTYPES:
        with jax.enable_x64(np.dtype(dtype).itemsize >= 8):
            drawn = [(Problem(i, *grid[i % len(grid)]), np.dtype(dtype)) for i in range(count)]
            drawn = [(problem, draw(original, problem, precision)) for problem, precision in drawn]
            cases[dtype] = [(p, args, _outputs(original, *args)) for p, args in drawn]
    return cases


def differs(mutant: Subject, cases: dict, original: Subject | None = None) -> str | None:
    """A problem (and precision) of ``cases`` where the mutant's output differs from the
    original's in any bit, or ``None`` when it equals it on all of them."""
    for dtype, problems in cases.items():
        with jax.enable_x64(np.dtype(dtype).itemsize >= 8):
            for problem, args, want in problems:
                try:
                    got = _outputs(mutant, *args)
                except Exception as error:  # a survivor that breaks elsewhere differs
                    return f"{problem}, {dtype}: raised {one_line(error, 80)}"
                if not (_same_bits(got, want) or _within_tolerance(got, want)
                        or _within_rounding(mutant, original, args, got, want)):
                    return f"{problem}, {dtype}"
    return None


def _outputs(subject: Subject, params, x, t):
    deltas = None if subject.deltas is None else subject.deltas(params, x, t)
    return jax.device_get((subject.grads(params, x, t), deltas))


def _same_bits(got, want) -> bool:
    got_leaves, got_tree = jax.tree.flatten(got)
    want_leaves, want_tree = jax.tree.flatten(want)
    if got_tree != want_tree:
        return False
    pairs = ((np.asarray(g), np.asarray(w)) for g, w in zip(got_leaves, want_leaves))
    return all(g.dtype == w.dtype and g.shape == w.shape and g.tobytes() == w.tobytes()
               for g, w in pairs)


def _within_tolerance(got, want) -> bool:
    """Whether ``got`` equals ``want`` to a few ulps of the largest entry, whole pytree (a fixed
    rule, not the judge's: a weakened judge must not make a gap look equivalent)."""
    pairs = _pairs(got, want)
    if pairs is None:
        return False
    scale = max((float(np.max(np.abs(w))) for _, w in pairs if w.size), default=0.0)
    return all(np.all(np.abs(g.astype(np.float64) - w) <= 8 * np.finfo(w.dtype).eps * scale)
               for g, w in pairs)


def _within_rounding(mutant, original, args, got, want) -> bool:
    """Whether the general form's mutant and original differ, entry by entry, by no more than
    the rounding both were measured to have here
    (:func:`jaxmlp.core.random_rounding.rounding_spread`): a term that is zero in exact
    arithmetic, dropped where the gradient itself is rounding noise."""
    if original is None or original.model is not None:
        return False
    try:
        spreads = [rounding_spread(s.grads, *args) for s in (mutant, original)]
    except Exception:  # not traceable: no evidence
        return False
    noise = jax.tree.leaves(jax.tree.map(lambda a, b: NOISE_MARGIN * (a + b), *spreads))
    pairs = _pairs(got[0], want[0])
    if pairs is None or len(noise) != len(pairs):
        return False
    return all(np.all(np.abs(g.astype(np.float64) - w) <= np.asarray(n))
               for (g, w), n in zip(pairs, noise))


def _pairs(got, want):
    """The leaves of two pytrees as float arrays side by side; ``None`` if they differ in form."""
    got_leaves, got_tree = jax.tree.flatten(got)
    want_leaves, want_tree = jax.tree.flatten(want)
    if got_tree != want_tree:
        return None
    pairs = [(np.asarray(g), np.asarray(w)) for g, w in zip(got_leaves, want_leaves)]
    if any(g.shape != w.shape or w.dtype.kind != "f" for g, w in pairs):
        return None
    return pairs
