"""``jaxmlp train``: deck 002's Keras workflow on a named data set, ending in a model file.

Every path and option is checked before the data is loaded; the run writes ``model.npz`` (a
jaxmlp checkpoint: :func:`jaxmlp.load` reads it, ``jaxmlp evaluate`` / ``jaxmlp predict`` use it),
three pictures and ``history.json`` (the settings, seed, versions, test score and per-epoch
history), each atomically.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import time
from pathlib import Path

from jaxmlp.cli import argtypes, many
from jaxmlp.cli.common import (
    CLIError,
    add_command,
    check_out,
    describe,
    load_dataset,
    stop_if_interrupted,
    versions,
    write_json,
)

__all__ = ["FASHION_CLASSES", "TRAIN_FILES", "add", "run"]

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot")
TRAIN_FILES = ("model.npz", "learning_curves.png", "confusion_matrix.png", "weights.png", "history.json")
DIGITS_NOTE = ("note: the digits test rows are the last 297 rows of scikit-learn's file, written by other "
               "people than most training rows, while the validation rows are a random sample of the "
               "training rows: expect the test accuracy below the validation accuracy")


def add(commands) -> None:
    """The ``train`` parser."""
    from jaxmlp import activation_names, loss_names
    from jaxmlp.data import DATASETS
    from jaxmlp.training.epoch import GRADS
    from jaxmlp.training.optimizers import OPTIMIZERS

    p = add_command(
        commands, "train", "deck 002: train an MLP on digits / fashion-mnist / mnist",
        "Deck 002's workflow: Dense(32, relu) -> Dense(10, softmax), Adam, categorical cross-entropy, "
        "fit(epochs=30, batch_size=64, validation_split=0.2), then the test loss and accuracy. The "
        "training rows are shuffled once with --seed before validation_split holds out the last "
        "fraction (Keras's rule), so the validation rows are a random sample.",
        f"Writes {', '.join(TRAIN_FILES)} into --out; refuses to replace them without --force. "
        "'jaxmlp evaluate OUT/model.npz' and 'jaxmlp predict OUT/model.npz INPUT' use the model.")
    p.add_argument("--dataset", choices=tuple(DATASETS), default="digits", metavar="NAME",
                   help=f"{', '.join(DATASETS)}; digits ships with scikit-learn, see 'jaxmlp data' for "
                   "the others")
    p.add_argument("--data-dir", metavar="DIR", help="a folder searched first for the data set's files")
    p.add_argument("--hidden", type=argtypes.widths, default="32", metavar="N,N,...",
                   help="hidden layer widths ('none' for no hidden layer)")
    p.add_argument("--activation", choices=activation_names(), default="relu", metavar="NAME",
                   help=f"hidden activation: {', '.join(activation_names())}")
    p.add_argument("--loss", choices=loss_names(), default="categorical_crossentropy", metavar="NAME",
                   help=f"{', '.join(loss_names())} (sse = 1/2 sum (o - t)^2 per example)")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="adam",
                   help="momentum is sgd with momentum 0.9")
    p.add_argument("--lr", type=many.rates(argtypes.positive_float), metavar="RATE[,RATE...]",
                   help="learning rate (default: Keras's for the optimizer: sgd 0.01, adam 0.001, ...); "
                   "a list trains one model per rate together (see below)")
    p.add_argument("--epochs", type=argtypes.int_at_least(1), default=30,
                   help="passes over the training rows")
    p.add_argument("--batch-size", type=argtypes.int_at_least(1), default=64, help="rows per update")
    p.add_argument("--validation-split", type=argtypes.fraction, default=0.2, metavar="FRACTION",
                   help="the last fraction of the (shuffled) training rows; 0 for none")
    p.add_argument("--l2", type=many.rates(argtypes.nonnegative_float), default="0", metavar="RATE[,RATE...]",
                   help="L2 regularisation: adds RATE/2 sum w^2 (weights only); a list trains one model "
                   "per rate together")
    p.add_argument("--l1", type=argtypes.nonnegative_float, default="0", metavar="RATE",
                   help="L1 regularisation: adds RATE sum |w| (weights only)")
    p.add_argument("--grad", choices=GRADS, default="backprop",
                   help="the hand-written delta rule or jax.grad")
    p.add_argument("--early-stopping", type=argtypes.int_at_least(0), metavar="PATIENCE",
                   help="stop once val_loss (loss without validation rows) has not improved for "
                   "PATIENCE epochs, as Keras; keep the best epoch's weights")
    p.add_argument("--seed", type=argtypes.int_at_least(0), default=0, help="initial weights and shuffles")
    p.add_argument("--checkpoint", metavar="FILE.npz",
                   help="save the run here after every epoch (for --resume)")
    p.add_argument("--resume", metavar="FILE.npz", help="continue a checkpointed run up to --epochs (same "
                   "model and optimizer; add --force to replace the earlier run's --out files)")
    p.add_argument("--out", metavar="DIR", help="where the model, pictures and history go "
                   "(default: runs/train-DATASET)")
    p.add_argument("--force", action="store_true", help="replace the files of an earlier run")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 silent, 1 a progress bar per epoch, 2 one line per epoch")
    many.add(p)
    _add_processes(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train, evaluate on the test rows, write the model, pictures and history; return 0."""
    rank, count = _join(args)  # one run over several processes, or (0, 1)
    if many.requested(args):  # --seeds, --folds, or a list for --lr / --l2: jaxmlp.cli.many
        return many.run(args)
    import jax
    import numpy as np

    from jaxmlp import MLP, EarlyStopping, evaluate, fit, plot, predict, save
    from jaxmlp.data.split import split_index

    out = check_out(args.out or f"runs/train-{args.dataset}", TRAIN_FILES, args.force)
    _check_checkpoints(args)
    plot.require_matplotlib()
    (x, t), (x_test, t_test) = load_dataset(args.dataset, args.data_dir)
    key_init, key_shuffle, key_fit = jax.random.split(jax.random.key(args.seed), 3)
    order = np.asarray(jax.random.permutation(key_shuffle, len(x)))
    x, t = x[order], t[order]
    x, t = _own_rows(x, t, rank, count)
    classes = int(max(t.max(), t_test.max())) + 1
    model = MLP((x.shape[1], *args.hidden, classes), (args.activation,) * len(args.hidden) + ("softmax",))
    print(model.summary())
    n_val = len(x) - split_index(len(x), args.validation_split) if args.validation_split else 0
    held = (f"{n_val:,} validation rows (the last {args.validation_split:.0%} after one shuffle)" if n_val
            else "no validation rows")
    print(f"{args.dataset}: {len(x) - n_val:,} training rows, {held}, {len(x_test):,} test rows; "
          f"{math.ceil((len(x) - n_val) / (args.batch_size // count))} updates per epoch")
    stopping = None
    if args.early_stopping is not None:
        stopping = EarlyStopping("val_loss" if n_val else "loss", patience=args.early_stopping)
    started = time.perf_counter()
    params, history = fit(
        model, model.init(key_init), x, t, optimizer=_optimizer(args.optimizer, args.lr), loss=args.loss,
        epochs=args.epochs, batch_size=args.batch_size, validation_split=args.validation_split,
        key=key_fit, grad=args.grad, l2=args.l2, l1=args.l1, early_stopping=stopping,
        checkpoint=args.checkpoint, resume=args.resume, verbose=args.verbose,
        on_epoch_end=stop_if_interrupted, devices="all" if count > 1 else None)
    seconds = time.perf_counter() - started
    if stopping is not None and len(history["loss"]) < args.epochs:
        scores = history[stopping.monitor]
        print(f"early stopping: no better {stopping.monitor} for {max(args.early_stopping, 1)} epochs; "
              f"kept the weights of epoch {scores.index(min(scores)) + 1}")
    stop_if_interrupted()
    result = evaluate(model, params, x_test, t_test, loss=args.loss, l2=args.l2, l1=args.l1)
    epochs = len(history["loss"])
    print(f"trained {epochs} epoch{'s' * (epochs != 1)} in {seconds:.1f} s - {score_line(result)}")
    if args.dataset == "digits" and n_val:
        print(DIGITS_NOTE)
    if rank:  # process 0 writes the outputs
        return 0
    command = shlex.join(["jaxmlp", *getattr(args, "argv", ["train"])])
    record = {"command": command, "settings": _settings(args), "seed": args.seed, "versions": versions(),
              "data": {"dataset": args.dataset, "training_rows": len(x) - n_val, "validation_rows": n_val,
                       "test_rows": len(x_test)},
              "test": result, "seconds": seconds, "history": history}
    predictions = np.asarray(predict(model, params, x_test)).argmax(axis=1)
    names = FASHION_CLASSES if args.dataset == "fashion-mnist" else None
    written = [
        save(out / TRAIN_FILES[0], model, params, history=history,
             run={key: record[key] for key in ("command", "settings", "seed", "versions", "data", "test")}),
        plot.learning_curves(history, out / TRAIN_FILES[1], title=f"{args.dataset}: {describe(model)}"),
        plot.confusion_matrix(t_test, predictions, out / TRAIN_FILES[2], class_names=names,
                              title=f"{args.dataset}: confusion matrix of the {len(t_test):,} test rows "
                              f"(accuracy {result['accuracy']:.1%})"),
        plot.weight_images(params[0]["w"], out / TRAIN_FILES[3],
                           title=f"{args.dataset}: first-layer weights, one image per hidden neuron"),
        write_json(record, out / TRAIN_FILES[4]),
    ]
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def score_line(result: dict[str, float]) -> str:
    """``test loss: 0.1234 - test accuracy: 0.9630``, as ``train`` and ``evaluate`` print it."""
    return " - ".join(f"test {name}: {value:.4f}" for name, value in result.items())


