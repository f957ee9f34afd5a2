"""What every subcommand shares: the parser style, the one-line errors, and the output folder.

Every file a command writes goes through :func:`jaxmlp.atomic.write_atomic` (or
:func:`jaxmlp.save`, which uses it), so an interrupted run never leaves half a file; every path is
checked by :func:`check_out` / :func:`jaxmlp.core.checks.check_output` before any data is loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CLIError", "Formatter", "Parser", "UsageError", "add_command", "catch_interrupts",
           "check_out", "describe", "enable_compile_cache", "load_dataset", "stop_if_interrupted",
           "versions", "write_json"]

#: set by the SIGINT handler of :func:`catch_interrupts`
INTERRUPTED = threading.Event()
#: set to 1 to leave JAX's persistent compilation cache off (as ``--no-compile-cache``)
NO_CACHE_VARIABLE = "JAXMLP_NO_COMPILE_CACHE"


class CLIError(Exception):
    """A failure the command line reports in one line: ``jaxmlp: error: ...`` (exit status 1)."""

    status = 1


class UsageError(CLIError):
    """An argument found unusable after parsing (a FILE that is not there): one line, exit 2."""

    status = 2


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors, ``jaxmlp: error: MESSAGE (see 'jaxmlp CMD --help')``;
    exit 2."""

    def error(self, message: str):
        self.exit(2, f"jaxmlp: error: {message} (see '{self.prog} --help')\n")


class Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every default except ``None`` and ``False``; keeps blank-line paragraphs."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)

    def _fill_text(self, text, width, indent):
        return "\n\n".join(textwrap.fill(part, width, initial_indent=indent,
                                         subsequent_indent=indent)
                           for part in text.split("\n\n"))


def catch_interrupts() -> None:
    """Ctrl-C: remember it, then raise ``KeyboardInterrupt`` as Python does.

    Python swallows an exception raised where it cannot propagate (in a garbage-collector callback
    of JAX's, say) and prints "Exception ignored"; such a ``KeyboardInterrupt`` is kept quiet
    instead, and :func:`stop_if_interrupted` raises it again at the end of the epoch (or the
    command's step).
    """
    def handler(signum, frame):
        INTERRUPTED.set()
        raise KeyboardInterrupt

    def unraisable(report, default=sys.unraisablehook):
        if not isinstance(report.exc_value, KeyboardInterrupt):
            default(report)

    signal.signal(signal.SIGINT, handler)
    sys.unraisablehook = unraisable


def stop_if_interrupted(*_: Any) -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed (an ``on_epoch_end`` of ``fit``)."""
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt


def add_command(commands, name: str, help: str, description: str, epilog: str | None = None,
                compile_cache: bool = True):
    """A subcommand's parser in the house style (one-line errors, defaults in ``--help``), with
    ``--no-compile-cache`` unless ``compile_cache`` is False (a command that times compiling)."""
    parser = commands.add_parser(name, help=help, description=description, epilog=epilog,
                                 formatter_class=Formatter)
    if compile_cache:
        parser.add_argument("--no-compile-cache", action="store_true",
                            help="compile every program anew: leave JAX's persistent compilation "
                            f"cache off (also: {NO_CACHE_VARIABLE}=1); it is on by default, in "
                            "$XDG_CACHE_HOME/jaxmlp/xla (~/.cache/jaxmlp/xla), at most 1 GiB")
    parser.set_defaults(no_compile_cache=not compile_cache)
    return parser


def enable_compile_cache(args: argparse.Namespace) -> Path | None:
    """Turn on JAX's persistent compilation cache for this process (the ``jaxmlp`` program only),
    unless ``--no-compile-cache``, ``$JAXMLP_NO_COMPILE_CACHE`` (any value but ``""`` or ``0``), or
    the command has no such option; a refused folder is one warning line on stderr."""
    if args.no_compile_cache or os.environ.get(NO_CACHE_VARIABLE, "") not in ("", "0"):
        return None
    import warnings

    from jaxmlp.cache import compile_cache

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folder = compile_cache()
    for warning in caught:
        print(f"jaxmlp: warning: {warning.message}", file=sys.stderr)
    return folder


def check_out(out: str | Path, names: Sequence[str], force: bool) -> Path:
    """Check the ``--out`` folder before any work: a folder (not a file) that can be created and
    written, holding none of ``names`` unless ``force``. Returns it as a ``Path``."""
    from jaxmlp.core.checks import check_output

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out: {str(out)!r} is a file, expected a folder")
    for name in names:
        try:
            check_output("--out", out / name, Path(name).suffix)
        except (TypeError, ValueError) as error:
            raise CLIError(str(error)) from None
    existing = [name for name in names if (out / name).exists()]
    if existing and not force:
        raise CLIError(f"--out: {out} already holds {', '.join(existing)}; pass --force to replace "
                       "them, or choose another --out")
    return out


def write_json(value: Any, path: Path) -> Path:
    """Write ``value`` as indented JSON, atomically."""
    from jaxmlp.atomic import write_atomic

    return write_atomic(path, (json.dumps(value, indent=1) + "\n").encode())


def load_dataset(name: str, data_dir: str | None):
    """``jaxmlp.data.load(name)``, or a one-line error saying how to get a missing data set."""
    from jaxmlp.data import DatasetNotFoundError, load

    try:
        return load(name, data_dir)
    except DatasetNotFoundError:
        if name == "digits":
            raise
        raise CLIError(f"data set {name!r} is not on this machine; get it with 'jaxmlp data "
                       f"download {name}' (or set JAXMLP_DATA to a folder holding its IDX files); "
                       "'jaxmlp data -v' shows where jaxmlp looked") from None


def versions() -> dict[str, str]:
    """The versions a run depends on (recorded in ``history.json`` and ``model.npz``)."""
    import importlib.metadata

    import jax

    from jaxmlp import __version__

    version = importlib.metadata.version
    return {"jaxmlp": __version__, "jax": jax.__version__, "jaxlib": version("jaxlib"),
            "optax": version("optax"), "numpy": version("numpy"),
            "python": platform.python_version()}


def describe(model) -> str:
    """``hidden 32 relu, softmax output``: a model in a few words."""
    hidden = model.sizes[1:-1]
    inner = "no hidden layer"
    if hidden:
        inner = f"hidden {','.join(map(str, hidden))} {model.activations[0]}"
    return f"{inner}, {model.activations[-1]} output"
