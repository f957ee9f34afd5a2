"""``jaxmlp train``: deck 002's Keras workflow on a named data set, ending in a model file.

Every path and option is checked before the data is loaded; the run writes ``model.npz`` (a
jaxmlp checkpoint: :func:`jaxmlp.load` reads it, ``jaxmlp evaluate`` / ``jaxmlp predict`` use it),
three pictures and ``history.json`` (the settings, seed, versions, test score and per-epoch
history), each atomically.
"""

from __future__ import annotations

import argparse
import math
import shlex
import time
from pathlib import Path

from jaxmlp.cli import argtypes, many, processes
from jaxmlp.cli.common import (
    CLIError,
    add_command,
    describe,
    load_dataset,
    stop_if_interrupted,
    versions,
    write_json,
)
from jaxmlp.cli.runs import (
    DIGITS_NOTE,
    FASHION_CLASSES,
    TRAIN_FILES,
    output_folder,
    quiet_unless,
    score_line,
    settings,
)

__all__ = ["add", "run"]


def add(commands) -> None:
    """The ``train`` parser."""
    from jaxmlp import activation_names, loss_names
    from jaxmlp.data import DATASETS
    from jaxmlp.training.optimizers import OPTIMIZERS
    from jaxmlp.training.step import GRADS

    p = add_command(
        commands, "train", "deck 002: train an MLP on digits / fashion-mnist / mnist",
        "Deck 002's workflow (deck 002: the lecture slides on Keras that jaxmlp follows): "
        "Dense(32, relu) -> Dense(10, softmax), Adam, categorical "
        "cross-entropy, fit(epochs=30, batch_size=64, validation_split=0.2), then the test loss "
        "and accuracy. The training rows are shuffled once with --seed before validation_split "
        "holds out the last fraction (Keras's rule), so the validation rows are a random sample.",
        f"Writes {', '.join(TRAIN_FILES)} into --out (refusing to replace them without --force), "
        "or into a new folder runs/train-DATASET, runs/train-DATASET-2, ... 'jaxmlp evaluate "
        "OUT/model.npz' and 'jaxmlp predict OUT/model.npz INPUT' use the model.")
    p.add_argument("--dataset", choices=tuple(DATASETS), default="digits", metavar="NAME",
                   help=f"{', '.join(DATASETS)}; digits ships with jaxmlp, see 'jaxmlp data' "
                   "for the others")
    p.add_argument("--data-dir", metavar="DIR",
                   help="a folder searched first for the data set's files")
    p.add_argument("--hidden", type=argtypes.widths, default="32", metavar="N,N,...",
                   help="hidden layer widths ('none' for no hidden layer)")
    p.add_argument("--activation", choices=activation_names(), default="relu", metavar="NAME",
                   help=f"hidden activation: {', '.join(activation_names())}")
    p.add_argument("--loss", choices=loss_names(), default="categorical_crossentropy",
                   metavar="NAME",
                   help=f"{', '.join(loss_names())} (sse = 1/2 sum (o - t)^2 per example)")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="adam",
                   help="momentum is sgd with momentum 0.9")
    p.add_argument("--lr", type=many.rates(argtypes.positive_float), metavar="RATE[,RATE...]",
                   help="learning rate (default: Keras's for the optimizer: sgd 0.01, adam "
                   "0.001, ...); a list trains one model per rate together (see below)")
    p.add_argument("--epochs", type=argtypes.int_at_least(1), default=30,
                   help="passes over the training rows")
    p.add_argument("--batch-size", type=argtypes.int_at_least(1), default=64,
                   help="rows per update")
    p.add_argument("--validation-split", type=argtypes.fraction, default=0.2, metavar="FRACTION",
                   help="the last fraction of the (shuffled) training rows; 0 for none")
    p.add_argument("--l2", type=many.rates(argtypes.nonnegative_float), default="0",
                   metavar="RATE[,RATE...]",
                   help="L2 regularisation: adds RATE/2 sum w^2 (weights only); a list trains "
                   "one model per rate together")
    p.add_argument("--l1", type=argtypes.nonnegative_float, default="0", metavar="RATE",
                   help="L1 regularisation: adds RATE sum |w| (weights only)")
    p.add_argument("--grad", choices=GRADS, default="backprop",
                   help="the hand-written delta rule or jax.grad")
    p.add_argument("--early-stopping", type=argtypes.int_at_least(0), metavar="PATIENCE",
                   help="stop once val_loss (loss without validation rows) has not improved for "
                   "PATIENCE epochs, as Keras; keep the best epoch's weights")
    p.add_argument("--seed", type=argtypes.int_at_least(0), default=0,
                   help="initial weights and shuffles")
    p.add_argument("--checkpoint", metavar="FILE.npz",
                   help="save the run here after every epoch (for --resume); not one of the "
                   "run's own outputs")
    p.add_argument("--resume", metavar="FILE.npz",
                   help="continue a checkpointed run up to --epochs (same model and optimizer; "
                   "add --force to replace the earlier run's --out files)")
    p.add_argument("--out", metavar="DIR", help="where the model, pictures and history go "
                   "(default: a new folder runs/train-DATASET, runs/train-DATASET-2, ...)")
    p.add_argument("--force", action="store_true", help="replace the files of an earlier run")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 silent, 1 a progress bar per epoch, 2 one line per epoch")
    many.add(p)
    processes.add(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train, evaluate on the test rows, write the model, pictures and history; return 0.

    Of several processes, only process 0 prints (the others' standard output goes to
    ``os.devnull`` for this command only) and writes the files.
    """
    rank, count = processes.join(args)  # one run over several processes, or (0, 1)
    with quiet_unless(rank == 0):
        if many.requested(args):  # --seeds, --folds, or a list for --lr / --l2: cli.many
            return many.run(args)
        with output_folder(args, TRAIN_FILES, writes=rank == 0) as out:
            return _train(args, out, rank, count)


def _train(args: argparse.Namespace, out: Path, rank: int, count: int) -> int:
    import jax
    import numpy as np

    from jaxmlp import MLP, EarlyStopping, TrainingError, evaluate, fit, plot, predict, save
    from jaxmlp.data.split import split_index

    _check_checkpoints(args)
    plot.require_matplotlib()
    (x, t), (x_test, t_test) = load_dataset(args.dataset, args.data_dir)
    key_init, key_shuffle, key_fit = jax.random.split(jax.random.key(args.seed), 3)
    order = np.asarray(jax.random.permutation(key_shuffle, len(x)))
    x, t = processes.own_rows(x[order], t[order], rank, count)
    classes = int(max(t.max(), t_test.max())) + 1
    model = MLP((x.shape[1], *args.hidden, classes),
                (args.activation,) * len(args.hidden) + ("softmax",))
    params = model.init(key_init)  # a MemoryError before the summary when it cannot be held
    print(model.summary())
    n_val = len(x) - split_index(len(x), args.validation_split) if args.validation_split else 0
    held = (f"{n_val:,} validation rows (the last {args.validation_split:.0%} after one shuffle)"
            if n_val else "no validation rows")
    print(f"{args.dataset}: {len(x) - n_val:,} training rows, {held}, {len(x_test):,} test rows; "
          f"{math.ceil((len(x) - n_val) / (args.batch_size // count))} updates per epoch")
    stopping = None
    if args.early_stopping is not None:
        stopping = EarlyStopping("val_loss" if n_val else "loss", patience=args.early_stopping)
    started = time.perf_counter()
    try:
        params, history = fit(
            model, params, x, t, optimizer=_optimizer(args.optimizer, args.lr), loss=args.loss,
            epochs=args.epochs, batch_size=args.batch_size,
            validation_split=args.validation_split, key=key_fit, grad=args.grad, l2=args.l2,
            l1=args.l1, early_stopping=stopping, checkpoint=args.checkpoint, resume=args.resume,
            verbose=args.verbose, on_epoch_end=stop_if_interrupted,
            devices="all" if count > 1 else None)
    except TrainingError as error:
        rate = f"--lr {args.lr:g}" if args.lr else f"{args.optimizer}'s default learning rate"
        raise CLIError(f"training diverged: non-finite loss at epoch {error.epoch}, step "
                       f"{error.step} with {rate}; try a smaller --lr") from None
    seconds = time.perf_counter() - started
    if stopping is not None and len(history["loss"]) < args.epochs:
        scores = history[stopping.monitor]
        print(f"early stopping: no better {stopping.monitor} for {max(args.early_stopping, 1)} "
              f"epochs; kept the weights of epoch {scores.index(min(scores)) + 1}")
    stop_if_interrupted()
    result = evaluate(model, params, x_test, t_test, loss=args.loss, l2=args.l2, l1=args.l1)
    epochs = len(history["loss"])
    print(f"trained {epochs} epoch{'s' * (epochs != 1)} in {seconds:.1f} s - {score_line(result)}")
    if args.dataset == "digits" and n_val:
        print(DIGITS_NOTE)
    if rank:  # process 0 writes the outputs
        return 0
    command = shlex.join(["jaxmlp", *getattr(args, "argv", ["train"])])
    record = {"command": command, "settings": settings(args), "seed": args.seed,
              "versions": versions(),
              "data": {"dataset": args.dataset, "training_rows": len(x) - n_val,
                       "validation_rows": n_val, "test_rows": len(x_test)},
              "test": result, "seconds": seconds, "history": history}
    predictions = np.asarray(predict(model, params, x_test)).argmax(axis=1)
    names = FASHION_CLASSES if args.dataset == "fashion-mnist" else None
    run = {key: record[key] for key in ("command", "settings", "seed", "versions", "data", "test")}
    written = [
        save(out / TRAIN_FILES[0], model, params, history=history, run=run),
        plot.learning_curves(history, out / TRAIN_FILES[1],
                             title=f"{args.dataset}: {describe(model)}"),
        plot.confusion_matrix(t_test, predictions, out / TRAIN_FILES[2], class_names=names,
                              title=f"{args.dataset}: confusion matrix of the {len(t_test):,} "
                              f"test rows (accuracy {result['accuracy']:.1%})"),
        plot.weight_images(params[0]["w"], out / TRAIN_FILES[3],
                           title=f"{args.dataset}: each hidden neuron's first-layer weights "
                           "as an image"),
        write_json(record, out / TRAIN_FILES[4]),
    ]
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


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
        same = (args.resume is not None
                and Path(args.resume).resolve() == Path(args.checkpoint).resolve())
        if Path(args.checkpoint).exists() and not args.force and not same:
            raise CLIError(f"--checkpoint: {args.checkpoint} already exists; pass --force to "
                           f"replace it (or --resume {args.checkpoint} to continue it)")
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


def _optimizer(name: str, lr: float | None):
    """Keras's optimizer ``name`` with learning rate ``lr`` (Keras's default rate when None)."""
    from jaxmlp import get_optimizer

    return get_optimizer(name, lr)


