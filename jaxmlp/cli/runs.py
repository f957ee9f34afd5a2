"""What ``jaxmlp train``'s two paths (one model, many models) share: the run folder and its files.

A run writes into ``--out``; without it, into a fresh folder, ``runs/train-DATASET``, then
``runs/train-DATASET-2``, ``-3``, ... (the first name not taken, created at once so that two runs
started together never share it), so the same command can be run again and again. An explicit
``--out`` that holds an earlier run's files is refused without ``--force``. A ``--checkpoint``
that is one of the run's own outputs is refused: the final model would replace it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from jaxmlp.cli.common import CLIError, check_out

__all__ = ["DIGITS_NOTE", "FASHION_CLASSES", "TRAIN_FILES", "fresh_folder", "output_folder",
           "quiet_unless", "score_line", "settings"]

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
TRAIN_FILES = ("model.npz", "learning_curves.png", "confusion_matrix.png", "weights.png",
               "history.json")
DIGITS_NOTE = ("note: the digits test rows are the last 297 rows of the file, written by other "
               "people than most training rows, while the validation rows are a random sample of "
               "the training rows: expect the test accuracy below the validation accuracy")


@contextlib.contextmanager
def output_folder(args: argparse.Namespace, names: Sequence[str], writes: bool = True
                  ) -> Iterator[Path]:
    """The run's folder, checked before any work: ``--out`` (holding none of ``names`` unless
    ``--force``) or a :func:`fresh_folder`, and a ``--checkpoint`` that is none of its outputs.

    A fresh folder is made only where ``writes`` (process 0 of several) and removed again if
    the run ends with it still empty (a failed run leaves no empty folder behind).
    """
    if args.out is not None:
        out = check_out(args.out, names, args.force)
    elif writes:
        out = fresh_folder(Path("runs") / f"train-{args.dataset}")
    else:
        out = Path("runs") / f"train-{args.dataset}"
    try:
        _check_collision(args, out, names)
        yield out
    finally:
        if args.out is None and writes:
            with contextlib.suppress(OSError):
                out.rmdir()  # only when empty


def fresh_folder(base: Path) -> Path:
    """Create and return ``base``, or ``base-2``, ``base-3``, ...: the first that does not exist."""
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1_000_000):
        folder = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise CLIError(f"--out: {base} and a million numbered folders beside it exist; pass --out")


@contextlib.contextmanager
def quiet_unless(speaking: bool) -> Iterator[None]:
    """Send this command's standard output to ``os.devnull`` unless ``speaking`` (process 0 of
    several speaks for them all); the stream is restored when the command ends."""
    if speaking:
        yield
        return
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        yield


def settings(args: argparse.Namespace) -> dict:
    """The command's options as ``history.json`` records them (``--batch-size``: ``batch-size``)."""
    return {key.replace("_", "-"): list(value) if isinstance(value, tuple) else value
            for key, value in vars(args).items() if key not in ("handler", "command", "argv")}


def score_line(result: dict[str, float]) -> str:
    """``test loss: 0.1234 - test accuracy: 0.9630``, as ``train`` and ``evaluate`` print it."""
    return " - ".join(f"test {name}: {value:.4f}" for name, value in result.items())


def _check_collision(args: argparse.Namespace, out: Path, names: Sequence[str]) -> None:
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is None:
        return
    mine = Path(checkpoint).resolve()
    for name in names:
        if (out / name).resolve() == mine:
            raise CLIError(f"--checkpoint: {checkpoint} is one of this run's outputs ({name} in "
                           f"{out}), written over the checkpoint at the end; choose another "
                           f"file, e.g. {out / 'checkpoint.npz'}")