def _check_checkpoints(args: argparse.Namespace) -> None:
    """``--checkpoint`` writable and not someone else's run; ``--resume`` a readable checkpoint of
    this batch size. Before any data is loaded."""
    from jaxmlp import load
    from jaxmlp.core.checks import check_output

    if args.checkpoint is not None:
        try:
            check_output("--checkpoint", args.checkpoint, ".npz")
        except (TypeError, ValueError) as error:
            raise CLIError(str(error)) from None
        same = args.resume is not None and Path(args.resume).resolve() == Path(args.checkpoint).resolve()
        if Path(args.checkpoint).exists() and not args.force and not same:
            raise CLIError(f"--checkpoint: {args.checkpoint} already exists; pass --force to replace it "
                           f"(or --resume {args.checkpoint} to continue it)")
    if args.resume is None:
        return
    if not Path(args.resume).is_file():
        raise CLIError(f"--resume: {args.resume!r} does not exist or is not a file")
    try:
        saved = load(args.resume).run.get("batch_size")
    except ValueError as error:
        raise CLIError(f"--resume: {error}") from None
    if saved is not None and saved != args.batch_size:
        raise CLIError(f"--batch-size: {args.resume} was trained with --batch-size {saved}, not "
                       f"{args.batch_size}; resuming would change the run")


