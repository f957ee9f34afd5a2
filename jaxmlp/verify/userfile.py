"""Read a user's derivation file: the MLP form or the general form (``jaxmlp verify FILE``).

* **MLP form**: ``model`` (a :class:`jaxmlp.MLP`), ``loss`` (a loss name), optionally
  ``reduction`` (default ``"mean"``), ``l2`` and ``l1``, ``grads(params, x, t)`` returning the
  gradient pytree and, optionally, ``deltas(params, x, t)`` returning the list of
  ``(B, fan_out)`` arrays ``δ_l = ∂ℓ_n/∂u_l`` of each example's own loss (the convention of
  :func:`jaxmlp.deltas`).
* **General form** (a file that defines ``objective``): ``objective(params, x, t)`` → a scalar,
  ``grads(params, x, t)`` → a pytree shaped like ``params``, and ``sample(key)`` →
  ``(params, x, t)``, one random problem (any pytrees; float, integer or boolean leaves).
  ``sample`` may name the parameters ``rows`` and ``scale``: verify then chooses them too (1, 2
  or 5 rows; 1×, 10× or 100×), and only then (:mod:`jaxmlp.verify.problem`).
"""

from __future__ import annotations

import dataclasses
import inspect
import pathlib
import re
import traceback
import types
from collections.abc import Callable

from jaxmlp.core.losses import REDUCTIONS, loss_names
from jaxmlp.core.model import MLP
from jaxmlp.core.values import check_rate

__all__ = ["BadFileError", "Subject", "located", "one_line", "read", "subject"]


class BadFileError(ValueError):
    """A derivation that cannot be verified (a file or functions).

    The message is one line (exit status 2).
    """


@dataclasses.dataclass(frozen=True)
class Subject:
    """What a user file claims: ``grads`` (and ``deltas``) of an MLP, or of an ``objective``."""

    path: str
    grads: Callable
    model: MLP | None = None
    loss: str = ""
    reduction: str = "mean"
    l2: float = 0.0
    l1: float = 0.0
    deltas: Callable | None = None
    objective: Callable | None = None
    sample: Callable | None = None
    #: the parameters of ``sample`` that verify may choose (``"rows"``, ``"scale"``)
    sample_takes: tuple[str, ...] = ()

    @property
    def form(self) -> str:
        """``"MLP"`` or ``"general"``."""
        return "general" if self.objective is not None else "MLP"

    def describe(self) -> str:
        """One line: what is verified."""
        if self.model is None:
            takes = "".join(f", {name}" for name in self.sample_takes)
            return (f"general form: grads(params, x, t) against jax.grad(objective), "
                    f"on the problems of sample(key{takes})")
        acts = " → ".join(self.model.activations)
        penalties = "".join(f", {k} {v:g}" for k, v in (("l2", self.l2), ("l1", self.l1)) if v)
        what = "grads and deltas" if self.deltas else "grads"
        loss = f"{self.loss}, {self.reduction}{penalties}"
        return f"MLP form: {what} of {self.model.sizes} {acts}, {loss}"


def read(path: str) -> Subject:
    """Import the file at ``path`` and check that it defines one of the two forms.

    Raises :class:`BadFileError` with one line naming what is missing or wrong.
    """
    module = _import(path)
    if hasattr(module, "objective"):
        for needed, meaning in GENERAL:
            if not hasattr(module, needed):
                raise BadFileError(f"{path}: missing `{needed}` (define {meaning})")
    else:
        mlp_form = (
            ("model", "a jaxmlp.MLP"),
            ("loss", f"a loss name, one of {loss_names()}"),
            ("grads", "a function grads(params, x, t) returning the gradient pytree"),
        )
        for needed, meaning in mlp_form:
            if not hasattr(module, needed):
                raise BadFileError(f"{path}: missing `{needed}` (define {meaning}, "
                                   "or objective, grads and sample for the general form)")
    names = ("grads", "model", "loss", "reduction", "l2", "l1", "deltas", "objective", "sample")
    found = {name: getattr(module, name) for name in names if hasattr(module, name)}
    return subject(path, **found)


#: what the general form defines, and what each must be
GENERAL = (("objective", "objective(params, x, t) returning a scalar"),
           ("grads", "grads(params, x, t) returning a pytree shaped like params"),
           ("sample", "sample(key) returning (params, x, t)"))


