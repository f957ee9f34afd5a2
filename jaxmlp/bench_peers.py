"""The implementations that ``jaxmlp bench`` times, each run alone in its own child process.

Every runner trains the same network (``784 → hidden… → 10``, ReLU then softmax, categorical
cross-entropy, Adam with rate 1e-3 and ε = 1e-7, float32) on the same rows with the same
``validation_split`` (the last 20 %, Keras's rule), then reports the wall time of every epoch (the
updates and the validation pass, synchronised with the host before each clock read), the test
accuracy, the JAX compile time and any compilation after the first epoch.

The runners: ``jaxmlp-backprop`` and ``jaxmlp-autodiff`` (:func:`jaxmlp.fit`), two plain JAX +
Optax references written inline (``jax-step``: a jitted step called from Python; ``jax-scan``:
the whole epoch in one ``lax.scan``), and the peers ``keras`` (JAX backend), ``torch`` (CPU, a
plain loop) and ``sklearn`` (``MLPClassifier.partial_fit``, one epoch per call).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # a child runs this file by path, so that importing the jaxmlp package
    # (and jax) is left to the runners that need it; its folder must not shadow top-level modules
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import functools
import importlib
import importlib.metadata
import itertools
import json
import math
import os
import resource
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["DATA_FILES", "IMPORTS", "RUNNERS", "Config", "main", "run"]

#: implementation -> the module it needs (a missing one makes a "skipped" row)
IMPORTS = {"jaxmlp-backprop": "jax", "jaxmlp-autodiff": "jax", "jax-step": "optax",
           "jax-scan": "optax", "keras": "keras", "torch": "torch", "sklearn": "sklearn"}
#: the arrays a child reads, ``NAME.npy`` each: float32 inputs in [0, 1], int32 labels 0..9
DATA_FILES = ("x", "t", "x_test", "t_test")
VALIDATION_SPLIT = 0.2
LEARNING_RATE, EPSILON = 1e-3, 1e-7


class Config(dict):
    """The workload, JSON-ready: ``hidden`` (widths), ``batch_size``, ``epochs``, ``seed``."""

    @property
    def sizes(self) -> tuple[int, ...]:
        return (784, *self["hidden"], 10)


def run(name: str, config: Config, data_dir: str | os.PathLike) -> dict[str, Any]:
    """Run implementation ``name`` on ``config`` in this process; return its JSON-ready result.

    ``data_dir`` holds :data:`DATA_FILES` (``.npy``), written once by the parent for every child.
    """
    data = tuple(np.load(Path(data_dir) / f"{f}.npy") for f in DATA_FILES)
    clock = _Clock()
    accuracy, versions = RUNNERS[name](config, ((data[0], data[1]), (data[2], data[3])), clock)
    result = clock.result()
    result.update(name=name, status="ok", test_accuracy=float(accuracy), versions=versions,
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def main(argv: list[str] | None = None) -> int:
    """The child: ``bench_peers.py NAME --config JSON --data DIR --json-out FILE``.

    Writes ``{"status": "ok", ...}``, ``{"status": "skipped", "error": ...}`` when the peer's
    package is missing, or ``{"status": "error", "error": ...}`` (then exits 1).
    """
    parser = argparse.ArgumentParser(prog="bench_peers")
    parser.add_argument("name", choices=sorted(RUNNERS))
    parser.add_argument("--config", required=True, type=json.loads)
    parser.add_argument("--data", required=True)
    parser.add_argument("--json-out", required=True)
    args = parser.parse_args(argv)
    try:
        result, code = run(args.name, Config(args.config), args.data), 0
    except ImportError as error:
        result, code = {"status": "skipped", "error": f"{type(error).__name__}: {error}"}, 0
    except Exception as error:
        trace = traceback.format_exc(limit=-3)
        result, code = {"status": "error", "error": f"{type(error).__name__}: {error}",
                        "traceback": trace}, 1
    result["name"] = args.name
    Path(args.json_out).write_text(json.dumps(result, indent=1))
    return code


class _Clock:
    """Epoch boundaries: ``mark()`` after the host has the epoch's results (a sync point)."""

    def __init__(self):
        self.marks: list[float] = []
        self.seen: list[int] = []  # how many of _COMPILES had happened at each mark
        self.jax = False

    def watch_jax(self) -> None:
        """Record JAX's compilations (tracing, lowering, XLA compile) for this run."""
        _listen_to_jax()
        self.jax = True

    def mark(self) -> None:
        self.marks.append(time.perf_counter())
        self.seen.append(len(_COMPILES))

    def result(self) -> dict[str, Any]:
        """Epoch times, their median over epochs 2..N, and for JAX the seconds spent compiling
        in epoch 1 (in all, and per function) and the functions compiled again after it."""
        times = np.diff(self.marks)
        if len(times) < 1:
            raise RuntimeError("no epoch finished")
        out = {"epoch_times": times.tolist(), "first_epoch_s": float(times[0]),
               "median_s": float(np.median(times[1:] if len(times) > 1 else times)),
               "compile_s": None, "recompiles": None}
        if self.jax:
            per_function: dict[str, float] = {}
            for name, _, seconds in _COMPILES[self.seen[0]:self.seen[1]]:
                per_function[name] = per_function.get(name, 0.0) + seconds
            later = [name for name, event, _ in _COMPILES[self.seen[1]:self.seen[-1]] if event == "backend"]
            out |= {"compile_s": sum(per_function.values()), "recompiles": len(later),
                    "compile_by_function": per_function, "recompiled": later}
        return out


