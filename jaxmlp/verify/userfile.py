"""Read a user's derivation file: the MLP form or the general form (``jaxmlp verify FILE``).

* **MLP form**: ``model`` (a :class:`jaxmlp.MLP`), ``loss`` (a loss name), optionally ``reduction``
  (default ``"mean"``), ``l2`` and ``l1``, ``grads(params, x, t)`` returning the gradient pytree and,
  optionally, ``deltas(params, x, t)`` returning the list of ``(B, fan_out)`` arrays
  ``δ_l = ∂ℓ_n/∂u_l`` of each example's own loss (the convention of :func:`jaxmlp.deltas`).
* **General form** (a file that defines ``objective``): ``objective(params, x, t)`` → a scalar,
  ``grads(params, x, t)`` → a pytree shaped like ``params``, and ``sample(key)`` → ``(params, x, t)``,
  one random problem (rows of ``x`` and ``t`` are examples, when they have rows).
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import types
from collections.abc import Callable

from jaxmlp.core.losses import REDUCTIONS, loss_names
from jaxmlp.core.model import MLP

__all__ = ["BadFileError", "Subject", "one_line", "read"]


class BadFileError(Exception):
    """A user file that cannot be verified; the message is the one line printed (exit status 2)."""


@dataclasses.dataclass(frozen=True)
class Subject:
    """What a user file claims: ``grads`` (and ``deltas``) of an MLP, or of a general ``objective``."""

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

    @property
    def form(self) -> str:
        """``"MLP"`` or ``"general"``."""
        return "general" if self.objective is not None else "MLP"

    def describe(self) -> str:
        """One line: what is verified."""
        if self.model is None:
            return "general form: grads(params, x, t) against jax.grad(objective)"
        acts = " → ".join(self.model.activations)
        penalties = "".join(f", {k} {v:g}" for k, v in (("l2", self.l2), ("l1", self.l1)) if v)
        what = "grads and deltas" if self.deltas else "grads"
        return f"MLP form: {what} of {self.model.sizes} {acts}, {self.loss}, {self.reduction}{penalties}"


def read(path: str) -> Subject:
    """Import the file at ``path`` and check that it defines one of the two forms.

    Raises :class:`BadFileError` with one line naming what is missing or wrong.
    """
    module = _import(path)
    if hasattr(module, "objective"):
        for needed, meaning in (("objective", "objective(params, x, t) returning a scalar"),
                                ("grads", "grads(params, x, t) returning a pytree shaped like params"),
                                ("sample", "sample(key) returning (params, x, t)")):
            _need_function(path, module, needed, meaning)
        return Subject(path, module.grads, objective=module.objective, sample=module.sample)
    for needed, meaning in (("model", "a jaxmlp.MLP"), ("loss", f"a loss name, one of {loss_names()}"),
                            ("grads", "a function grads(params, x, t) returning the gradient pytree")):
        if not hasattr(module, needed):
            raise BadFileError(f"{path}: missing `{needed}` (define {meaning}, "
                               "or objective, grads and sample for the general form)")
    subject = Subject(path, module.grads, module.model, module.loss, getattr(module, "reduction", "mean"),
                      getattr(module, "l2", 0.0), getattr(module, "l1", 0.0), getattr(module, "deltas", None))
    if not isinstance(subject.model, MLP):
        raise BadFileError(f"{path}: `model` must be a jaxmlp.MLP, got {type(subject.model).__name__}")
    if subject.loss not in loss_names():
        raise BadFileError(f"{path}: `loss` must be one of {loss_names()}, got {subject.loss!r}")
    if subject.reduction not in REDUCTIONS:
        raise BadFileError(f"{path}: `reduction` must be one of {REDUCTIONS}, got {subject.reduction!r}")
    for name in ("l2", "l1"):
        value = getattr(subject, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise BadFileError(f"{path}: `{name}` must be a non-negative number, got {value!r}")
    _need_function(path, module, "grads", "grads(params, x, t)")
    if subject.deltas is not None:
        _need_function(path, module, "deltas", "deltas(params, x, t) returning a list of (B, fan_out) arrays")
    return subject


def one_line(error: BaseException, limit: int = 200) -> str:
    """``"TypeName: message"`` on one line, cut at ``limit`` characters.

    >>> one_line(ValueError("a\\n  b"))
    'ValueError: a b'
    """
    text = " ".join(str(error).split()) or "(no message)"
    return f"{type(error).__name__}: {text[:limit]}{'…' if len(text) > limit else ''}"


def _import(path: str):
    file = pathlib.Path(path)
    if not file.is_file():
        raise BadFileError(f"{path}: no such file")
    module = types.ModuleType(f"_jaxmlp_verify_{re.sub(r'[^0-9A-Za-z_]', '_', file.stem)}")
    module.__file__ = str(file)
    try:  # compiled from the text each time: no stale bytecode, no __pycache__ beside the file
        exec(compile(file.read_bytes(), str(file), "exec"), module.__dict__)
    except (Exception, SystemExit) as error:  # SyntaxError, ImportError, sys.exit(), anything it raises
        raise BadFileError(f"{path}: failed to import: {one_line(error)}") from None
    return module


def _need_function(path, module, name, meaning):
    if not hasattr(module, name):
        raise BadFileError(f"{path}: missing `{name}` (define {meaning})")
    if not callable(getattr(module, name)):
        raise BadFileError(f"{path}: `{name}` must be a function {meaning}, "
                           f"got {type(getattr(module, name)).__name__}")
