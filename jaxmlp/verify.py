"""Verify derivations against ``jax.grad``: the lectures' transcriptions, the library, or your own file.

``run()`` (``jaxmlp verify``) checks every transcription in :mod:`jaxmlp.derivations` (decks 000-004:
the worked numbers and each hand derivation), then jaxmlp's own backprop over random networks:
every activation as a hidden layer, every output activation × loss pair, both reductions, in
float64 and float32. ``run("FILE.py")`` (``jaxmlp verify FILE.py``) checks your own derivation: a
file that defines ``model`` (a :class:`jaxmlp.MLP`), ``loss`` (a loss name), optionally
``reduction`` (default ``"mean"``), ``l2`` and ``l1``, and ``grads(params, x, t)`` returning the
gradient pytree; it is compared with ``jax.grad`` on random parameters and batches (float64).

The error of a check is the normwise relative error of :func:`jaxmlp.check_gradients`,
``max |got − want| / max |want|`` over the whole pytree. Exit status: 0 when everything passes,
1 when a derivation is wrong, 2 when a file cannot be used (one line says why).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.machinery
import importlib.util
import math
import pathlib
import re
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.activations import PRELU_INIT, get_activation
from jaxmlp.backprop import backprop
from jaxmlp.backprop import loss as batch_loss
from jaxmlp.check import GradientReport, check_gradients, default_rtol
from jaxmlp.losses import REDUCTIONS, loss_names
from jaxmlp.model import MLP

__all__ = ["Check", "check_close", "check_grads", "check_number", "derivation_checks",
           "library_checks", "random_problem", "run", "table", "verify_file"]

#: the built-in activations, each checked as a hidden layer
ACTIVATIONS = ("identity", "step", "sigmoid", "tanh", "relu", "softplus", "leaky_relu", "prelu",
               "elu", "selu", "swish", "mish", "softmax")
#: (output activation, loss): the squared errors after every activation, the cross-entropies
#: after the activations that give probabilities
PAIRS = (
    *((f, loss) for loss in ("sse", "mse") for f in ACTIVATIONS),
    ("sigmoid", "binary_crossentropy"), ("softmax", "binary_crossentropy"),
    ("softmax", "categorical_crossentropy"), ("sigmoid", "categorical_crossentropy"),
)
SEEDS = 3     #: random problems per user file
BATCH = 5     #: rows per random batch


@dataclasses.dataclass(frozen=True)
class Check:
    """One verified claim: its ``name``, ``what`` it was compared with, the error and the verdict."""

    name: str
    what: str
    max_rel: float
    passed: bool


def run(path: str | None = None, *, seed: int = 0, out: Callable[[str], object] = print) -> int:
    """Verify the derivations and the library (no ``path``) or the user file at ``path``; exit status.

    >>> run(out=lambda line: None)  # doctest: +SKIP
    0
    """
    if path is not None:
        return verify_file(path, seed=seed, out=out)
    start = time.perf_counter()
    out(f"jaxmlp verify (seed {seed}): the lecture derivations, then jaxmlp.backprop on random networks "
        f"whose hidden layers run through all {len(ACTIVATIONS)} activations")
    checks = derivation_checks(seed, out)
    with jax.enable_x64(True):
        checks += library_checks(seed, jnp.float64)
    checks += library_checks(seed, jnp.float32)
    out(table(checks))
    failed = sum(not c.passed for c in checks)
    verdict = "PASS" if not failed else f"FAIL ({failed} failed)"
    seconds = time.perf_counter() - start
    out(f"{verdict}: {len(checks) - failed}/{len(checks)} checks passed in {seconds:.1f} s")
    return 1 if failed else 0


def verify_file(path: str, *, seed: int = 0, out: Callable[[str], object] = print) -> int:
    """Compare the file's ``grads(params, x, t)`` with ``jax.grad`` on random problems (float64).

    Returns 0 (correct), 1 (wrong: the report names the layer and leaf) or 2 (unusable file).
    """
    try:
        model, loss, reduction, l2, l1, grads = _read(path)
        reports = []
        with jax.enable_x64(True):
            for s in range(seed, seed + SEEDS):
                reports.append(_check_once(path, model, loss, reduction, l2, l1, grads, s))
    except _BadFileError as error:
        out(f"verify: {error}")
        return 2
    worst = max(range(SEEDS), key=lambda i: reports[i].max_rel)
    out(f"jaxmlp verify {path}: {model}, loss {loss!r}, reduction {reduction!r}")
    out(f"grads(params, x, t) against jax.grad on {SEEDS} random problems (seeds {seed}-{seed + SEEDS - 1}, "
        f"batch {BATCH}, float64); the worst, seed {seed + worst}:")
    worst = reports[worst]
    out(str(worst))
    if all(r.passed for r in reports):
        out(f"PASS: grads equals jax.grad on {SEEDS} random problems "
            f"(max rel. error {worst.max_rel:.2e} ≤ {worst.rtol:.0e})")
        return 0
    wrong = [f"{_layer(leaf.path)} (rel. error {leaf.rel:.2e})" for leaf in worst.failures]
    out(f"FAIL: grads differs from jax.grad in {', '.join(wrong)}")
    return 1


def derivation_checks(seed: int = 0, out: Callable[[str], object] = print) -> list[Check]:
    """Every deck's ``checks(seed)`` from :mod:`jaxmlp.derivations`, in float64."""
    try:
        names = importlib.import_module("jaxmlp.derivations").MODULES
        modules = [importlib.import_module(f"jaxmlp.derivations.{name}") for name in names]
    except ImportError as error:
        out(f"note: the lecture derivations are not installed ({error}); checking the library alone")
        return []
    checks = []
    for module in modules:
        try:
            with jax.enable_x64(True):
                checks += module.checks(seed)
        except Exception as error:  # a broken deck is a failed check, not a crash
            checks.append(Check(module.__name__, f"raised {_one_line(error)}", math.inf, False))
    return checks


