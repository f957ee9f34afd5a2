"""``jaxmlp bench``: its options; the measuring is :func:`jaxmlp.bench.run`'s."""

from __future__ import annotations

import argparse
import shlex

from jaxmlp.cli import argtypes
from jaxmlp.cli.common import add_command

__all__ = ["add", "implementations", "run"]


def add(commands) -> None:
    """The ``bench`` parser."""
    from jaxmlp.bench.harness import usable_cores
    from jaxmlp.bench.tables import DEFAULT_EPOCHS, IMPLEMENTATIONS, SUBCOMMANDS

    p = add_command(
        commands, "bench",
        "time training on this machine: jaxmlp, plain JAX, Keras, PyTorch, scikit-learn",
        "Time jaxmlp and its peers on this machine, each implementation in its own process pinned "
        "to --threads cores, one after another; print a Markdown table and write JSON. Timings are "
        "medians over epochs 2..N, compile time apart (JAX's persistent compilation cache stays "
        "off). A warning says when the machine's load makes the figures unreliable.",
        compile_cache=False)
    p.add_argument("table", nargs="?", default="peers", choices=list(SUBCOMMANDS), metavar="TABLE",
                   help=f"one of {', '.join(SUBCOMMANDS)}; peers: deck 002's workload (the "
                   "lecture slides' Keras example) with every implementation, one process each")
    p.add_argument("--batch-size", type=argtypes.int_at_least(1), default=64, help="rows per "
                                                                                   "update")
    p.add_argument("--hidden", type=argtypes.widths, default="32", metavar="N,N,...", help="hidden "
                                                                                           "widths")
    p.add_argument("--epochs", type=argtypes.int_at_least(2), metavar="N",
                   help="epochs per run "
                        "(default: " + ", ".join(f"{k} {v}" for k, v in DEFAULT_EPOCHS.items())
                   + "; 3 with --quick)")
    p.add_argument("--dataset", choices=("fashion-mnist", "synthetic"), default="fashion-mnist",
                   help="synthetic: random rows of the same shape (also used, and said, when "
                   "fashion-mnist is not on this machine)")
    p.add_argument("--rows", type=argtypes.int_at_least(10), metavar="ROWS",
                   help="keep only the first ROWS training rows (before the validation split) and "
                   "ROWS/6 test rows")
    p.add_argument("--only", type=implementations, default=",".join(IMPLEMENTATIONS),
                   metavar="NAME,...",
                   help=f"implementations, from {', '.join(IMPLEMENTATIONS)} (or the groups "
                        "jaxmlp, jax)")
    p.add_argument("--models", type=argtypes.widths, default="1,4,16,64", metavar="N,N,...",
                   help="the many table: numbers of models trained together")
    p.add_argument("--quick", action="store_true", help="a one-minute run: 3 epochs, fewer repeats")
    p.add_argument("--timeout", type=argtypes.positive_float, default="900", metavar="SECONDS",
                   help="seconds per child process")
    p.add_argument("--threads", type=argtypes.int_at_least(1), default=usable_cores(), metavar="N",
                   help="cores (CPU affinity) and OpenMP / BLAS threads of every implementation "
                   "alike (default: the cores this process may use)")
    p.add_argument("--seed", type=argtypes.int_at_least(0), default=0, help="data, weights and "
                                                                            "shuffles")
    p.add_argument("--profile", metavar="DIR",
                   help="write a JAX profiler trace of the timed epochs of every JAX row to "
                   "DIR/IMPLEMENTATION (open in Perfetto or TensorBoard; peers table)")
    p.add_argument("--json", metavar="FILE",
                   help="where to write the JSON (default: runs/bench/TABLE-TIME.json)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Fill in the table's default epochs and hand over to :func:`jaxmlp.bench.run`."""
    import jaxmlp.bench
    from jaxmlp.bench.tables import DEFAULT_EPOCHS
    from jaxmlp.cli.common import UsageError
    from jaxmlp.core.checks import check_output

    if args.table == "many" and len(args.hidden) != 1:
        raise UsageError(f"--hidden: the many table takes one hidden width, got {args.hidden}")
    if args.table == "many" and args.dataset != "fashion-mnist":
        raise UsageError("--dataset: the many table reads fashion-mnist (random rows of its shape "
                         "when it is not on this machine)")
    if args.epochs is None:
        args.epochs = 3 if args.quick else DEFAULT_EPOCHS.get(args.table, 30)
    if args.json is not None:
        try:
            check_output("--json", args.json, ".json")
        except (TypeError, ValueError) as error:
            raise UsageError(str(error)) from None
    args.command = shlex.join(["jaxmlp", *getattr(args, "argv", ["bench"])])
    return jaxmlp.bench.run(args)


def implementations(text: str) -> tuple[str, ...]:
    """``--only``: names and groups, e.g. ``jaxmlp,torch``, as a tuple of implementations."""
    from jaxmlp.bench.tables import GROUPS, IMPLEMENTATIONS

    names = []
    for name in filter(None, text.split(",")):
        if name not in IMPLEMENTATIONS and name not in GROUPS:
            raise argparse.ArgumentTypeError(
                f"expected implementations from {', '.join((*IMPLEMENTATIONS, *GROUPS))}, "
                f"got {name!r}")
        names += GROUPS.get(name, (name,))
    if not names:
        raise argparse.ArgumentTypeError("expected at least one implementation")
    return tuple(names)
