"""``jaxmlp verify``: the lectures' derivations, jaxmlp's backprop, or yours, against jax.grad.

``run()`` checks every transcription in :mod:`jaxmlp.derivations` (decks 000-004: the worked
numbers and each hand derivation), then jaxmlp's own backprop over random networks (every
activation as a hidden layer, every output activation × loss pair, both reductions, float64 and
float32), printing each check as it finishes.

``run("FILE.py")`` is the derivation debugger: it reads the file's MLP form or general form
(:mod:`jaxmlp.verify.userfile`), searches for a problem where its gradient differs from
``jax.grad`` (:mod:`jaxmlp.verify.search`), and prints the shrunk counterexample, the first wrong
δ (when the file defines ``deltas``), the wrong leaves and one line to reproduce it
(:mod:`jaxmlp.verify.report`). ``derivation(grads, model=..., loss=..., deltas=...)`` (or
``objective=``, ``sample=``) is the same search on functions, from Python: it returns a
:class:`Report` (:mod:`jaxmlp.verify.derivation`), and the file path is a thin reader over it.
Comparisons are those of :mod:`jaxmlp.check`, per leaf and normwise.
Exit status: 0 when everything passes, 1 when a derivation is wrong, 2 when a file cannot be used.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Iterator
from json import dumps

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.check import (
    Check,
    check_close,
    check_grads,
    check_line,
    check_number,
    reference_grads,
    table,
)
from jaxmlp.core.activations import LECTURE
from jaxmlp.core.backprop import backprop
from jaxmlp.core.losses import REDUCTIONS
from jaxmlp.core.model import MLP
from jaxmlp.core.random_problem import random_problem
from jaxmlp.verify import report
from jaxmlp.verify.derivation import EXAMPLES, Report, derivation
from jaxmlp.verify.derivation import check as check_subject
from jaxmlp.verify.problem import Problem
from jaxmlp.verify.search import Result, evaluate
from jaxmlp.verify.userfile import BadFileError, one_line, read

__all__ = [
    "ACTIVATIONS",
    "EXAMPLES",
    "PAIRS",
    "Check",
    "Report",
    "check_close",
    "check_grads",
    "check_number",
    "derivation",
    "derivation_checks",
    "library_checks",
    "random_problem",
    "replay",
    "run",
    "table",
    "verify_file",
]

#: the built-in activations (deck 002's list), each checked as a hidden layer
ACTIVATIONS = LECTURE
#: (output activation, loss): the squared errors after every activation, the cross-entropies
#: after the activations that give probabilities
PAIRS = (
    *((f, loss) for loss in ("sse", "mse") for f in ACTIVATIONS),
    ("sigmoid", "binary_crossentropy"), ("softmax", "binary_crossentropy"),
    ("softmax", "categorical_crossentropy"), ("sigmoid", "categorical_crossentropy"),
)
WIDTH = 100     #: columns of the lines ``jaxmlp verify`` prints


def run(path: str | None = None, *, seed: int = 0, out: Callable[[str], object] = print,
        examples: int = EXAMPLES, dtype: str = "float64", json: bool = False,
        suggest: bool = False) -> int:
    """Verify the derivations and the library (no ``path``) or the user file at ``path``.

    Returns the exit status. ``examples``, ``dtype`` (``"float64"`` or ``"float32"``) and
    ``suggest`` (the single edits that make a wrong file pass, :mod:`jaxmlp.verify.suggest`) apply
    to a file; with ``json`` the last line printed is one JSON object (see
    :func:`jaxmlp.verify.report.summary`).

    >>> run("no/such/file.py", out=print)
    jaxmlp: error: no/such/file.py: no such file
    2
    """
    if path is not None:
        return verify_file(path, seed=seed, out=out, examples=examples, dtype=dtype, json=json,
                           suggest=suggest)
    start = time.perf_counter()
    out(f"jaxmlp verify (seed {seed}): the lecture derivations, "
        "then jaxmlp.backprop against jax.grad")
    failed, count = [], 0
    for check in _all_checks(seed, out):
        out(check_line(check, WIDTH))
        count += 1
        failed += [] if check.passed else [check]
    seconds = time.perf_counter() - start
    verdict = "FAIL" if failed else "PASS"
    out(f"{verdict}: {count - len(failed)}/{count} checks passed in {seconds:.1f} s")
    if json:
        wrong = [{"leaf": c.name,
                  "rel_error": c.max_rel if math.isfinite(c.max_rel) else None,
                  "problem": c.what}
                 for c in failed]
        summary = {"passed": not failed, "first_wrong_delta": None, "failures": wrong,
                   "counterexample": None}
        out(dumps(summary, ensure_ascii=False))
    return 1 if failed else 0


def verify_file(path: str, *, seed: int = 0, out: Callable[[str], object] = print,
                examples: int = EXAMPLES, dtype: str = "float64", json: bool = False,
                suggest: bool = False) -> int:
    """Search for a problem where the file's ``grads`` (or ``deltas``) differs from ``jax.grad``.

    A thin reader over :func:`derivation`'s search: the file gives the same names as arguments.
    Returns 0 (correct), 1 (wrong: the report names the first wrong δ or the leaves) or 2
    (unusable).
    """
    subject = None
    try:
        subject = read(path)
        if subject.model:
            where = "batch 1-5, 1-100×, u = 0, clip bounds"
        else:
            chosen = {"rows": "rows 1-5", "scale": "scale 1-100×"}
            where = ", ".join(chosen[name] for name in subject.sample_takes) or "as sample draws"
        out(f"jaxmlp verify {path}\n  {subject.describe()}\n"
            f"  search: {np.dtype(dtype).name}, seed {seed}, "
            f"fixed probes, then {examples} drawn problems ({where})")
        verdict = check_subject(subject, examples=examples, seed=seed, dtype=dtype,
                                suggest=suggest)
    except BadFileError as error:
        out(f"jaxmlp: error: {error}")
        if json:
            out(report.summary(subject, None, np.dtype(dtype), str(error)))
        return 2
    for line in verdict.lines():
        out(line)
    if json:
        out(verdict.json())
    return 0 if verdict.passed else 1


def replay(path: str, spec: str, *, dtype: str = "float64",
           out: Callable[[str], object] = print) -> int:
    """Judge the file on the one problem ``spec`` (as a counterexample prints it).

    Returns the exit status.
    """
    dtype = np.dtype(dtype)
    try:
        subject = read(path)
        with jax.enable_x64(dtype.itemsize >= 8):
            outcome = evaluate(subject, Problem.parse(spec), dtype)
    except BadFileError as error:
        out(f"jaxmlp: error: {error}")
        return 2
    result = Result(outcome if outcome.failed else None, False, 1)
    for line in report.lines(subject, result, dtype):
        out(line)
    return 1 if outcome.failed else 0


def derivation_checks(seed: int = 0, out: Callable[[str], object] = print) -> list[Check]:
    """Every deck's ``checks(seed)`` from :mod:`jaxmlp.derivations`, in float64."""
    return list(_derivation_checks(seed, out))