def library_checks(seed: int = 0, dtype=jnp.float32) -> list[Check]:
    """``jaxmlp.backprop`` against ``jax.grad`` for every hidden activation, output × loss pair and
    reduction: one row per loss, plus a row for each failing network. Call float64 under x64."""
    name, rows, failures = jnp.dtype(dtype).name, {}, []
    with jax.disable_jit():  # every network has the same shapes: op by op, each op compiles once
        for i, ((f, loss), reduction) in enumerate((p, r) for p in PAIRS for r in REDUCTIONS):
            hidden = (ACTIVATIONS[i % len(ACTIVATIONS)], ACTIVATIONS[(i + 5) % len(ACTIVATIONS)])
            model = MLP((3, 3, 3, 3), (*hidden, f))  # random values, not shapes, catch a wᵀ for w
            params, x, t = random_problem(model, loss, seed + i, dtype=dtype)
            hand = backprop(model, params, x, t, loss, reduction)
            ref = jax.grad(batch_loss, argnums=1)(model, params, x, t, loss, reduction)
            c = check_close(f"jaxmlp.backprop {model.activations} {loss} {reduction}", f"= jax.grad, {name}",
                            hand, ref)
            rows.setdefault(loss, []).append(c)
            failures += [] if c.passed else [c]
    summary = [Check(f"jaxmlp.backprop {loss}: {len(cs) // 2} outputs × (mean, sum)", f"= jax.grad, {name}",
                     max(c.max_rel for c in cs), all(c.passed for c in cs)) for loss, cs in rows.items()]
    return summary + failures


def check_grads(name: str, grad_fn: Callable, model: MLP, params, x, t, loss: str = "sse",
                reduction: str = "sum") -> Check:
    """``grad_fn(params, x, t)`` against ``jax.grad`` of :func:`jaxmlp.loss`, compiled together.

    The comparison of :func:`jaxmlp.check_gradients` (same reference, same normwise error and
    tolerance) for a traceable ``grad_fn``, in one compilation instead of two.
    """
    def both(p, x, t):
        return grad_fn(p, x, t), jax.grad(lambda q: batch_loss(model, q, x, t, loss, reduction))(p)

    got, ref = jax.jit(both)(params, x, t)
    return check_close(name, f"= jax.grad, {jnp.result_type(x)}", got, ref)


def check_close(name: str, what: str, got, want, rtol: float | None = None) -> Check:
    """Compare two pytrees of arrays by the normwise relative error (``rtol`` by dtype by default)."""
    got_leaves, want_leaves = jax.tree.leaves(got), [np.asarray(w) for w in jax.tree.leaves(want)]
    if jax.tree.structure(got) != jax.tree.structure(want) or any(
            np.shape(g) != w.shape for g, w in zip(got_leaves, want_leaves)):
        return Check(name, f"{what} (structure or shapes differ)", math.inf, False)
    rtol = default_rtol(np.result_type(*want_leaves)) if rtol is None else rtol
    scale = max((float(np.max(np.abs(w))) for w in want_leaves if w.size), default=0.0) or 1.0
    diff = max((float(np.max(np.abs(np.asarray(g, np.float64) - w))) for g, w in zip(got_leaves, want_leaves)
                if w.size), default=0.0)
    rel = diff / scale if math.isfinite(diff) else math.inf
    return Check(name, what, rel, rel <= rtol)


def check_number(name: str, got, want: float, rtol: float = 1e-12) -> Check:
    """A worked number: ``|got − want| / |want|`` (``|got|`` when ``want == 0``) at most ``rtol``.

    >>> check_number("deck 000 E", 0.5 * (0.09 + 0.04 + 0.04), 0.085).passed
    True
    """
    got = float(got)
    rel = abs(got - want) / abs(want) if want else abs(got)
    return Check(name, f"deck: {want:,g}", rel, rel <= rtol)


