"""``jaxmlp evaluate MODEL.npz``: a trained model's loss and accuracy on a data set's test rows.

The model file is what ``jaxmlp train`` writes (or any :func:`jaxmlp.save` checkpoint); the data
set, loss and L1/L2 rates default to those recorded in it by ``jaxmlp train``, so
``jaxmlp evaluate runs/train-digits/model.npz`` prints the test score the training run printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jaxmlp.cli.common import CLIError, UsageError, add_command, describe, load_dataset

__all__ = ["add", "load_model", "run"]


def add(commands) -> None:
    """The ``evaluate`` parser."""
    from jaxmlp.data import DATASETS

    p = add_command(commands, "evaluate", "a trained model's test loss and accuracy (train's "
                                          "model.npz)",
                    "Load MODEL (a jaxmlp checkpoint, such as the model.npz that 'jaxmlp train' "
                    "writes) and print its loss and accuracy on the test rows of a named data "
                    "set. The data set, loss and L1/L2 rates default to those the model was "
                    "trained with.")
    p.add_argument("model", metavar="MODEL.npz", help="the model file")
    p.add_argument("--dataset", choices=tuple(DATASETS), metavar="NAME",
                   help=f"{', '.join(DATASETS)} (default: the one MODEL was trained on)")
    p.add_argument("--data-dir", metavar="DIR", help="a folder searched first for the data set's "
                                                     "files")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the model and its test score; return 0."""
    from jaxmlp import evaluate
    from jaxmlp.cli.runs import score_line

    checkpoint = load_model(args.model)
    settings = checkpoint.run.get("settings", {})
    dataset = args.dataset or settings.get("dataset")
    if dataset is None:
        raise UsageError(f"--dataset: {args.model} does not record its data set; name one")
    _, (x_test, t_test) = load_dataset(dataset, args.data_dir)
    model = checkpoint.model
    if x_test.shape[1] != model.sizes[0]:
        raise CLIError(f"--dataset: {dataset} has {x_test.shape[1]} inputs per row, but the model "
                       f"in {args.model} takes {model.sizes[0]}")
    classes = int(t_test.max()) + 1 if t_test.ndim == 1 else t_test.shape[1]
    outputs = max(model.sizes[-1], 2)  # one sigmoid output scores two classes
    if classes > outputs:
        raise CLIError(f"--dataset: {dataset} has {classes} classes, but the model in "
                       f"{args.model} has {model.sizes[-1]} outputs")
    result = evaluate(model, checkpoint.params, x_test, t_test,
                      loss=settings.get("loss", "categorical_crossentropy"),
                      l2=settings.get("l2", 0.0), l1=settings.get("l1", 0.0))
    print(f"{args.model}: {describe(model)}, {model.num_params:,} parameters")
    print(f"{dataset}: {len(x_test):,} test rows - {score_line(result)}")
    return 0


def load_model(path: str):
    """:func:`jaxmlp.load` with errors that name ``MODEL``."""
    from jaxmlp import load

    if not Path(path).is_file():
        raise UsageError(f"MODEL: {path!r} does not exist or is not a file")
    try:
        return load(path)
    except ValueError as error:
        raise CLIError(f"MODEL: {error}") from None
