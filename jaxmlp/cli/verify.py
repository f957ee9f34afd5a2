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
        commands, "verify",
        "check the lecture derivations, jaxmlp's backprop or your file against jax.grad",
        "Compare hand-written gradients with jax.grad: without FILE, the lecture derivations and "
        "jaxmlp's own backprop over random networks, one line per check as it finishes; with FILE, "
        "your derivation, searched for a counterexample (batch 1, inputs and parameters up to "
        "100x, u = 0 at every kink, the loss clipping bounds) and shrunk. FILE defines model, loss "
        "and grads(params, x, t), optionally deltas(params, x, t) to be told the first wrong delta "
        "(examples/my_derivation.py), or any JAX function: objective, grads and sample(key) "
        "(examples/my_logistic_regression.py). "
        "Exit status 0 when all pass, 1 when one fails, 2 when FILE cannot be used.")
    p.add_argument("file", nargs="?", metavar="FILE", help="your derivation (a .py file)")
    p.add_argument("--seed", type=argtypes.int_at_least(0), default=0,
                   help="seed of the random test points")
    p.add_argument("--examples", type=argtypes.int_at_least(0), default=100,
                   help="problems Hypothesis draws after the fixed probes "
                        "(the effort of the search)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="precision of the problems: float64, or float32 as your derivation trains")
    p.add_argument("--suggest", action="store_true",
                   help="for a wrong FILE, search the single edits (a sign, a transpose, 1/B, "
                        "a derivative, an axis, ...) that make it pass the same check, and show "
                        "each: the line as written and as it would read, and why")
    p.add_argument("--json", action="store_true",
                   help="print, as the last line, one JSON object: passed, first_wrong_delta, "
                        "failures, counterexample")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The exit status of ``jaxmlp.verify.run(FILE, ...)``.

    2 at once for a FILE that is not there.
    """
    if args.file is not None and not Path(args.file).is_file():
        raise UsageError(f"FILE: {args.file!r} does not exist or is not a file")
    verify = importlib.import_module("jaxmlp.verify")
    if args.suggest and args.file is None:
        raise UsageError("--suggest: needs a FILE (it edits your derivation)")
    return verify.run(args.file, seed=args.seed, examples=args.examples, dtype=args.dtype,
                      json=args.json, suggest=args.suggest)
