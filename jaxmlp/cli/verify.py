"""``jaxmlp verify``: hand over to :func:`jaxmlp.verify.run` (the derivation debugger)."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from jaxmlp.cli import argtypes
from jaxmlp.cli.common import UsageError, add_command

__all__ = ["add", "run"]


def add(commands) -> None:
    """The ``verify`` parser."""
    p = add_command(
        commands, "verify", "check the lecture derivations, jaxmlp's backprop or your file against jax.grad",
        "Compare hand-written gradients with jax.grad and print one line per check: without FILE, the "
        "lecture derivations and jaxmlp's own backprop over random networks; with FILE, your derivation "
        "(a Python file defining model, loss and grads(params, x, t); see examples/my_derivation.py). "
        "Exit status 0 when all pass, 1 when one fails, 2 when FILE cannot be used.")
    p.add_argument("file", nargs="?", metavar="FILE", help="your derivation (a .py file)")
    p.add_argument("--seed", type=argtypes.int_at_least(0), default=0, help="seed of the random test points")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """``jaxmlp.verify.run(FILE, seed=...)``'s exit status (2 at once for a FILE that is not there)."""
    if args.file is not None and not Path(args.file).is_file():
        raise UsageError(f"FILE: {args.file!r} does not exist or is not a file")
    return importlib.import_module("jaxmlp.verify").run(args.file, seed=args.seed)
