"""``jaxmlp.verify.derivation``: check a hand-written gradient given as functions, from Python.

The same search as ``jaxmlp verify FILE`` (:mod:`jaxmlp.verify.search`), for a derivation that lives
in a notebook or a script rather than in a file of its own. The file path is a thin reader over
this: it imports the file, takes the same names from it and calls :func:`check`. Both return a
:class:`Report`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from jaxmlp.core.model import MLP
from jaxmlp.core.values import check_int
from jaxmlp.verify import report
from jaxmlp.verify.problem import draw
from jaxmlp.verify.search import Outcome, Result, search
from jaxmlp.verify.suggest import Suggestion
from jaxmlp.verify.suggest import suggest as _suggest
from jaxmlp.verify.userfile import BadFileError, Subject, read, subject

__all__ = ["EXAMPLES", "Report", "check", "derivation"]

EXAMPLES = 100  #: problems Hypothesis draws after the fixed probes
DTYPES = ("float64", "float32")


@dataclasses.dataclass(frozen=True)
class Report:
    """The verdict on a derivation: ``print(report)`` shows what ``jaxmlp verify FILE`` prints.

    ``passed`` is whether no problem was found; otherwise ``counterexample`` is the shrunk problem
    (its ``problem``, rows ``x`` and ``t``, and every leaf's error), ``first_wrong_delta`` the layer
    whose δ is wrong nearest the output (with ``deltas``), and ``wrong`` the wrong leaves as
    ``[{"leaf", "rel_error", "problem"}]``.
    """

    subject: Subject
    result: Result
    dtype: str
    #: with ``suggest``: the single edits that make the file pass the same check, best first
    #: (``()`` when it passed or none was found); ``None`` when not asked for
    suggestions: tuple[Suggestion, ...] | None = None

    @property
    def passed(self) -> bool:
        """Whether the gradient (and δ) equals ``jax.grad`` on every problem tried."""
        return self.result.counterexample is None

    @property
    def counterexample(self) -> Outcome | None:
        """The shrunk problem: ``.problem``, ``.x``, ``.t``, ``.grads``, ``.deltas``."""
        return self.result.counterexample

    @property
    def first_wrong_delta(self) -> int | None:
        """The index of the wrong δ nearest the output (layers below inherit it), or ``None``."""
        found = self.result.counterexample
        return None if found is None else found.first_wrong_delta

    @property
    def wrong(self) -> list[dict]:
        """Each wrong leaf: ``{"leaf": "grads[0]['w']", "rel_error": ..., "problem": spec}``."""
        found = self.result.counterexample
        return [] if found is None else report.failures(found)

    @property
    def kink_only(self) -> bool:
        """Whether it differs only at ``u = 0`` exactly: a convention at the kink, not calculus."""
        return self.result.kink_only

    @property
    def problems(self) -> int:
        """How many problems were tried."""
        return self.result.tried

    def lines(self) -> list[str]:
        """The printed form, line by line, the verdict last."""
        lines = report.lines(self.subject, self.result, self.dtype)
        if self.suggestions is None or self.passed:
            return lines
        if not self.suggestions:
            return [*lines[:-1], "no single edit found that makes the file pass", lines[-1]]
        head = (f"suggestions: {len(self.suggestions)} single edit(s), each makes the file pass "
                f"the same check ({self.dtype}, the same seed and effort):")
        edits = [line for found in self.suggestions for line in found.lines()]
        return [*lines[:-1], head, *edits, lines[-1]]

    def json(self) -> str:
        """The one-line JSON object of ``jaxmlp verify --json``."""
        return report.summary(self.subject, self.result, self.dtype,
                              suggestions=self.suggestions)

    def problem(self):
        """``(params, x, t)`` of the counterexample, to look at or to step through by hand."""
        if self.counterexample is None:
            raise ValueError("report: the derivation passed; there is no counterexample")
        with jax.enable_x64(np.dtype(self.dtype).itemsize >= 8):
            return draw(self.subject, self.counterexample.problem, np.dtype(self.dtype))

    def __str__(self) -> str:
        return "\n".join([self.subject.describe(), *self.lines()])


def derivation(grads: Callable, *, model: MLP | None = None, loss: str | None = None,
               reduction: str = "mean", l2: float = 0.0, l1: float = 0.0,
               deltas: Callable | None = None, objective: Callable | None = None,
               sample: Callable | None = None, examples: int = EXAMPLES, seed: int = 0,
               dtype: str = "float64", name: str = "derivation",
               suggest: bool = False) -> Report:
    """Search for a problem where ``grads`` (and ``deltas``) differs from ``jax.grad``.

    Arguments:
        grads: ``grads(params, x, t)``, the hand-written gradient, a pytree shaped like ``params``.
        model, loss, reduction, l2, l1: the MLP form: ``grads`` is the gradient of
            ``jaxmlp.loss(model, params, x, t, loss, reduction, l2, l1)``; rows ``x`` ``(B, n_in)``.
        deltas: optionally ``deltas(params, x, t)``, each layer's ``(B, fan_out)`` δ = ∂ℓ_n/∂u
            (as :func:`jaxmlp.deltas`), so that a wrong derivation names its first wrong δ.
        objective, sample: the general form instead: ``objective(params, x, t)`` a scalar and
            ``sample(key)`` one random ``(params, x, t)``.
        examples, seed, dtype: the search's effort, its seed, and ``"float64"`` or ``"float32"``.
        name: what messages call the derivation.
        suggest: for a wrong derivation, search the single edits that make it pass
            (``report.suggestions``); it needs the derivation in a file (``jaxmlp verify FILE
            --suggest``), so here ``ValueError`` unless ``grads`` comes from such a file.

    Returns a :class:`Report`. Raises ``ValueError`` when the functions cannot be checked (a
    missing piece, or ``grads`` raising), with one line saying why.

    >>> import jax.numpy as jnp
    >>> def objective(w, x, t):
    ...     return jnp.sum((x @ w - t) ** 2)
    >>> def grads(w, x, t):  # the factor 2 forgotten
    ...     return x.T @ (x @ w - t)
    >>> def sample(key):
    ...     k1, k2, k3 = jax.random.split(key, 3)
    ...     normal = jax.random.normal
    ...     return normal(k1, (3,)), normal(k2, (4, 3)), normal(k3, (4,))
    >>> report = derivation(grads, objective=objective, sample=sample, examples=5)
    >>> report.passed, report.wrong[0]["leaf"]
    (False, 'grads')
    """
    where = f"<{name}>"
    if suggest:
        where = _file_of(grads)
    found = subject(where, grads, model=model, loss=loss, reduction=reduction, l2=l2, l1=l1,
                    deltas=deltas, objective=objective, sample=sample)
    return check(found, examples=examples, seed=seed, dtype=dtype, suggest=suggest)


def check(what: Subject, *, examples: int = EXAMPLES, seed: int = 0,
          dtype: str = "float64", suggest: bool = False) -> Report:
    """Run the search on a :class:`~jaxmlp.verify.userfile.Subject` (a file's or functions').

    ``examples`` (an integer ``>= 0``) and ``seed`` (``>= 0``) are checked first. With
    ``suggest``, a wrong derivation's file is searched for the single edits that make it pass
    (:mod:`jaxmlp.verify.suggest`).
    """
    examples = check_int("examples", examples, 0)
    seed = check_int("seed", seed, 0)
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES}, got {dtype!r}")
    precision = np.dtype(dtype)
    with jax.enable_x64(precision.itemsize >= 8):
        result = search(what, examples, seed, precision)
    found = None
    if suggest:
        found = ()
        if result.counterexample is not None:
            found = tuple(_suggest(what, result.counterexample.problem, examples=examples,
                                   seed=seed, dtype=precision.name, check=check))
    return Report(what, result, precision.name, found)


def _file_of(grads: Callable) -> str:
    """The derivation file that defines ``grads``, for ``suggest``; a ``ValueError`` otherwise."""
    code = getattr(grads, "__code__", None)
    path = None if code is None else Path(code.co_filename)
    why = "it has none (defined in a notebook or interactively)"
    if path is not None and path.is_file() and path.suffix == ".py":
        try:
            read(str(path))
            return str(path)
        except BadFileError as error:
            why = f"{path.name} is not a derivation file ({str(error).split(': ', 1)[-1]})"
    raise ValueError(f"suggest: the edits are made to the file that defines grads, and {why}; "
                     "save it to a file and run `jaxmlp verify FILE --suggest`")
