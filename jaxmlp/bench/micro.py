"""The micro-benchmarks of ``jaxmlp bench``, run in the parent's process after its children.

Matmul rates at a large square and at a training step's own shapes (:func:`matmul_rates`), one
gradient step by hand backprop against ``jax.grad`` (:func:`grad_times`), and the per-example
``vmap`` forward against a batched matmul (:func:`forward_times`). Every clock read follows
``block_until_ready``; compilation is excluded.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["forward_times", "grad_times", "matmul_rates", "timed"]



def timed(fn: Callable, *args: Any, repeats: int, warm: bool = True) -> list[float]:
    """Seconds of ``repeats`` calls of ``fn(*args)``, each blocked on; first one untimed call that
    compiles (``warm=True``)."""
    import jax
    if warm:
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return times


def matmul_rates(sizes: tuple[int, ...], batch_size: int, n: int | None = None, repeats: int = 5,
                 scan: int = 64) -> dict[str, Any]:
    """Measured FLOP/s: an ``n × n`` float32 square (best of ``repeats``; ``n`` 2048 on a CPU, 8192
    on an accelerator) and every matmul of one training step as the step lays it out (forward,
    weight gradient contracting the batch, input gradient), each repeated ``scan`` times in one
    jitted ``lax.scan`` so that dispatch does not count. JAX's default precision (TF32 on recent
    NVIDIA GPUs)."""
    import jax
    import jax.numpy as jnp

    n = n or (2048 if jax.default_backend() == "cpu" else 8192)
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.standard_normal((n, n), np.float32))
    square = 2 * n**3 / min(timed(jax.jit(jnp.matmul), a, a, repeats=repeats))
    def repeat(xs, ws, transpose):  # Σ_i xs[i] @ ws, or Σ_i xs[i]ᵀ @ ws[i] (both per batch)
        if transpose:
            zero = jnp.zeros((xs.shape[2], ws.shape[2]), ws.dtype)
            return jax.lax.scan(lambda c, xw: (c + xw[0].T @ xw[1], None), zero, (xs, ws))[0]
        zero = jnp.zeros((xs.shape[1], ws.shape[1]), ws.dtype)
        return jax.lax.scan(lambda c, x: (c + x @ ws, None), zero, xs)[0]

    run = jax.jit(repeat, static_argnums=2)
    shapes = {}
    for fan_in, fan_out in itertools.pairwise(sizes):
        b = batch_size
        for label, x_shape, w_shape, transpose in (
                ("forward O·wᵀ", (b, fan_in), (fan_in, fan_out), False),
                ("weight grad δᵀ·O", (b, fan_out), (b, fan_in), True),  # contracts the batch
                ("input grad δ·w", (b, fan_out), (fan_out, fan_in), False)):
            xs, ws = (jnp.asarray(rng.standard_normal(shape, np.float32)) for shape in
                      ((scan, *x_shape), (scan, *w_shape) if transpose else w_shape))
            best = min(timed(run, xs, ws, transpose, repeats=repeats))
            (m, k), (p, q) = x_shape, w_shape
            shapes[f"{label} ({m}×{k}){'ᵀ' if transpose else ''} @ ({p}×{q})"] = (
                2 * b * fan_in * fan_out * scan / best)
    return {"square_n": n, "square": square, "shapes": shapes}


def grad_times(sizes: tuple[int, ...], batch_size: int, repeats: int) -> dict[str, float]:
    """Median seconds of one jitted gradient: ``loss_and_grads`` (hand backprop) against
    ``jax.value_and_grad(objective_and_output, has_aux=True)`` (autodiff), each called alone
    (``*_call``) and per step of a jitted ``lax.scan`` of SGD steps (``*_scan``). Calls alternate
    between the two, so that a busy machine slows both alike; compilation is excluded."""
    import jax

    import jaxmlp
    from jaxmlp.core.backprop import loss_and_grads, objective_and_output

    model = jaxmlp.MLP(sizes, ("relu",) * (len(sizes) - 2) + ("softmax",))
    params = model.init(jax.random.key(0))
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    steps = max(4, min(200, int(2e9 / (6 * batch_size * weights))))
    xs = jax.random.uniform(jax.random.key(1), (steps, batch_size, sizes[0]))
    labels = jax.random.randint(jax.random.key(2), (steps, batch_size), 0, sizes[-1])
    ts = jax.nn.one_hot(labels, sizes[-1])
    autodiff = jax.value_and_grad(objective_and_output, argnums=3, has_aux=True)
    loss = ("categorical_crossentropy", "mean")
    grads = {"backprop": functools.partial(loss_and_grads, model, *loss),
             "autodiff": functools.partial(autodiff, model, *loss)}

    def sgd_scan(grad):
        def body(params, batch):
            g = grad(params, *batch)[1]
            return jax.tree.map(lambda p, d: p - 1e-3 * d, params, g), None
        return jax.jit(lambda params, xs, ts: jax.lax.scan(body, params, (xs, ts))[0])

    calls = {f"{k}_call": (jax.jit(g), (params, xs[0], ts[0])) for k, g in grads.items()}
    calls |= {f"{k}_scan": (sgd_scan(g), (params, xs, ts)) for k, g in grads.items()}
    times = _alternating(calls, repeats)
    out = {k: float(np.median(v)) / (steps if k.endswith("_scan") else 1) for k, v in times.items()}
    return {**out, "scan_steps": steps}


def forward_times(
    sizes: tuple[int, ...], batch_size: int, rows: int, repeats: int
) -> dict[str, float]:
    """Median seconds of the forward pass over ``rows`` rows in batches (one jitted ``lax.scan``).

    jaxmlp's per-example ``model.forward`` under ``jax.vmap`` against a plain batched
    ``x @ w.T + b`` chain.
    """
    import jax

    import jaxmlp

    model = jaxmlp.MLP(sizes, ("relu",) * (len(sizes) - 2) + ("softmax",))
    params = model.init(jax.random.key(0))
    xs = jax.random.uniform(jax.random.key(1), (rows // batch_size, batch_size, sizes[0]))

    def batched(params, x):
        for layer in params[:-1]:
            x = jax.nn.relu(x @ layer["w"].T + layer["b"])
        return jax.nn.softmax(x @ params[-1]["w"].T + params[-1]["b"])

    forwards = {"vmap": jax.vmap(lambda p, x: model.forward(p, x)[1][-1], in_axes=(None, 0)),
                "matmul": batched}
    runs = {k: (jax.jit(lambda p, xs, f=f: jax.lax.scan(lambda c, x: (c + f(p, x).sum(), None),
                                                        0.0, xs)[0]), (params, xs))
            for k, f in forwards.items()}
    times = _alternating(runs, repeats)
    return {k: float(np.median(v)) for k, v in times.items()}


def _alternating(calls: dict[str, tuple[Callable, tuple]], repeats: int) -> dict[str, list[float]]:
    """Times of ``repeats`` calls of each ``fn(*args)``, compiled first, taken in pairs in turn
    (A B, then B A) so that neither a busy machine nor a cold cache favours one of a pair."""
    for fn, args in calls.values():
        timed(fn, *args, repeats=0)
    names, times = list(calls), {name: [] for name in calls}
    for pair in (names[i:i + 2] for i in range(0, len(names), 2)):
        for r in range(repeats):
            for name in pair[:: 1 if r % 2 == 0 else -1]:
                fn, args = calls[name]
                times[name] += timed(fn, *args, repeats=1, warm=False)
    return times
