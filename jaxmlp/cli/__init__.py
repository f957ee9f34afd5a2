"""The command line: ``jaxmlp train | evaluate | predict | playground | data | verify | bench``.

One module per subcommand, each with ``add(commands)`` (its parser) and ``run(args)`` (its work).
:func:`main` returns the exit status: 0 on success, 1 when the run fails (one line
``jaxmlp: error: ...`` on stderr; set ``JAXMLP_DEBUG=1`` for the traceback), 2 on bad arguments
(the same one-line style) and for a bare ``jaxmlp``, which lists the commands; 130 after Ctrl-C
(``jaxmlp: interrupted``; every output is written atomically, so no partial file is left).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

from jaxmlp.cli import bench, data, evaluate, playground, predict, train, verify
from jaxmlp.cli.common import (
    CLIError,
    Formatter,
    Parser,
    catch_interrupts,
    enable_compile_cache,
)

__all__ = ["CLIError", "build_parser", "main"]

COMMANDS = (train, evaluate, predict, playground, data, verify, bench)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jaxmlp ARGS``; return the exit status (0 ok, 1 failed, 2 bad arguments, 130 Ctrl-C).

    Called without ``argv`` (as the ``jaxmlp`` program) it owns the process: after Ctrl-C it exits
    at once with status 130 rather than unwinding into JAX's running threads.
    """
    owner = argv is None
    if owner:
        catch_interrupts()
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        parser = build_parser()
        if not argv:
            parser.print_help()
            return 2
        args = parser.parse_args(argv)
        args.argv = argv
        if owner:  # the program may configure its process; a call of main(argv) may not
            enable_compile_cache(args)
        return _guarded(args)
    except SystemExit as exit_:  # --help, --version and argparse's errors
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except KeyboardInterrupt:
        return _interrupted(owner)


def build_parser() -> Parser:
    """The argparse parser of every subcommand (each with ``--help`` showing its defaults)."""
    from jaxmlp import __version__

    parser = Parser(prog="jaxmlp", formatter_class=Formatter,
                    description="Multi-layer perceptrons in JAX, as the lectures teach them. A "
                    "'deck' is one of the five lecture slide decks (000 to 004) that jaxmlp is "
                    "built from; each command names the deck it follows ('deck 002: train ...').",
                    epilog="Run 'jaxmlp COMMAND --help' for a command's options and defaults. "
                    "Errors are one line on stderr (exit status 1; 2 for bad arguments, and for "
                    "'jaxmlp' alone, which prints this list); set JAXMLP_DEBUG=1 to see the "
                    "traceback instead.")
    parser.add_argument("--version", action="version", version=f"jaxmlp {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", required=True,
                                     metavar="COMMAND",
                                     parser_class=Parser)
    for command in COMMANDS:
        command.add(commands)
    return parser


def _guarded(args) -> int:
    from jaxmlp.training.stopping import TrainingError

    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:  # the reader went away (jaxmlp data | head): stop quietly
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (CLIError, ValueError, TypeError, OSError, ImportError, MemoryError,
            TrainingError) as error:
        if os.environ.get("JAXMLP_DEBUG"):
            raise
        message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        if isinstance(error, TrainingError):
            message = (f"training diverged: non-finite loss at epoch {error.epoch}, step "
                       f"{error.step}; try a smaller --lr")
        elif isinstance(error, MemoryError):
            message = f"out of memory: {message or 'an allocation failed'}"
        print(f"jaxmlp: error: {message or type(error).__name__}", file=sys.stderr)
        return getattr(error, "status", 1)


def _interrupted(owner: bool) -> int:
    """Ctrl-C: say so; as the program, leave at once (JAX's threads may still be compiling or
    calling back into Python, and unwinding the interpreter under them can crash it)."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    print("\njaxmlp: interrupted", file=sys.stderr, flush=True)
    if owner:
        os._exit(130)
    return 130
