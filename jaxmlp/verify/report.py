"""What ``jaxmlp verify FILE`` prints: verdict, counterexample, first wrong δ, and ``--json``."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import jax
import numpy as np

from jaxmlp.check import GradientReport
from jaxmlp.core.activations import get_activation
from jaxmlp.tolerance import AS_ACCURATE, BOUND, PRECISION, tolerance
from jaxmlp.verify.problem import KINKED
from jaxmlp.verify.search import Outcome, Result
from jaxmlp.verify.userfile import Subject

__all__ = ["conventions", "failures", "lines", "summary"]


def lines(subject: Subject, result: Result, dtype) -> list[str]:
    """The text after the search.

    PASS in one line, or the counterexample and what is wrong; the verdict last.
    """
    tol = tolerance(dtype)
    what = "grads and deltas equal" if subject.deltas else "grads equals"
    found = result.counterexample
    if found is None:
        line = (f"PASS: {what} jax.grad on {result.tried} problems ({np.dtype(dtype).name}, "
                f"each leaf within {tol.leaf:.0e} of its size")
        if not result.explained:
            return [line + ")"]
        rules = ", ".join(f"{n} by {_PHRASE.get(rule, rule)}" for rule, n in result.explained)
        return [line + f"; problems where rounding explains a difference: {rules})"]
    out = [f"counterexample after {result.tried} problems, shrunk: {found.problem}"]
    if found.problem.kind == "sample":  # the user's pytrees, leaf by leaf
        out += [f"  {name} = {text}" for name, text in (*_leaves("x", found.x),
                                                         *_leaves("t", found.t))]
    else:
        out += [f"  {name}[:{found.problem.batch}] = {_rows(value)}"
                for name, value in (("x", found.x), ("t", found.t))]
    for name, leaves in (("grads", found.grads), ("deltas", found.deltas)):
        if leaves and not all(leaf.passed for leaf in leaves):
            shown = tuple(leaves)
            if name == "deltas":
                shown = tuple(dataclasses.replace(leaf, path=f"δ{leaf.path}") for leaf in leaves)
            report = GradientReport(shown, tol.normwise, np.dtype(dtype).name, tol.leaf, tol.floor)
            out += [f"{name} against jax.grad:", str(report)]
    layer = found.first_wrong_delta
    if layer is not None:
        if layer + 1 < len(found.deltas):
            above = f"layers {layer + 1}.. are right"
        else:
            above = "it is the output"
        out.append(f"δ of layer {layer} (params[{layer}]) is wrong; {above}; "
                   "layers below inherit the error")
    if any(not math.isfinite(leaf.max_abs) for leaf in found.grads + found.deltas):
        out.append("not finite (NaN or ±inf) where jax.grad is: "
                   "look for 0 × ∞, ∞ − ∞ or 0/0 at saturation")
    out.append(f"reproduce: {reproduce(subject.path, found, dtype)}")
    if result.kink_only:
        out.append("only at u = 0 exactly (all-zero inputs and biases) does it differ; "
                   "everywhere else it agrees: a difference of convention at the kink, "
                   "not of calculus.")
        out.append(f"jax.grad takes {conventions(subject)}; "
                   "use the forward's own comparison to match it.")
        return [*out, f"FAIL: {what.split()[0]} differs from jax.grad at u = 0 (convention): "
                      f"{_wrong(found)}"]
    return [*out, f"FAIL: {what.split()[0]} differs from jax.grad in {_wrong(found)}"]


#: how the PASS line names the rules of :func:`jaxmlp.tolerance.compare` that explained rounding
_PHRASE = {BOUND: "the rounding bound", PRECISION: "the change of precision",
           AS_ACCURATE: "jax.grad's own accuracy"}


def summary(
    subject: Subject | None, result: Result | None, dtype, error: str | None = None,
    suggestions=None,
) -> str:
    """The ``--json`` line.

    It holds passed, first_wrong_delta, failures, counterexample (and error, form, dtype).
    """
    found = result.counterexample if result else None
    record = {
        "passed": error is None and found is None,
        "first_wrong_delta": found.first_wrong_delta if found else None,
        "failures": failures(found) if found else [],
        "kink_only": bool(result and result.kink_only),
        "counterexample": None,
        "error": error,
        "form": subject.form if subject else None,
        "dtype": np.dtype(dtype).name,
        "problems": result.tried if result else 0,
        "explained_by_rounding": dict(result.explained) if result else {},
    }
    if suggestions is not None:  # asked for: best first, [] when passed or none found
        record["suggestions"] = [found.json() for found in suggestions]
    if found is not None:
        p = found.problem
        record["counterexample"] = {
            "batch": p.batch,
            "scale": p.scale,
            "kind": p.kind,
            "seed": p.seed,
            "x": _list(found.x),
            "t": _list(found.t),
            "reproduce": reproduce(subject.path, found, dtype),
        }
    return json.dumps(record, ensure_ascii=False)


def failures(found: Outcome) -> list[dict]:
    """``[{"leaf", "rel_error", "problem"}]``, one entry per wrong leaf.

    Each wrong leaf (``grads[0]['w']``, ``deltas[1]``), its own relative error (``null`` when not
    finite) and the problem's spec.
    """
    return [{"leaf": f"{name}{leaf.path}",
             "rel_error": leaf.leaf_rel if math.isfinite(leaf.leaf_rel) else None,
             "problem": found.problem.spec()}
            for name, leaves in (("grads", found.grads), ("deltas", found.deltas))
            for leaf in leaves if not leaf.passed]


def conventions(subject: Subject) -> str:
    """What ``jax.grad`` takes at ``u = 0`` for the model's kinked activations.

    For example ``relu′(0) = 0``.
    """
    if subject.model:
        names = [n for n in dict.fromkeys(subject.model.activations) if n in KINKED]
    else:
        names = []
    parts = []
    for name in names:
        act = get_activation(name)
        with jax.disable_jit():
            slope = jax.grad(lambda u, a=act: a.f(u, *([0.25] if a.parametric else [])))(0.0)
        parts.append(f"{name}′(0) = {float(slope):.6g}")
    return ", ".join(parts) or "the derivative of the forward's own branch at u = 0"


def reproduce(path: str, found: Outcome, dtype) -> str:
    """One shell line that replays the counterexample (for functions: how to get its arrays)."""
    if path.startswith("<"):
        return f"report.problem() gives its params, x and t ({found.problem.spec()})"
    return (f"python -c \"import jaxmlp.verify as v; v.replay({path!r}, {found.problem.spec()!r}, "
            f"dtype={np.dtype(dtype).name!r})\"")


def _wrong(found: Outcome) -> str:
    parts = [_layer(leaf.path) for leaf in found.grads if not leaf.passed]
    parts += [f"δ of layer {leaf.path.strip('[]')}" for leaf in found.deltas if not leaf.passed]
    return ", ".join(parts)


def _layer(path: str) -> str:
    found = re.fullmatch(r"\[(\d+)\]\[(.+)\]", path)  # "[0]['w']" -> "layer 0 'w'"
    return f"layer {found[1]} {found[2]}" if found else (path or "the gradient (one array)")


def _leaves(name: str, tree) -> list[tuple[str, str]]:
    """``(name with the leaf's path, its values)`` for each leaf of ``tree``; ``None`` as is."""
    if tree is None:
        return [(name, "None")]
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [(name + jax.tree_util.keystr(path), _rows(leaf)) for path, leaf in leaves]


def _rows(value) -> str:
    text = np.array2string(np.asarray(value), precision=4, max_line_width=90, threshold=20)
    return text.replace("\n", "")


def _list(tree):
    """A pytree of arrays as JSON-ready lists (tuples become lists, dicts stay dicts)."""
    return jax.tree.map(lambda a: np.asarray(a).tolist(), tree)