def _settings(args: argparse.Namespace) -> dict:
    return {key.replace("_", "-"): list(value) if isinstance(value, tuple) else value
            for key, value in vars(args).items() if key not in ("handler", "command", "argv")}


def _optimizer(name: str, lr: float | None):
    """Keras's optimizer ``name`` with learning rate ``lr`` (Keras's default rate when None)."""
    from jaxmlp import get_optimizer

    return get_optimizer(name, lr)


def _add_processes(p: argparse.ArgumentParser) -> None:
    """The flags of one run over several processes (jax.distributed), in their own help group."""
    group = p.add_argument_group(
        "several processes (jax.distributed)",
        "Start the same command in every process, on one host or several: together they train one "
        "model. Each process keeps only its own 1/N of the shuffled training rows (N equal parts, in "
        "process order; a remainder of fewer than N rows is left out), --batch-size is the global "
        "batch, and process 0 prints and writes the outputs and the --checkpoint (on several hosts, "
        "give --checkpoint and --resume a shared path). Without these flags, a process joins the run "
        "that jax.distributed.initialize finds in its environment: JAX_COORDINATOR_ADDRESS, or a Slurm "
        "step (srun) or Open MPI job of several tasks.")
    group.add_argument("--coordinator", metavar="HOST:PORT",
                       help="process 0's address and a free port, the same in every process")
    group.add_argument("--num-processes", type=argtypes.int_at_least(1), metavar="N",
                       help="how many processes train together")
    group.add_argument("--process-id", type=argtypes.int_at_least(0), metavar="I",
                       help="this process's number, 0 to N-1")


def _join(args: argparse.Namespace) -> tuple[int, int]:
    """``(rank, count)``: join the run of several processes the flags (or the environment) name,
    silencing the standard output of every process but 0; ``(0, 1)`` when there is none."""
    flags = (getattr(args, "coordinator", None), getattr(args, "num_processes", None),
             getattr(args, "process_id", None))
    if flags == (None, None, None) and not _cluster_environment():
        return 0, 1
    coordinator, count, rank = flags
    if coordinator is not None:
        host, _, port = coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise CLIError(f"--coordinator: expected HOST:PORT (process 0's address), got {coordinator!r}")
    if count is not None and rank is not None and rank >= count:
        raise CLIError(f"--process-id: expected 0 to {count - 1} for --num-processes {count}, got {rank}")
    import jax

    from jaxmlp import parallel

    try:
        parallel.initialize(coordinator, count, rank)
    except (ValueError, TypeError, RuntimeError) as error:
        raise CLIError(f"--coordinator/--num-processes/--process-id: {error}") from None
    rank, count = jax.process_index(), jax.process_count()
    if args.batch_size % count:
        raise CLIError(f"--batch-size: {args.batch_size} rows do not split evenly over {count} processes; "
                       f"use a multiple of {count}")
    if count > 1 and many.requested(args):
        raise CLIError("--num-processes: several processes train one model; --seeds, --folds and lists "
                       "for --lr / --l2 are not supported across processes")
    if rank:
        sys.stdout = open(os.devnull, "w")  # for the rest of the process
    return rank, count


def _own_rows(x, t, rank: int, count: int):
    """Process ``rank``'s part of the shuffled training rows: ``count`` equal consecutive parts."""
    if count == 1:
        return x, t
    size = len(x) // count
    print(f"process 0 of {count}: training rows 0 to {size - 1} of {len(x):,} shuffled rows ({size:,} per "
          f"process{f'; the last {len(x) - size * count} left out' if len(x) % count else ''}); the row "
          f"counts below are per process, the batch size global")
    return x[rank * size:(rank + 1) * size], t[rank * size:(rank + 1) * size]


def _cluster_environment() -> bool:
    """Whether the environment names a run of several processes (as jax.distributed reads it)."""
    def more_than_one(name: str) -> bool:
        value = os.environ.get(name, "1")
        return value.isdigit() and int(value) > 1

    return bool(os.environ.get("JAX_COORDINATOR_ADDRESS")) or any(
        more_than_one(name) for name in ("SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE"))
