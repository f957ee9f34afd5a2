"""``jaxmlp predict MODEL.npz INPUT``: a trained model's outputs for new rows.

INPUT is a ``.npy`` array or a ``.csv`` of numbers, one row per example, scaled as the training data
was (``jaxmlp.data.load``: pixel / 255 for MNIST, / 16 for digits). The predictions are a CSV with
a header: for a softmax model ``class`` (the most probable) then ``p_0 .. p_k``; otherwise
``o_0 .. o_k``. They go to stdout, or to ``--output`` (``.csv``, or ``.npy`` for the outputs alone).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from jaxmlp.cli.common import CLIError, UsageError, add_command

__all__ = ["add", "read_rows", "run"]

SUFFIXES = (".npy", ".csv")


def add(commands) -> None:
    """The ``predict`` parser."""
    p = add_command(commands, "predict", "a trained model's predictions for the rows of a .npy / "
                                         ".csv file",
                    "Load MODEL (a jaxmlp checkpoint, such as the model.npz that 'jaxmlp train' "
                    "writes) and print its outputs for every row of INPUT as CSV: for a softmax "
                    "model the predicted class and the class probabilities p_0, p_1, ...; "
                    "otherwise the outputs o_0, o_1, ... Scale INPUT as the training data was "
                    "(digits: pixel / 16; MNIST: pixel / 255).")
    p.add_argument("model", metavar="MODEL.npz", help="the model file")
    p.add_argument("input", metavar="INPUT", help="a .npy array or a .csv of numbers, one row per "
                                                  "example")
    p.add_argument("--output", metavar="FILE", help="write the predictions here (.csv, or .npy "
                   "for the outputs alone) instead of to stdout")
    p.add_argument("--force", action="store_true", help="replace an existing --output")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Predict every row of INPUT; print or write the table; return 0."""
    from jaxmlp import predict
    from jaxmlp.atomic import write_atomic
    from jaxmlp.cli.evaluate import load_model

    output = _check_output(args.output, args.force)
    checkpoint = load_model(args.model)
    rows = read_rows(args.input, checkpoint.model.sizes[0])
    outputs = np.asarray(predict(checkpoint.model, checkpoint.params, rows))
    if output is not None and output.suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, outputs)
        write_atomic(output, buffer.getvalue())
    else:
        table = _csv(outputs, checkpoint.model.activations[-1] == "softmax")
        if output is None:
            sys.stdout.write(table)
            return 0
        write_atomic(output, table.encode())
    print(f"wrote {len(rows):,} predictions to {output}", file=sys.stderr)
    return 0


def read_rows(path: str, width: int) -> np.ndarray:
    """The float32 rows ``(n, width)`` of a ``.npy`` or ``.csv`` file.

    Its one-line errors name INPUT.
    """
    file = Path(path)
    if file.suffix not in SUFFIXES:
        raise UsageError(f"INPUT: expected a .npy or .csv file, got {path!r}")
    if not file.is_file():
        raise UsageError(f"INPUT: {path!r} does not exist or is not a file")
    try:
        rows = (np.load(file, allow_pickle=False) if file.suffix == ".npy"
                else np.loadtxt(file, delimiter=",", ndmin=2, dtype=np.float64))
    except (ValueError, OSError, EOFError) as error:
        raise CLIError(f"INPUT: cannot read {path!r} as {file.suffix} numbers: {error}") from None
    if rows.ndim == 1 and rows.shape[0] == width:
        rows = rows[None]
    if rows.dtype.kind not in "biuf" or rows.ndim != 2 or rows.shape[1] != width or not len(rows):
        raise CLIError(f"INPUT: expected numeric rows of {width} values (the model's input width), "
                       f"got {rows.dtype} of shape {rows.shape} in {path!r}")
    if not np.isfinite(rows).all():
        row = int(np.argwhere(~np.isfinite(rows))[0, 0])
        raise CLIError(f"INPUT: row {row} of {path!r} holds NaN or infinity")
    return rows.astype(np.float32)


def _check_output(path: str | None, force: bool) -> Path | None:
    from jaxmlp.core.checks import check_output

    if path is None:
        return None
    suffix = Path(path).suffix
    if suffix not in SUFFIXES:
        raise UsageError(f"--output: expected a .csv or .npy file, got {path!r}")
    try:
        output = check_output("--output", path, suffix)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    if output.exists() and not force:
        raise CLIError(f"--output: {path} already exists; pass --force to replace it")
    return output


def _csv(outputs: np.ndarray, softmax: bool) -> str:
    k = outputs.shape[1]
    header = (["class"] + [f"p_{i}" for i in range(k)]) if softmax else [f"o_{i}" for i in range(k)]
    lines = [",".join(header)]
    for row in outputs:
        values = [f"{v:.6g}" for v in row]
        lines.append(",".join([str(int(row.argmax())), *values] if softmax else values))
    return "\n".join(lines) + "\n"