def table(checks: list[Check]) -> str:
    """The checks as a text table: check, compared with, max rel. error, ok.

    >>> print(table([Check("deck 002 μ", "deck: 0.4", 0.0, True)]))
    check       compared with  max rel. error  ok
    ----------  -------------  --------------  ---
    deck 002 μ  deck: 0.4      0.00e+00        yes
    """
    head = ("check", "compared with", "max rel. error", "ok")
    rows = [(c.name, c.what, f"{c.max_rel:.2e}", "yes" if c.passed else "NO") for c in checks]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def random_problem(model: MLP, loss: str, seed: int = 0, batch: int = BATCH, dtype=None):
    """``(params, x, t)`` drawn with numpy (no compilation): Glorot weights, biases ``N(0, 0.5²)``
    (zero biases would hide bias errors), PReLU slopes 0.25, inputs ``N(0, 1)`` ``(batch, n_in)``
    and targets the loss accepts: one-hot rows, 0/1 entries, or ``N(0, 1)`` for the squared errors.
    ``dtype`` defaults to float64 under ``jax.enable_x64``, else float32."""
    dtype = jax.dtypes.canonicalize_dtype(jnp.float64) if dtype is None else dtype
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out, f in zip(model.sizes[:-1], model.sizes[1:], model.activations):
        limit = math.sqrt(6 / (fan_in + fan_out))
        layer = {"w": rng.uniform(-limit, limit, (fan_out, fan_in)), "b": rng.normal(0, 0.5, fan_out)}
        if get_activation(f).parametric:
            layer["a"] = np.full(fan_out, PRELU_INIT)
        params.append({k: jnp.asarray(v, dtype) for k, v in layer.items()})
    n_out = model.sizes[-1]
    x = rng.normal(size=(batch, model.sizes[0]))
    if loss == "categorical_crossentropy":
        t = np.eye(n_out)[rng.integers(0, n_out, batch)]
    elif loss == "binary_crossentropy":
        t = rng.integers(0, 2, (batch, n_out))
    else:
        t = rng.normal(size=(batch, n_out))
    return params, jnp.asarray(x, dtype), jnp.asarray(t, dtype)


# --- helpers: reading a user's file -----------------------------------------------------------


class _BadFileError(Exception):
    """A user file that cannot be verified; the message is the one line printed."""


def _read(path):
    file = pathlib.Path(path)
    if not file.is_file():
        raise _BadFileError(f"{path}: no such file")
    name = f"_jaxmlp_verify_{re.sub(r'[^0-9A-Za-z_]', '_', file.stem)}"
    loader = importlib.machinery.SourceFileLoader(name, str(file))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    try:
        loader.exec_module(module)
    except (Exception, SystemExit) as error:  # SyntaxError, ImportError, sys.exit(), anything it raises
        raise _BadFileError(f"{path}: failed to import: {_one_line(error)}") from None
    for needed, meaning in (("model", "a jaxmlp.MLP"), ("loss", f"a loss name, one of {loss_names()}"),
                            ("grads", "a function grads(params, x, t) returning the gradient pytree")):
        if not hasattr(module, needed):
            raise _BadFileError(f"{path}: missing `{needed}` (define {meaning})")
    model, loss, grads = module.model, module.loss, module.grads
    reduction = getattr(module, "reduction", "mean")
    l2, l1 = getattr(module, "l2", 0.0), getattr(module, "l1", 0.0)
    if not isinstance(model, MLP):
        raise _BadFileError(f"{path}: `model` must be a jaxmlp.MLP, got {type(model).__name__}")
    if loss not in loss_names():
        raise _BadFileError(f"{path}: `loss` must be one of {loss_names()}, got {loss!r}")
    if reduction not in REDUCTIONS:
        raise _BadFileError(f"{path}: `reduction` must be one of {REDUCTIONS}, got {reduction!r}")
    if not callable(grads):
        raise _BadFileError(f"{path}: `grads` must be a function grads(params, x, t), "
                            f"got {type(grads).__name__}")
    return model, loss, reduction, l2, l1, grads


def _check_once(path, model, loss, reduction, l2, l1, grads, seed) -> GradientReport:
    params, x, t = random_problem(model, loss, seed)
    try:
        got = grads(params, x, t)
    except Exception as error:
        raise _BadFileError(f"{path}: grads(params, x, t) raised {_one_line(error)}") from None
    try:
        return check_gradients(lambda *_: got, model, params, x, t, loss, reduction, l2, l1)
    except (TypeError, ValueError) as error:
        raise _BadFileError(f"{path}: grads returned a result that does not match params: "
                            f"{_one_line(error, 300)}") from None


def _layer(path: str) -> str:
    # "[0]['w']" -> "layer 0 'w'"
    found = re.fullmatch(r"\[(\d+)\]\[(.+)\]", path)
    return f"layer {found[1]} {found[2]}" if found else path


def _one_line(error: BaseException, limit: int = 200) -> str:
    text = " ".join(str(error).split()) or "(no message)"
    return f"{type(error).__name__}: {text[:limit]}{'…' if len(text) > limit else ''}"
