"""``jaxmlp playground``: deck 004's TensorFlow Playground on the command line."""

from __future__ import annotations

import argparse

from jaxmlp.cli import argtypes
from jaxmlp.cli.common import add_command, check_out, describe, stop_if_interrupted, write_json

__all__ = ["PLAYGROUND_ACTIVATIONS", "PLAYGROUND_FILES", "add", "run"]

PLAYGROUND_ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
PLAYGROUND_FILES = ("decision_boundary.png", "learning_curves.png", "history.json")


def add(commands) -> None:
    """The ``playground`` parser."""
    from jaxmlp.data import FEATURES, PLAYGROUND_DATASETS

    p = add_command(
        commands, "playground", "deck 004: the TensorFlow Playground on the command line",
        "Deck 004's TensorFlow Playground (deck 004: the lecture slides on supervised learning "
        "that jaxmlp follows): a small network on 2-D points, trained with plain SGD "
        "(optax.sgd) on mini-batches. Classification (circle, xor, gauss, spiral) uses the "
        "Playground's own choice: labels +1 / -1, a tanh output and the squared error 1/2 (o - "
        "t)^2; regression (plane, multigauss) an identity output and the same squared error. The "
        "losses printed are the Playground's: the mean of 1/2 (o - t)^2 over the training and the "
        "test points after each epoch, without the regularisation term.",
        f"Writes {', '.join(PLAYGROUND_FILES)} into --out; refuses to replace them without "
        "--force. Data "
        "sets: " + "; ".join(f"{k} ({v[0]})" for k, v in PLAYGROUND_DATASETS.items()))
    p.add_argument("--dataset", choices=tuple(PLAYGROUND_DATASETS), default="circle",
                   help="the Playground's data set (listed below)")
    p.add_argument("--features", type=argtypes.names(FEATURES), default="x,y", metavar="F,F,...",
                   help=f"input features from {','.join(FEATURES)}")
    p.add_argument("--hidden", type=argtypes.widths, default="4,2", metavar="N,N,...",
                   help="hidden layer widths ('none' for no hidden layer)")
    p.add_argument("--activation", choices=PLAYGROUND_ACTIVATIONS, default="tanh",
                   help="activation of the hidden layers")
    p.add_argument("--lr", type=argtypes.positive_float, default="0.03", metavar="RATE",
                   help="learning rate")
    p.add_argument("--regularization", choices=("none", "l1", "l2"), default="none",
                   help="l1 adds rate sum |w|, l2 adds rate/2 sum w^2 (weights only)")
    p.add_argument("--rate", type=argtypes.nonnegative_float, default="0",
                   help="regularisation rate")
    p.add_argument("--noise", type=argtypes.number_in(0, 50), default="0", metavar="PERCENT",
                   help="the noise slider, 0 to 50")
    p.add_argument("--batch-size", type=argtypes.int_at_least(1), default=10,
                   help="points per update")
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
    p.add_argument("--out", metavar="DIR",
                   help="where the pictures go (default: runs/playground-DATASET)")
    p.add_argument("--force", action="store_true", help="replace the files of an earlier run")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train epoch by epoch, printing the Playground's losses; draw the boundary; return 0."""
    import jax
    import numpy as np
    import optax

    from jaxmlp import MLP, evaluate, fit, plot, predict
    from jaxmlp.data import PLAYGROUND_DATASETS, features, playground_data

    out = check_out(args.out or f"runs/playground-{args.dataset}", PLAYGROUND_FILES, args.force)
    plot.require_matplotlib()
    if args.regularization != "none" and args.rate == 0:
        print(f"note: --regularization {args.regularization} with --rate 0 has no effect")
    classify = PLAYGROUND_DATASETS[args.dataset][0] == "classification"
    key_data, key_init, key_fit = jax.random.split(jax.random.key(args.seed), 3)
    (xy, t), (xy_test, t_test) = playground_data(args.dataset, key_data, n=args.samples,
                                                 noise=args.noise, train_ratio=args.train_ratio,
                                                 labels="pm1")
    x, x_test = features(xy, args.features), features(xy_test, args.features)
    model = MLP((len(args.features), *args.hidden, 1),
                (args.activation,) * len(args.hidden) + ("tanh" if classify else "identity",))
    penalty = {args.regularization: args.rate} if args.regularization != "none" else {}
    print(f"{args.dataset} ({'classification' if classify else 'regression'}): {len(x)} training / "
          f"{len(x_test)} test points, noise {args.noise:g}; {describe(model)}; SGD lr "
          f"{args.lr:g}, batch {args.batch_size}, regularization {args.regularization}"
          + (f" {args.rate:g}" if penalty else ""))
    every = args.log_every or max(1, args.epochs // 20)
    params, history = model.init(key_init), {"loss": [], "test_loss": []}
    for epoch in range(args.epochs):
        stop_if_interrupted()
        params, _ = fit(model, params, x, t, optimizer=optax.sgd(args.lr), loss="sse", epochs=1,
                        batch_size=args.batch_size, metrics=(),
                        key=jax.random.fold_in(key_fit, epoch), verbose=0, **penalty)
        train_loss = evaluate(model, params, x, t, loss="sse", metrics=())["loss"]
        test_loss = evaluate(model, params, x_test, t_test, loss="sse", metrics=())["loss"]
        history["loss"].append(train_loss)
        history["test_loss"].append(test_loss)
        if epoch == 0 or (epoch + 1) % every == 0 or epoch + 1 == args.epochs:
            print(f"epoch {epoch + 1:5d}  training loss {history['loss'][-1]:.4f}  "
                  f"test loss {history['test_loss'][-1]:.4f}")
    if classify:
        agree = np.sign(np.asarray(predict(model, params, x_test))) == t_test
        print(f"test accuracy {agree.mean():.1%} (sign of the output against the +1 / -1 label)")

    def surface(points):
        return np.asarray(predict(model, params, features(points, args.features)))[:, 0]

    title = (f"{args.dataset}: {','.join(args.features)} → {describe(model)}\nepoch {args.epochs}, "
             f"training loss {history['loss'][-1]:.3f}, test loss {history['test_loss'][-1]:.3f}")
    written = [
        plot.decision_boundary(surface, out / PLAYGROUND_FILES[0], train=(xy, t),
                               test=(xy_test, t_test), title=title, regression=not classify),
        plot.learning_curves(history, out / PLAYGROUND_FILES[1],
                             title=f"{args.dataset}: mean ½ (o − t)² after each epoch"),
        write_json(history, out / PLAYGROUND_FILES[2]),
    ]
    print("wrote " + ", ".join(str(path) for path in written))
    return 0