def library_checks(seed: int = 0, dtype=jnp.float32) -> list[Check]:
    """``jaxmlp.backprop`` against ``jax.grad`` for every hidden activation, output × loss pair
    and reduction.

    One row per loss, plus a row for each failing network. Call float64 under x64.
    """
    return list(_library_checks(seed, dtype))


def _all_checks(seed, out) -> Iterator[Check]:
    yield from _derivation_checks(seed, out)
    with jax.enable_x64(True):
        yield from _library_checks(seed, jnp.float64)
    yield from _library_checks(seed, jnp.float32)


def _derivation_checks(seed, out) -> Iterator[Check]:
    try:
        names = importlib.import_module("jaxmlp.derivations").MODULES
        modules = [importlib.import_module(f"jaxmlp.derivations.{name}") for name in names]
    except ImportError as error:
        out(f"note: the lecture derivations are not installed ({error}); "
            "checking the library alone")
        return
    for module in modules:
        try:
            with jax.enable_x64(True):
                checks = module.checks(seed)
        except Exception as error:  # a broken deck is a failed check, not a crash
            checks = [Check(module.__name__, f"raised {one_line(error)}", math.inf, False)]
        yield from checks


def _library_checks(seed, dtype) -> Iterator[Check]:
    name = jnp.dtype(dtype).name
    pairs = ((p, r) for p in PAIRS for r in REDUCTIONS)
    cases = [(i, f, loss, r) for i, ((f, loss), r) in enumerate(pairs)]
    what = f"= jax.grad, {name}"
    for loss in dict.fromkeys(case[2] for case in cases):
        rows = []
        # every network has the same shapes: op by op, each op compiles once
        with jax.disable_jit():
            for i, f, _, reduction in (case for case in cases if case[2] == loss):
                first = ACTIVATIONS[i % len(ACTIVATIONS)]
                second = ACTIVATIONS[(i + 5) % len(ACTIVATIONS)]
                # random values, not shapes, catch a wᵀ for w
                model = MLP((3, 3, 3, 3), (first, second, f))
                params, x, t = random_problem(model, loss, seed + i, dtype=dtype)
                hand = backprop(model, params, x, t, loss, reduction)
                ref = reference_grads(model, loss, reduction, params, x, t)
                label = f"jaxmlp.backprop {model.activations} {loss} {reduction}"
                rows.append(check_close(label, what, hand, ref))
        yield Check(f"jaxmlp.backprop {loss}: {len(rows) // 2} outputs × (mean, sum)", what,
                    max(c.max_rel for c in rows), all(c.passed for c in rows))
        yield from (c for c in rows if not c.passed)