def subject(where: str, grads: Callable, *, model: MLP | None = None, loss: str | None = None,
            reduction: str = "mean", l2: float = 0.0, l1: float = 0.0,
            deltas: Callable | None = None, objective: Callable | None = None,
            sample: Callable | None = None) -> Subject:
    """The :class:`Subject` of a derivation given as functions (``where`` names it in messages).

    The general form has ``objective`` (with ``sample``); the MLP form has ``model`` and ``loss``.
    Raises :class:`BadFileError` naming what is missing or wrong.
    """
    if objective is not None or sample is not None:
        for name, meaning in GENERAL:
            _need_function(where, {"objective": objective, "grads": grads, "sample": sample}[name],
                           name, meaning)
        return Subject(where, grads, objective=objective, sample=sample,
                       sample_takes=_declared(sample))
    if not isinstance(model, MLP):
        raise BadFileError(f"{where}: `model`: expected a jaxmlp.MLP, got {type(model).__name__}")
    if loss not in loss_names():
        raise BadFileError(f"{where}: `loss`: expected one of {loss_names()}, got {loss!r}")
    if reduction not in REDUCTIONS:
        raise BadFileError(f"{where}: `reduction`: expected one of {REDUCTIONS}, "
                           f"got {reduction!r}")
    for name, value in (("l2", l2), ("l1", l1)):
        try:
            check_rate(f"`{name}`", value)
        except (TypeError, ValueError) as error:
            raise BadFileError(f"{where}: {error}") from None
    _need_function(where, grads, "grads", "grads(params, x, t)")
    if deltas is not None:
        _need_function(where, deltas, "deltas",
                       "deltas(params, x, t) returning a list of (B, fan_out) arrays")
    return Subject(where, grads, model, loss, reduction, l2, l1, deltas)


def one_line(error: BaseException, limit: int = 200) -> str:
    """``"TypeName: message"`` on one line, cut at ``limit`` characters.

    >>> one_line(ValueError("a\\n  b"))
    'ValueError: a b'
    """
    text = " ".join(str(error).split()) or "(no message)"
    return f"{type(error).__name__}: {text[:limit]}{'…' if len(text) > limit else ''}"


def located(error: BaseException, subject: Subject) -> str:
    """:func:`one_line` of ``error``, and where in the user's code it was raised.

    The place is the innermost frame of the traceback in the user's file (or in the file of one
    of the user's functions): ``" (at my_file.py:12 in grads: `return d.T @ x`)"``; nothing when
    no frame is the user's.
    """
    files = {subject.path}
    for function in (subject.grads, subject.deltas, subject.objective, subject.sample):
        code = getattr(function, "__code__", None)
        files |= {code.co_filename} if code is not None else set()
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename in files]
    if not frames:
        return one_line(error)
    frame = frames[-1]
    code = f": `{' '.join(frame.line.split())[:80]}`" if frame.line else ""
    return f"{one_line(error)} (at {pathlib.Path(frame.filename).name}:{frame.lineno} " \
           f"in {frame.name}{code})"


def _declared(sample: Callable) -> tuple[str, ...]:
    """Which of ``rows`` and ``scale`` ``sample`` names as parameters (verify may choose them)."""
    try:
        names = inspect.signature(sample).parameters
    except (TypeError, ValueError):  # a builtin or a callable without a signature
        return ()
    return tuple(name for name in ("rows", "scale") if name in names)


def _import(path: str):
    file = pathlib.Path(path)
    if not file.is_file():
        raise BadFileError(f"{path}: no such file")
    module = types.ModuleType(f"_jaxmlp_verify_{re.sub(r'[^0-9A-Za-z_]', '_', file.stem)}")
    module.__file__ = str(file)
    # compiled from the text each time: no stale bytecode, no __pycache__ beside the file
    try:
        exec(compile(file.read_bytes(), str(file), "exec"), module.__dict__)
    # SyntaxError, ImportError, sys.exit(), anything it raises
    except (Exception, SystemExit) as error:
        raise BadFileError(f"{path}: failed to import: {one_line(error)}") from None
    return module


def _need_function(where, value, name, meaning):
    if value is None:
        raise BadFileError(f"{where}: missing `{name}` (define {meaning})")
    if not callable(value):
        raise BadFileError(f"{where}: `{name}`: expected a function {meaning}, "
                           f"got {type(value).__name__}")
