"""``jaxmlp train --seeds K | --lr A,B,... | --l2 A,B,... | --folds K``: many models at once.

The models train together in one :func:`jaxmlp.fit_many` call. Model ``m`` of a grid is
``(learning rate, L2 rate, seed)`` in the order ``for lr: for l2: for seed``, so a run of
``--seeds 8 --l2 0,1e-4,1e-3`` is 24 models, the 8 seeds of each rate side by side. Seed ``s``
(``--seed``, ``--seed`` + 1, ...) draws the initial weights as ``jaxmlp train --seed s`` does; the
data shuffle and the batch order follow ``--seed`` and are the same for every model, so model 0
equals ``jaxmlp train --seed SEED --lr LR0 --l2 L2_0`` (to float tolerance). ``--folds K`` trains K
models from ``--seed``'s weights, model i validating on fold i of the shuffled training rows
(deck 004's k-fold). The run writes one checkpoint per model, ``model.0.npz``, ``model.1.npz``,
... (each usable by ``jaxmlp evaluate`` / ``jaxmlp predict``), ``learning_curves.png`` (one thin
line per model, the mean and a ±1 std band) and ``history.json`` (every model's settings, test
score, history and, for a model that stopped alone, when and why). One compiled program trains
them all.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from jaxmlp.cli.common import (
    CLIError,
    describe,
    load_dataset,
    stop_if_interrupted,
    versions,
    write_json,
)
from jaxmlp.cli.runs import DIGITS_NOTE, TRAIN_FILES, output_folder, settings
from jaxmlp.data.folds import fold_sizes

__all__ = ["add", "files", "grid", "rates", "requested", "run"]


def add(parser: argparse.ArgumentParser) -> None:
    """The ``train`` options of the many-models path, as their own group of ``--help``."""
    from jaxmlp.cli import argtypes

    group = parser.add_argument_group(
        "many models at once (jaxmlp.fit_many: one compiled program)",
        "--seeds, --folds or a comma list for --lr / --l2 train the models together; the lists "
        "combine as a grid repeated over the seeds. Writes model.0.npz, model.1.npz, ... (one "
        "checkpoint per model), learning_curves.png and history.json.")
    group.add_argument("--seeds", type=argtypes.int_at_least(1), metavar="K",
                       help="K models from the initial weights of seeds --seed .. --seed+K-1 "
                       "(one data order)")
    group.add_argument("--folds", type=argtypes.int_at_least(2), metavar="K",
                       help="K-fold cross-validation: K models, model i validating on fold i "
                       "(not with --validation-split, --seeds or lists)")


def rates(one):
    """An option type: one rate (parsed by ``one``) or a comma list of distinct rates (a tuple)."""
    def parse(text: str) -> float | tuple[float, ...]:
        values = tuple(one(part.strip()) for part in text.split(","))
        if len(set(values)) != len(values):
            raise argparse.ArgumentTypeError(f"expected distinct rates, got {text!r}")
        return values[0] if len(values) == 1 else values
    return parse


def requested(args: argparse.Namespace) -> bool:
    """Whether ``jaxmlp train`` takes the many-models path."""
    return (args.seeds is not None or args.folds is not None or isinstance(args.lr, tuple)
            or isinstance(args.l2, tuple))


def grid(args: argparse.Namespace) -> list[dict]:
    """Each model's settings, ``{"seed", "learning_rate", "l2", "fold"}``, in training order; a
    ``CLIError`` naming the option for a combination that cannot be one run."""
    lrs = args.lr if isinstance(args.lr, tuple) else (args.lr,)
    l2s = args.l2 if isinstance(args.l2, tuple) else (args.l2,)
    if args.folds is not None:
        if args.seeds not in (None, 1) or len(lrs) > 1 or len(l2s) > 1:
            raise CLIError("--folds: one model per fold; not with --seeds or a list for --lr / "
                           "--l2")
        if _given(args, "--validation-split"):
            raise CLIError("--folds: each model validates on its own fold; give no "
                           "--validation-split")
        return [{"seed": args.seed, "learning_rate": lrs[0], "l2": l2s[0], "fold": i}
                for i in range(args.folds)]
    seeds = range(args.seed, args.seed + (args.seeds or 1))
    return [{"seed": s, "learning_rate": lr, "l2": l2, "fold": None}
            for lr in lrs for l2 in l2s for s in seeds]


def files(n: int) -> tuple[str, ...]:
    """What a run of ``n`` models writes into ``--out``."""
    return (*(f"model.{i}.npz" for i in range(n)), "learning_curves.png", "history.json")


def run(args: argparse.Namespace) -> int:
    """Check every option, train the models together, evaluate each on the test rows, write the
    files. A model whose loss went non-finite is named with its rates (a warning line); when
    every model diverged the run fails."""
    models = grid(args)
    for name in ("checkpoint", "resume"):
        if getattr(args, name) is not None:
            raise CLIError(f"--{name}: not with many models; train one model per run to "
                           "checkpoint it")
    names = files(len(models))
    with output_folder(args, names) as out:
        stale = [p for p in out.glob("model.*npz") if re.fullmatch(r"model(\.\d+)?\.npz", p.name)
                 and p.name not in names]
        stale += [out / name for name in TRAIN_FILES if name not in names and (out / name).exists()]
        if stale and not args.force:
            raise CLIError(f"--out: {out} holds an earlier run's "
                           f"{', '.join(sorted(p.name for p in stale))}; pass --force to replace "
                           "that run, or choose another --out")
        return _train(args, models, names, out, stale)


def _train(args: argparse.Namespace, models: list[dict], names: tuple[str, ...], out: Path,
           stale: list[Path]) -> int:
    import jax

    from jaxmlp import MLP, EarlyStopping, TrainingError, evaluate_many, fit_many, plot, save
    from jaxmlp.data.split import split_index

    plot.require_matplotlib()
    (x, t), (x_test, t_test) = load_dataset(args.dataset, args.data_dir)
    _, key_shuffle, key_fit = jax.random.split(jax.random.key(args.seed), 3)
    order = np.asarray(jax.random.permutation(key_shuffle, len(x)))
    x, t = x[order], t[order]
    classes = int(max(t.max(), t_test.max())) + 1
    model = MLP((x.shape[1], *args.hidden, classes),
                (args.activation,) * len(args.hidden) + ("softmax",))
    keys = jax.numpy.stack([jax.random.split(jax.random.key(m["seed"]), 3)[0] for m in models])
    params = model.init(keys)  # a MemoryError before the summary when they cannot be held
    print(model.summary())
    split = 0.0 if args.folds else args.validation_split
    n_val = (len(x) // args.folds if args.folds
             else len(x) - split_index(len(x), split) if split else 0)
    if args.folds:  # the folds' true sizes: the first n % k hold one row more (data.folds)
        sizes = fold_sizes(len(x), args.folds)
        rows = _sizes(sorted({len(x) - size for size in sizes}), " or ")
        held = (f"{args.folds} folds of {_sizes(sizes, ' and ')} rows, "
                "each model validating on its own")
    else:
        rows = f"{len(x) - n_val:,}"
        held = (f"{n_val:,} validation rows (the last {split:.0%} after one shuffle)" if n_val
                else "no validation rows")
    print(f"{args.dataset}: {rows} training rows, {held}, {len(x_test):,} test rows; "
          f"{_what(args, len(models))} trained together by jaxmlp.fit_many")
    lrs, l2s = [m["learning_rate"] for m in models], [m["l2"] for m in models]
    stopping = None
    if args.early_stopping is not None:
        stopping = EarlyStopping("val_loss" if n_val else "loss", patience=args.early_stopping)
    started = time.perf_counter()
    try:
        params, history = fit_many(
            model, params, x, t, optimizer=args.optimizer,
            learning_rate=lrs if len(set(lrs)) > 1 else lrs[0],
            l2=l2s if len(set(l2s)) > 1 else l2s[0], l1=args.l1, folds=args.folds,
            loss=args.loss, epochs=args.epochs, batch_size=args.batch_size,
            validation_split=split, key=key_fit, grad=args.grad, early_stopping=stopping,
            verbose=args.verbose, on_epoch_end=stop_if_interrupted)
    except TrainingError as error:
        raise CLIError(f"training diverged: every model's loss went non-finite (by epoch "
                       f"{error.epoch}): {'; '.join(_name(m, i) for i, m in enumerate(models))}; "
                       "try smaller rates") from None
    seconds = time.perf_counter() - started
    stop_if_interrupted()
    stopped = list(getattr(history, "stopped", None) or [None] * len(models))
    for i, why in enumerate(stopped):
        if why is not None and why.get("reason") == "non-finite loss":
            step = f", step {why['step']}" if why.get("step") is not None else ""
            print(f"jaxmlp: warning: {_name(models[i], i)} diverged: non-finite loss at epoch "
                  f"{why['epoch']}{step}; it kept its last finite weights (try a smaller rate)",
                  file=sys.stderr)
    test = evaluate_many(model, params, x_test, t_test, loss=args.loss, l2=l2s, l1=args.l1)
    print(f"trained {len(models)} models for {history['loss'].shape[0]} epochs in "
          f"{seconds:.1f} s")
    for m in models:
        if m["learning_rate"] is None:  # the optimizer's default rate, as fit_many recorded it
            m["learning_rate"] = history.params["learning_rate"]
    print(table(models, history, test))
    print(spread(models, test))
    if args.dataset == "digits" and n_val:
        print(DIGITS_NOTE)
    command = shlex.join(["jaxmlp", *getattr(args, "argv", ["train"])])
    data = {"dataset": args.dataset, "training_rows": len(x) - n_val, "validation_rows": n_val,
            "test_rows": len(x_test), "folds": args.folds}
    if args.folds:  # each fold's true size (validation_rows is the smallest)
        data["fold_rows"] = fold_sizes(len(x), args.folds)
    record = {"command": command, "settings": settings(args), "seed": args.seed,
              "versions": versions(), "data": data,
              "test": {k: _stats(v) for k, v in test.items()}, "seconds": seconds, "models": []}
    for i, own_settings in enumerate(models):
        own = _column(history, i)
        score = {k: float(v[i]) for k, v in test.items()}
        record["models"].append({"file": names[i], **own_settings, "test": score,
                                 "stopped": stopped[i], "history": own})
        run = {"command": command, "settings": {**settings(args), **own_settings, "model": i},
               "seed": own_settings["seed"], "versions": record["versions"], "data": data,
               "test": score}
        save(out / names[i], model, jax.tree.map(lambda a, i=i: a[i], params), history=own,
             run=run)
    for path in stale:
        path.unlink(missing_ok=True)
    written = [plot.learning_curves(history, out / names[-2],
                                    title=f"{args.dataset}: {len(models)} models, "
                                    f"{describe(model)}"),
               write_json(record, out / names[-1])]
    print(f"wrote {out / names[0]} .. {names[len(models) - 1]}, " + ", ".join(map(str, written)))
    return 0


def table(models: list[dict], history, test: dict[str, np.ndarray]) -> str:
    """One line per model: its settings, last validation accuracy and test scores."""
    fold = models[0]["fold"] is not None
    val = history.get("val_accuracy")
    head = f"{'model':>5} {'fold' if fold else 'seed':>5} {'lr':>8} {'l2':>8}"
    head += f" {'val_accuracy':>12}" * (val is not None)
    head += "".join(f" {'test ' + k:>13}" for k in test)
    lines = [head]
    for i, m in enumerate(models):
        which = m["fold"] if fold else m["seed"]
        line = f"{i:>5} {which:>5} {m['learning_rate']:>8g} {m['l2']:>8g}"
        if val is not None:
            line += f" {_last(val[:, i]):>12.4f}"
        lines.append(line + "".join(f" {v[i]:>13.4f}" for v in test.values()))
    return "\n".join(lines)


def spread(models: list[dict], test: dict[str, np.ndarray]) -> str:
    """``test accuracy: mean ± std over N models``, and per setting over its seeds when both
    vary."""
    lines = [f"test {k}: {_pm(v)} (mean ± std over {len(v)} models; min {v.min():.4f}, "
             f"max {v.max():.4f})" for k, v in test.items()]
    pairs = list(dict.fromkeys((m["learning_rate"], m["l2"]) for m in models))
    if len(pairs) > 1 and len(models) > len(pairs):
        for lr, l2 in pairs:
            mine = [i for i, m in enumerate(models) if (m["learning_rate"], m["l2"]) == (lr, l2)]
            lines.append(f"  lr {lr:g}, l2 {l2:g}: test accuracy "
                         f"{_pm(test['accuracy'][mine])} over {len(mine)} seeds")
    return "\n".join(lines)


# --- helpers ------------------------------------------------------------------------------

def _given(args: argparse.Namespace, option: str) -> bool:
    """Whether ``option`` (or an abbreviation argparse accepted) is on the command line."""
    return any(len(a.split("=")[0]) > 4 and option.startswith(a.split("=")[0])
               for a in getattr(args, "argv", []) if a.startswith("--"))


def _name(m: dict, i: int) -> str:
    """``model 1 (lr 1e+30, l2 0, seed 0)``: a model and the settings that tell it apart."""
    lr = "the default lr" if m["learning_rate"] is None else f"lr {m['learning_rate']:g}"
    which = f"fold {m['fold']}" if m["fold"] is not None else f"seed {m['seed']}"
    return f"model {i} ({lr}, l2 {m['l2']:g}, {which})"


def _what(args: argparse.Namespace, n: int) -> str:
    if args.folds:
        return f"{n} models ({args.folds}-fold cross-validation)"
    counts = [f"{args.seeds} seed{'s' * (args.seeds > 1)}"] if args.seeds else []
    counts += [f"{len(v)} {name} rates" for v, name in ((args.lr, "learning"), (args.l2, "L2"))
               if isinstance(v, tuple)]
    return " × ".join(counts) + f" = {n} model{'s' * (n > 1)}"


def _column(history, i: int) -> dict[str, list[float]]:
    """Model ``i``'s history as lists, without the NaN epochs after it stopped early."""
    done = int(np.sum(np.isfinite(history["loss"][:, i])))
    return {name: [float(v) for v in values[:done, i]] for name, values in history.items()}


def _last(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if finite.size else float("nan")


def _stats(values: np.ndarray) -> dict[str, float]:
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(np.mean(values)), "std": std, "min": float(np.min(values)),
            "max": float(np.max(values))}


def _pm(values: np.ndarray) -> str:
    stats = _stats(np.asarray(values))
    return f"{stats['mean']:.4f} ± {stats['std']:.4f}"


def _sizes(sizes: list[int], last: str) -> str:
    """``"500"`` when all are equal, else ``"21, 20 and 20"`` (``last`` joins the last two)."""
    if len(set(sizes)) == 1:
        return f"{sizes[0]:,}"
    text = [f"{size:,}" for size in sizes]
    return ", ".join(text[:-1]) + last + text[-1]