_COMPILES: list[tuple[str, str, float]] = []  # (function, phase, seconds), for the whole process


@functools.cache
def _listen_to_jax() -> None:
    import jax

    def listen(event: str, duration: float, fun_name: str = "?", **_: Any) -> None:
        if event.startswith("/jax/core/compile/"):
            phase = "backend" if event.endswith("backend_compile_duration") else "trace"
            _COMPILES.append((fun_name.removeprefix("jit(").removesuffix(")"), phase, duration))

    jax.monitoring.register_event_duration_secs_listener(listen)


def _versions(*names: str) -> dict[str, str]:
    return {n: importlib.metadata.version(n) for n in names}


def _split(data):
    """Keras's validation_split (as :func:`jaxmlp.data.validation_split`): the last rows."""
    (x, t), test = data
    at = math.floor(x.shape[0] * (1 - VALIDATION_SPLIT))
    return ((x[:at], t[:at]), (x[at:], t[at:])), test


# --- jaxmlp -------------------------------------------------------------------------------

def _run_jaxmlp(grad: str, config: Config, data, clock: _Clock):
    import jax

    import jaxmlp

    clock.watch_jax()
    (x, t), (x_test, t_test) = data
    model = jaxmlp.MLP(config.sizes, ("relu",) * len(config["hidden"]) + ("softmax",))
    params = model.init(jax.random.key(config["seed"]))
    clock.mark()
    params, _ = jaxmlp.fit(model, params, x, t, optimizer=_adam(), epochs=config["epochs"],
                           batch_size=config["batch_size"], validation_split=VALIDATION_SPLIT,
                           grad=grad, verbose=0, key=jax.random.key(config["seed"]),
                           devices=config.get("devices"), on_epoch_end=lambda epoch, logs: clock.mark())
    accuracy = jaxmlp.evaluate(model, params, x_test, t_test)["accuracy"]
    return accuracy, {"jaxmlp": jaxmlp.__version__, **_versions("jax", "jaxlib", "optax")}


@functools.cache
def _adam():
    import optax
    return optax.adam(LEARNING_RATE, eps=EPSILON)


# --- plain JAX + Optax references (no jaxmlp code) ------------------------------------------

