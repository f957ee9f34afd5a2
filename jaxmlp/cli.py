"""The command line: ``jaxmlp train | playground | data | verify | bench``.

``jaxmlp train`` is deck 002's Keras workflow on a named data set, ``jaxmlp playground`` deck 004's
TensorFlow Playground, ``jaxmlp data`` lists and downloads the data sets; ``verify`` and ``bench``
hand over to :mod:`jaxmlp.verify` and :mod:`jaxmlp.bench`. :func:`main` returns the exit status:
0 on success, 1 when the run fails (a one-line ``jaxmlp: error: ...`` on stderr; set
``JAXMLP_DEBUG=1`` for the traceback), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from jaxmlp import argtypes

__all__ = ["build_parser", "main"]

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot")
PLAYGROUND_ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
TRAIN_FILES = ("learning_curves.png", "confusion_matrix.png", "weights.png", "history.json")
PLAYGROUND_FILES = ("decision_boundary.png", "learning_curves.png", "history.json")


class CLIError(Exception):
    """A failure the command line reports in one line (exit status 1)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jaxmlp ARGS`` and return the exit status (0 ok, 1 failed run, 2 bad arguments)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["bench"]:  # every further argument is bench's own
            return _guarded(lambda: importlib.import_module("jaxmlp.bench").main(argv[1:]))
        args = build_parser().parse_args(argv)
        return _guarded(lambda: args.handler(args))
    except SystemExit as exit_:  # --help, --version and argparse's errors
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every subcommand (each with ``--help`` showing its defaults)."""
    from jaxmlp import __version__

    parser = _Parser(prog="jaxmlp", formatter_class=_Formatter,
                     description="Multi-layer perceptrons in JAX, as the lectures teach them.",
                     epilog="Run 'jaxmlp COMMAND --help' for a command's options and defaults. "
                     "Errors are one line on stderr (exit status 1; 2 for bad arguments); set "
                     "JAXMLP_DEBUG=1 to see the traceback instead.")
    parser.add_argument("--version", action="version", version=f"jaxmlp {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    _add_train(commands)
    _add_playground(commands)
    _add_data(commands)
    verify = commands.add_parser(
        "verify", help="check the lecture derivations, jaxmlp's backprop or your own file against jax.grad",
        formatter_class=_Formatter,
        description="Compare hand-written gradients with jax.grad and print one line per check: without "
        "FILE, the lecture derivations and jaxmlp's own backprop over random networks; with FILE, your "
        "derivation (a Python file defining model, loss and grads(params, x, t); see "
        "examples/my_derivation.py). Exit status 0 when all pass, 1 when one fails, 2 when FILE cannot "
        "be used.")
    verify.add_argument("file", nargs="?", metavar="FILE", help="your derivation (a .py file)")
    verify.add_argument("--seed", type=argtypes.int_at_least(0), default=0,
                        help="seed of the random test points")
    verify.set_defaults(handler=_verify)
    commands.add_parser("bench", add_help=False, help="time training on this machine (jaxmlp bench --help)")
    return parser


# --- jaxmlp train -------------------------------------------------------------------------


def _add_train(commands) -> None:
    from jaxmlp import activation_names, loss_names
    from jaxmlp.data import DATASETS
    from jaxmlp.train import GRADS, OPTIMIZERS

    p = commands.add_parser(
        "train", help="deck 002: train an MLP on digits / fashion-mnist / mnist", formatter_class=_Formatter,
        description="Deck 002's workflow: Dense(32, relu) -> Dense(10, softmax), Adam, categorical "
        "cross-entropy, fit(epochs=30, batch_size=64, validation_split=0.2), then the test loss and "
        "accuracy. The training rows are shuffled once with --seed before validation_split holds out "
        "the last fraction (Keras's rule), so the validation rows are a random sample.",
        epilog=f"Writes {', '.join(TRAIN_FILES)} into --out; refuses to replace them without --force.")
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
    p.add_argument("--lr", type=argtypes.positive_float, metavar="RATE",
                   help="learning rate (default: Keras's for the optimizer: sgd 0.01, adam 0.001, ...)")
    p.add_argument("--epochs", type=argtypes.int_at_least(0), default=30,
                   help="passes over the training rows")
    p.add_argument("--batch-size", type=argtypes.int_at_least(1), default=64, help="rows per update")
    p.add_argument("--validation-split", type=argtypes.fraction, default=0.2, metavar="FRACTION",
                   help="the last fraction of the (shuffled) training rows; 0 for none")
    p.add_argument("--l2", type=argtypes.nonnegative_float, default="0", metavar="RATE",
                   help="L2 regularisation: adds RATE/2 sum w^2 (weights only)")
    p.add_argument("--l1", type=argtypes.nonnegative_float, default="0", metavar="RATE",
                   help="L1 regularisation: adds RATE sum |w| (weights only)")
    p.add_argument("--grad", choices=GRADS, default="backprop",
                   help="the hand-written delta rule or jax.grad")
    p.add_argument("--early-stopping", type=argtypes.int_at_least(0), metavar="PATIENCE",
                   help="stop once val_loss (loss without validation rows) has not improved for "
                   "PATIENCE epochs, as Keras; keep the best epoch's weights")
    p.add_argument("--seed", type=argtypes.int_at_least(0), default=0, help="initial weights and shuffles")
    p.add_argument("--checkpoint", metavar="FILE.npz", help="save the run here after every epoch")
    p.add_argument("--resume", metavar="FILE.npz", help="continue a checkpointed run up to --epochs (same "
                   "model and optimizer; add --force to replace the earlier run's --out files)")
    p.add_argument("--out", metavar="DIR", help="where the pictures and history go "
                   "(default: runs/train-DATASET)")
    p.add_argument("--force", action="store_true", help="replace the files of an earlier run")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 silent, 1 a progress bar per epoch, 2 one line per epoch")
    p.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    from jaxmlp import MLP, EarlyStopping, evaluate, fit, plot, predict

    out = Path(args.out or f"runs/train-{args.dataset}")
    _refuse_overwrite([out / name for name in TRAIN_FILES], args.force)
    if args.checkpoint and Path(args.checkpoint).exists() and not args.force and (
            args.resume is None or Path(args.resume).resolve() != Path(args.checkpoint).resolve()):
        raise CLIError(f"checkpoint {args.checkpoint} already exists; pass --force to replace it "
                       f"(or --resume {args.checkpoint} to continue it)")
    plot.require_matplotlib()
    (x, t), (x_test, t_test) = _load(args.dataset, args.data_dir)
    key_init, key_shuffle, key_fit = jax.random.split(jax.random.key(args.seed), 3)
    order = np.asarray(jax.random.permutation(key_shuffle, len(x)))
    x, t = x[order], t[order]
    classes = int(max(t.max(), t_test.max())) + 1
    model = MLP((x.shape[1], *args.hidden, classes), (args.activation,) * len(args.hidden) + ("softmax",))
    print(model.summary())
    n_val = len(x) - math.floor(len(x) * (1 - args.validation_split)) if args.validation_split else 0
    held = (f"{n_val:,} validation rows (the last {args.validation_split:.0%} after one shuffle)" if n_val
            else "no validation rows")
    print(f"{args.dataset}: {len(x) - n_val:,} training rows, {held}, {len(x_test):,} test rows; "
          f"{math.ceil((len(x) - n_val) / args.batch_size)} updates per epoch")
    stopping = None
    if args.early_stopping is not None:
        stopping = EarlyStopping("val_loss" if n_val else "loss", patience=args.early_stopping)
    started = time.perf_counter()
    params, history = fit(
        model, model.init(key_init), x, t, optimizer=_optimizer(args.optimizer, args.lr), loss=args.loss,
        epochs=args.epochs, batch_size=args.batch_size, validation_split=args.validation_split,
        key=key_fit, grad=args.grad, l2=args.l2, l1=args.l1, early_stopping=stopping,
        checkpoint=args.checkpoint, resume=args.resume, verbose=args.verbose)
    seconds = time.perf_counter() - started
    if stopping is not None and len(history["loss"]) < args.epochs:
        scores = history[stopping.monitor]
        print(f"early stopping: no better {stopping.monitor} for {max(args.early_stopping, 1)} epochs; "
              f"kept the weights of epoch {scores.index(min(scores)) + 1}")
    result = evaluate(model, params, x_test, t_test, loss=args.loss, l2=args.l2, l1=args.l1)
    epochs = len(history["loss"])
    print(f"trained {epochs} epoch{'s' * (epochs != 1)} in {seconds:.1f} s - test loss: {result['loss']:.4f} "
          f"- test accuracy: {result['accuracy']:.4f}")
    predictions = np.asarray(predict(model, params, x_test)).argmax(axis=1)
    names = FASHION_CLASSES if args.dataset == "fashion-mnist" else None
    written = [
        plot.learning_curves(history, out / TRAIN_FILES[0], title=f"{args.dataset}: {_describe(model)}"),
        plot.confusion_matrix(t_test, predictions, out / TRAIN_FILES[1], class_names=names,
                              title=f"{args.dataset}: confusion matrix of the {len(t_test):,} test rows "
                              f"(accuracy {result['accuracy']:.1%})"),
        plot.weight_images(params[0]["w"], out / TRAIN_FILES[2],
                           title=f"{args.dataset}: first-layer weights, one image per hidden neuron "
                           "(red > 0 > blue)"),
        _write_json(history, out / TRAIN_FILES[3]),
    ]
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


# --- jaxmlp playground --------------------------------------------------------------------


def _add_playground(commands) -> None:
    from jaxmlp.data import FEATURES, PLAYGROUND_DATASETS

    p = commands.add_parser(
        "playground", help="deck 004: the TensorFlow Playground on the command line",
        formatter_class=_Formatter,
        description="Deck 004's TensorFlow Playground: a small network on 2-D points, trained with "
        "plain SGD (optax.sgd) on mini-batches. Classification (circle, xor, gauss, spiral) uses the "
        "Playground's own choice: labels +1 / -1, a tanh output and the squared error 1/2 (o - t)^2; "
        "regression (plane, multigauss) an identity output and the same squared error. The losses "
        "printed are the Playground's: the mean of 1/2 (o - t)^2 over the training and the test "
        "points after each epoch, without the regularisation term.",
        epilog=f"Writes {', '.join(PLAYGROUND_FILES)} into --out; refuses to replace them without "
        "--force. Data sets: " + "; ".join(f"{k} ({v[0]})" for k, v in PLAYGROUND_DATASETS.items()))
    p.add_argument("--dataset", choices=tuple(PLAYGROUND_DATASETS), default="circle",
                   help="the Playground's data set (listed below)")
    p.add_argument("--features", type=argtypes.names(FEATURES), default="x,y", metavar="F,F,...",
                   help=f"input features from {','.join(FEATURES)}")
    p.add_argument("--hidden", type=argtypes.widths, default="4,2", metavar="N,N,...",
                   help="hidden layer widths ('none' for no hidden layer)")
    p.add_argument("--activation", choices=PLAYGROUND_ACTIVATIONS, default="tanh",
                   help="activation of the hidden layers")
    p.add_argument("--lr", type=argtypes.positive_float, default="0.03", metavar="RATE", help="learning rate")
    p.add_argument("--regularization", choices=("none", "l1", "l2"), default="none",
                   help="l1 adds rate sum |w|, l2 adds rate/2 sum w^2 (weights only)")
    p.add_argument("--rate", type=argtypes.nonnegative_float, default="0", help="regularisation rate")
    p.add_argument("--noise", type=argtypes.number_in(0, 50), default="0", metavar="PERCENT",
                   help="the noise slider, 0 to 50")
    p.add_argument("--batch-size", type=argtypes.int_at_least(1), default=10, help="points per update")
    p.add_argument("--train-ratio", type=argtypes.number_in(1, 99), default="50", metavar="PERCENT",
                   help="percentage of the points used for training")
    p.add_argument("--samples", type=argtypes.int_at_least(4), metavar="N",
                   help="number of points (default: 500 for classification, 1200 for regression)")
    p.add_argument("--epochs", type=argtypes.int_at_least(1), default=200,
                   help="passes over the training points")
    p.add_argument("--log-every", type=argtypes.int_at_least(1), metavar="K",
                   help="print every K-th epoch (default: about 20 lines)")
    p.add_argument("--seed", type=argtypes.int_at_least(0), default=0,
                   help="the points, weights and shuffles")
    p.add_argument("--out", metavar="DIR", help="where the pictures go (default: runs/playground-DATASET)")
    p.add_argument("--force", action="store_true", help="replace the files of an earlier run")
    p.set_defaults(handler=_playground)


def _playground(args: argparse.Namespace) -> int:
    import jax
    import numpy as np
    import optax

    from jaxmlp import MLP, evaluate, fit, plot, predict
    from jaxmlp.data import PLAYGROUND_DATASETS, features, playground_data

    out = Path(args.out or f"runs/playground-{args.dataset}")
    _refuse_overwrite([out / name for name in PLAYGROUND_FILES], args.force)
    plot.require_matplotlib()
    if args.regularization != "none" and args.rate == 0:
        print(f"note: --regularization {args.regularization} with --rate 0 has no effect")
    classify = PLAYGROUND_DATASETS[args.dataset][0] == "classification"
    key_data, key_init, key_fit = jax.random.split(jax.random.key(args.seed), 3)
    (xy, t), (xy_test, t_test) = playground_data(args.dataset, key_data, n=args.samples, noise=args.noise,
                                                 train_ratio=args.train_ratio, labels="pm1")
    x, x_test = features(xy, args.features), features(xy_test, args.features)
    model = MLP((len(args.features), *args.hidden, 1),
                (args.activation,) * len(args.hidden) + ("tanh" if classify else "identity",))
    penalty = {args.regularization: args.rate} if args.regularization != "none" else {}
    optimizer = optax.sgd(args.lr)
    print(f"{args.dataset} ({'classification' if classify else 'regression'}): {len(x)} training / "
          f"{len(x_test)} test points, noise {args.noise:g}; {_describe(model)}; SGD lr {args.lr:g}, "
          f"batch {args.batch_size}, regularization {args.regularization}"
          + (f" {args.rate:g}" if penalty else ""))
    every = args.log_every or max(1, args.epochs // 20)
    params, history = model.init(key_init), {"loss": [], "test_loss": []}
    for epoch in range(args.epochs):
        params, _ = fit(model, params, x, t, optimizer=optimizer, loss="sse", epochs=1,
                        batch_size=args.batch_size, metrics=(), key=jax.random.fold_in(key_fit, epoch),
                        verbose=0, **penalty)
        history["loss"].append(evaluate(model, params, x, t, loss="sse", metrics=())["loss"])
        history["test_loss"].append(evaluate(model, params, x_test, t_test, loss="sse", metrics=())["loss"])
        if epoch == 0 or (epoch + 1) % every == 0 or epoch + 1 == args.epochs:
            print(f"epoch {epoch + 1:5d}  training loss {history['loss'][-1]:.4f}  "
                  f"test loss {history['test_loss'][-1]:.4f}")
    if classify:
        agree = np.sign(np.asarray(predict(model, params, x_test))) == t_test
        print(f"test accuracy {agree.mean():.1%} (sign of the output against the +1 / -1 label)")

    def surface(points):
        return np.asarray(predict(model, params, features(points, args.features)))[:, 0]

    title = (f"{args.dataset}: {','.join(args.features)} → {_describe(model)}\nepoch {args.epochs}, "
             f"training loss {history['loss'][-1]:.3f}, test loss {history['test_loss'][-1]:.3f}")
    written = [
        plot.decision_boundary(surface, out / PLAYGROUND_FILES[0], train=(xy, t), test=(xy_test, t_test),
                               title=title, regression=not classify),
        plot.learning_curves(history, out / PLAYGROUND_FILES[1],
                             title=f"{args.dataset}: mean ½ (o − t)² after each epoch"),
        _write_json(history, out / PLAYGROUND_FILES[2]),
    ]
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


# --- jaxmlp data, jaxmlp verify -----------------------------------------------------------


def _add_data(commands) -> None:
    from jaxmlp.data.fetch import MIRRORS

    p = commands.add_parser("data", help="list the data sets and where they are; download them",
                            formatter_class=_Formatter,
                            description="List the named data sets and where each was found, or how "
                            "to get it. 'jaxmlp data download NAME' fetches MNIST or Fashion-MNIST.")
    p.add_argument("--dir", metavar="DIR", help="a folder searched first (as --data-dir of train)")
    p.add_argument("-v", "--verbose", action="store_true", help="show every place searched")
    actions = p.add_subparsers(title="actions", dest="action", metavar="ACTION")
    download = actions.add_parser("download", help="download a data set's four IDX files",
                                  formatter_class=_Formatter,
                                  description="Download the four gz files, each checked by SHA-256.")
    download.add_argument("name", choices=tuple(MIRRORS))
    download.add_argument("--dir", dest="download_dir", metavar="DIR",
                          help="put the files in DIR/NAME (default: $JAXMLP_DATA, else ~/.cache/jaxmlp)")
    p.set_defaults(handler=_data)


def _data(args: argparse.Namespace) -> int:
    from jaxmlp.data import DATASETS, PLAYGROUND_DATASETS, download, locate

    if args.action == "download":
        print(f"downloading {args.name} ...", flush=True)
        folder = download(args.name, args.download_dir or args.dir)
        print(f"{args.name}: the four IDX files are in {folder}")
        return 0
    print("Data sets for 'jaxmlp train --dataset NAME':")
    for name, description in DATASETS.items():
        found, searched = locate(name, args.dir)
        where = f"found: {found}" if found else f"not found; get it with: jaxmlp data download {name}"
        print(f"  {name:<14} {where}\n  {'':<14} {description}")
        if args.verbose:
            print("\n".join(f"  {'':<16}{line}" for line in searched))
    print("Data sets for 'jaxmlp playground --dataset NAME' (generated, nothing to download):")
    for name, (problem, description) in PLAYGROUND_DATASETS.items():
        print(f"  {name:<14} {problem:<15} {description}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    return importlib.import_module("jaxmlp.verify").run(args.file, seed=args.seed)


# --- helpers ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of the usage block
        self.exit(2, f"jaxmlp: error: {message} (see '{self.prog} --help')\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action):  # no "(default: None)" / "(default: False)"
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)

    def _fill_text(self, text, width, indent):
        import textwrap

        return "\n\n".join(textwrap.fill(part, width, initial_indent=indent, subsequent_indent=indent)
                           for part in text.split("\n\n"))


def _guarded(run) -> int:
    from jaxmlp.train import TrainingError

    try:
        return int(run() or 0)
    except BrokenPipeError:  # the reader went away (jaxmlp data | head): stop quietly
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("jaxmlp: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, OSError, ImportError, TrainingError) as error:
        if os.environ.get("JAXMLP_DEBUG"):
            raise
        message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        if isinstance(error, TrainingError):
            message = (f"training diverged: non-finite loss at epoch {error.epoch}, step {error.step}; "
                       "try a smaller --lr")
        print(f"jaxmlp: error: {message or type(error).__name__}", file=sys.stderr)
        return 1


def _load(name: str, data_dir: str | None):
    from jaxmlp.data import DatasetNotFoundError, load

    try:
        return load(name, data_dir)
    except DatasetNotFoundError:
        if name == "digits":
            raise
        raise CLIError(f"data set {name!r} is not on this machine; get it with 'jaxmlp data download "
                       f"{name}' (or set JAXMLP_DATA to a folder holding its IDX files); "
                       "'jaxmlp data -v' shows where jaxmlp looked") from None


def _optimizer(name: str, lr: float | None):
    """Keras's optimizer ``name`` with learning rate ``lr`` (Keras's default rate when None)."""
    from jaxmlp import get_optimizer

    return get_optimizer(name, lr)


def _refuse_overwrite(paths: list[Path], force: bool) -> None:
    existing = [path for path in paths if path.exists()]
    if existing and not force:
        raise CLIError(f"{existing[0].parent} already holds {', '.join(p.name for p in existing)}; "
                       "pass --force to replace them, or choose another --out")


def _write_json(history: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(history, indent=1) + "\n")
    return path


def _describe(model) -> str:
    hidden = model.sizes[1:-1]
    inner = f"hidden {','.join(map(str, hidden))} {model.activations[0]}" if hidden else "no hidden layer"
    return f"{inner}, {model.activations[-1]} output"


if __name__ == "__main__":
    sys.exit(main())
