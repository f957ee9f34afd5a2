"""The implementations that ``jaxmlp bench`` times, each run alone in its own child process.

Every runner trains the same network (``784 → hidden… → 10``, ReLU then softmax, categorical
cross-entropy, Adam with rate 1e-3 and ε = 1e-7, float32) on the same rows with the same
``validation_split`` (the last 20 %, Keras's rule), then reports the wall time of every epoch (the
updates and the validation pass, synchronised with the host before each clock read), the test
accuracy, the JAX compile time and any compilation after the first epoch.

The runners: ``jaxmlp-backprop`` and ``jaxmlp-autodiff`` (:func:`jaxmlp.fit`), three plain JAX +
Optax references (:mod:`jaxmlp.bench.plain_jax`), and the peers ``keras`` (JAX backend), ``torch``
(CPU, a plain loop) and ``sklearn`` (``MLPClassifier.partial_fit``, one epoch per call). A child is
``python -m jaxmlp.bench.peers NAME --config JSON --data DIR --json-out FILE``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import resource
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jaxmlp.bench import plain_jax
from jaxmlp.bench.child import (
    DATA_FILES,
    EPSILON,
    LEARNING_RATE,
    VALIDATION_SPLIT,
    Clock,
    Workload,
    adam,
    package_versions,
    pin_threads,
    split,
)

__all__ = ["IMPORTS", "RUNNERS", "main", "run"]

#: implementation -> the module it needs (a missing one makes a "skipped" row)
IMPORTS = {
    "jaxmlp-backprop": "jax",
    "jaxmlp-autodiff": "jax",
    "jax-step": "optax",
    "jax-scan": "optax",
    "jax-scan-host": "optax",
    "keras": "keras",
    "torch": "torch",
    "sklearn": "sklearn",
}


def run(name: str, config: Workload, data_dir: str | os.PathLike) -> dict[str, Any]:
    """Run implementation ``name`` on ``config`` in this process; return its JSON-ready result.

    ``data_dir`` holds :data:`~jaxmlp.bench.child.DATA_FILES` (``.npy``), written once by the
    parent.
    """
    data = tuple(np.load(Path(data_dir) / f"{f}.npy") for f in DATA_FILES)
    profile = config.get("profile")
    clock = Clock(None if profile is None else str(Path(profile) / name))
    accuracy, versions = RUNNERS[name](config, ((data[0], data[1]), (data[2], data[3])), clock)
    result = clock.result()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.update(name=name, status="ok", test_accuracy=float(accuracy), versions=versions,
                  cores=cores, peak_rss_mb=peak_rss_mb)
    return result


def main(argv: list[str] | None = None) -> int:
    """The child: ``python -m jaxmlp.bench.peers NAME --config JSON --data DIR --json-out FILE``.

    Writes ``{"status": "ok", ...}``, ``{"status": "skipped", "error": ...}`` when the peer's
    package is missing, or ``{"status": "error", "error": ...}`` (then exits 1).
    """
    parser = argparse.ArgumentParser(prog="python -m jaxmlp.bench.peers")
    parser.add_argument("name", choices=sorted(RUNNERS))
    parser.add_argument("--config", required=True, type=json.loads)
    parser.add_argument("--data", required=True)
    parser.add_argument("--json-out", required=True)
    args = parser.parse_args(argv)
    config = Workload(args.config)
    pin_threads(config.get("threads"))
    try:
        result, code = run(args.name, config, args.data), 0
    except ImportError as error:
        result, code = {"status": "skipped", "error": f"{type(error).__name__}: {error}"}, 0
    except Exception as error:
        trace = traceback.format_exc(limit=-3)
        result, code = {"status": "error", "error": f"{type(error).__name__}: {error}",
                        "traceback": trace}, 1
    result["name"] = args.name
    Path(args.json_out).write_text(json.dumps(result, indent=1))
    return code


# --- jaxmlp -------------------------------------------------------------------------------

def _run_jaxmlp(grad: str, config: Workload, data, clock: Clock):
    import jax

    import jaxmlp

    clock.watch_jax()
    (x, t), (x_test, t_test) = data
    model = jaxmlp.MLP(config.sizes, ("relu",) * len(config["hidden"]) + ("softmax",))
    params = model.init(jax.random.key(config["seed"]))
    clock.mark()
    params, _ = jaxmlp.fit(model, params, x, t, optimizer=adam(), epochs=config["epochs"],
                           batch_size=config["batch_size"], validation_split=VALIDATION_SPLIT,
                           grad=grad, verbose=0, key=jax.random.key(config["seed"]),
                           devices=config.get("devices"),
                           on_epoch_end=lambda epoch, logs: clock.mark())
    accuracy = jaxmlp.evaluate(model, params, x_test, t_test)["accuracy"]
    return accuracy, {"jaxmlp": jaxmlp.__version__, **package_versions("jax", "jaxlib", "optax")}


# --- peers --------------------------------------------------------------------------------

def _run_keras(config: Workload, data, clock: Clock):
    os.environ["KERAS_BACKEND"] = "jax"
    import keras

    if keras.backend.backend() != "jax":
        raise RuntimeError(f"keras uses the {keras.backend.backend()} backend, not jax")
    clock.watch_jax()
    (x, t), (x_test, t_test) = data
    layers = [keras.layers.Dense(w, activation="relu") for w in config["hidden"]]
    model = keras.Sequential([keras.Input((784,)), *layers, keras.layers.Dense(10, "softmax")])
    model.compile(keras.optimizers.Adam(LEARNING_RATE, epsilon=EPSILON),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    marks = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: clock.mark() if epoch == 0 else None,
        on_epoch_end=lambda epoch, logs: clock.mark())  # logs hold host floats: synced
    model.fit(x, t, batch_size=config["batch_size"], epochs=config["epochs"], verbose=0,
              validation_split=VALIDATION_SPLIT, shuffle=True, callbacks=[marks])
    accuracy = model.evaluate(x_test, t_test, verbose=0, return_dict=True)["accuracy"]
    return accuracy, {"keras": keras.__version__, **package_versions("jax")}


def _run_torch(config: Workload, data, clock: Clock):
    import torch

    if config.get("threads"):
        torch.set_num_threads(config["threads"])
    ((x, t), (xv, tv)), (x_test, t_test) = split(data)
    x, t, xv, tv, x_test, t_test = map(torch.from_numpy, (x, t, xv, tv, x_test, t_test))
    torch.manual_seed(config["seed"])
    layers = []
    for m, n in itertools.pairwise(config.sizes):
        layers += [torch.nn.Linear(m, n), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])  # logits; the loss applies log-softmax
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=EPSILON)
    loss_fn, t, batch = torch.nn.CrossEntropyLoss(), t.long(), config["batch_size"]
    clock.mark()
    for _ in range(config["epochs"]):
        order = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss_fn(model(x[idx]), t[idx]).backward()
            opt.step()
        with torch.no_grad():  # the validation pass: loss and accuracy, as the others
            out = model(xv)
            loss_fn(out, tv.long()).item(), (out.argmax(1) == tv).float().mean().item()
        clock.mark()
    with torch.no_grad():
        accuracy = float((model(x_test).argmax(1) == t_test).float().mean())
    return accuracy, {"torch": torch.__version__, "threads": str(torch.get_num_threads())}


def _run_sklearn(config: Workload, data, clock: Clock):
    import sklearn
    from sklearn.neural_network import MLPClassifier

    ((x, t), (xv, tv)), (x_test, t_test) = split(data)
    model = MLPClassifier(tuple(config["hidden"]), solver="adam", alpha=0.0, max_iter=1,
                          batch_size=config["batch_size"], learning_rate_init=LEARNING_RATE,
                          epsilon=EPSILON, shuffle=True, random_state=config["seed"])
    clock.mark()
    for _ in range(config["epochs"]):
        model.partial_fit(x, t, classes=np.arange(10))  # one epoch per call
        np.mean(model.predict_proba(xv).argmax(1) == tv)
        clock.mark()
    return model.score(x_test, t_test), {"scikit-learn": sklearn.__version__}


RUNNERS: dict[str, Callable[[Workload, Any, Clock], tuple[float, dict[str, str]]]] = {
    "jaxmlp-backprop": functools.partial(_run_jaxmlp, "backprop"),
    "jaxmlp-autodiff": functools.partial(_run_jaxmlp, "autodiff"),
    "jax-step": plain_jax.run_step,
    "jax-scan": plain_jax.run_scan,
    "jax-scan-host": plain_jax.run_scan_host,
    "keras": _run_keras,
    "torch": _run_torch,
    "sklearn": _run_sklearn,
}


if __name__ == "__main__":
    sys.exit(main())