def _plain_jax(fused: bool, config: Config, data, clock: _Clock):
    import jax
    import jax.numpy as jnp
    import optax

    clock.watch_jax()
    ((x, t), (xv, tv)), (x_test, t_test) = _split(data)
    sizes, batch, opt = config.sizes, config["batch_size"], _adam()
    keys = jax.random.split(jax.random.key(config["seed"]), len(sizes) - 1)
    params = [(jax.random.uniform(k, (m, n), jnp.float32, -1.0, 1.0) * math.sqrt(6 / (m + n)),
               jnp.zeros(n, jnp.float32)) for k, m, n in zip(keys, sizes[:-1], sizes[1:])]

    def logits(params, x):
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b)
        return x @ params[-1][0] + params[-1][1]

    def loss(params, x, t):
        return optax.softmax_cross_entropy_with_integer_labels(logits(params, x), t).mean()

    def step(params, state, x, t):
        value, grads = jax.value_and_grad(loss)(params, x, t)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    @jax.jit
    def evaluate(params, x, t):
        out = logits(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(out, t).mean(), jnp.mean(
            jnp.argmax(out, -1) == t)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def indexed_step(params, state, x, t, idx):
        return step(params, state, x[idx], t[idx])

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def epoch(params, state, x, t, key):
        order = jax.random.permutation(key, n)

        def body(carry, idx):
            params, state, value = step(*carry, x[idx], t[idx])
            return (params, state), value

        full = n // batch
        (params, state), values = jax.lax.scan(body, (params, state),
                                               order[: full * batch].reshape(full, batch))
        if n % batch:
            params, state, _ = step(params, state, x[order[full * batch:]], t[order[full * batch:]])
        return params, state, values.mean()

    x, t, xv, tv = (jax.device_put(a) for a in (x, t, xv, tv))
    n, state, rng = x.shape[0], opt.init(params), np.random.default_rng(config["seed"])
    clock.mark()
    for e in range(config["epochs"]):
        if fused:
            params, state, _ = epoch(params, state, x, t, jax.random.key(e))
        else:
            order = rng.permutation(n)
            for i in range(0, n, batch):
                params, state, _ = indexed_step(params, state, x, t, order[i:i + batch])
        jax.device_get(evaluate(params, xv, tv))
        clock.mark()
    accuracy = float(evaluate(params, jnp.asarray(x_test), jnp.asarray(t_test))[1])
    return accuracy, _versions("jax", "jaxlib", "optax")


# --- peers --------------------------------------------------------------------------------

def _run_keras(config: Config, data, clock: _Clock):
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
    return accuracy, {"keras": keras.__version__, **_versions("jax")}


def _run_torch(config: Config, data, clock: _Clock):
    import torch

    ((x, t), (xv, tv)), (x_test, t_test) = _split(data)
    x, t, xv, tv, x_test, t_test = map(torch.from_numpy, (x, t, xv, tv, x_test, t_test))
    torch.manual_seed(config["seed"])
    sizes, layers = config.sizes, []
    for m, n in itertools.pairwise(sizes):
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


def _run_sklearn(config: Config, data, clock: _Clock):
    import sklearn
    from sklearn.neural_network import MLPClassifier

    ((x, t), (xv, tv)), (x_test, t_test) = _split(data)
    model = MLPClassifier(tuple(config["hidden"]), solver="adam", alpha=0.0, max_iter=1,
                          batch_size=config["batch_size"], learning_rate_init=LEARNING_RATE,
                          epsilon=EPSILON, shuffle=True, random_state=config["seed"])
    clock.mark()
    for _ in range(config["epochs"]):
        model.partial_fit(x, t, classes=np.arange(10))  # one epoch per call
        np.mean(model.predict_proba(xv).argmax(1) == tv)
        clock.mark()
    return model.score(x_test, t_test), {"scikit-learn": sklearn.__version__}


RUNNERS: dict[str, Callable[[Config, Any, _Clock], tuple[float, dict[str, str]]]] = {
    "jaxmlp-backprop": functools.partial(_run_jaxmlp, "backprop"),
    "jaxmlp-autodiff": functools.partial(_run_jaxmlp, "autodiff"),
    "jax-step": functools.partial(_plain_jax, False),
    "jax-scan": functools.partial(_plain_jax, True),
    "keras": _run_keras,
    "torch": _run_torch,
    "sklearn": _run_sklearn,
}


if __name__ == "__main__":
    sys.exit(main())
