"""The plain JAX + Optax references of ``jaxmlp bench``, written without any jaxmlp code.

The same workload as every runner (Glorot-uniform weights, ReLU then softmax cross-entropy, Adam
1e-3 with ε = 1e-7, the last 20 % of the rows for validation), in three ways a user might write it:

- ``jax-step``: a jitted step called from Python for every batch (the shuffle drawn on the host);
- ``jax-scan``: the epoch in one jitted ``lax.scan``, shuffled inside with
  ``jax.random.permutation`` (a sort), the validation pass as a second call: the first fused loop
  one writes;
- ``jax-scan-host``: what an expert writes, and what :func:`jaxmlp.fit` does: the shuffle drawn on
  the host with NumPy and passed in, the scan unrolled by two steps, the validation pass in the
  same compiled call, the parameter and optimizer buffers donated.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from jaxmlp.bench.child import Clock, Workload, adam, package_versions, split

__all__ = ["run_scan", "run_scan_host", "run_step"]


def run_step(config: Workload, data, clock: Clock):
    """``jax-step``: one jitted step per batch, called from Python."""
    import jax

    step = _step()

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def indexed_step(params, state, x, t, idx):
        return step(params, state, x[idx], t[idx])[:2]

    def epoch(params, state, arrays, e, rng):
        x, t, xv, tv = arrays
        order = rng.permutation(x.shape[0])
        for i in range(0, x.shape[0], config["batch_size"]):
            params, state = indexed_step(params, state, x, t, order[i:i + config["batch_size"]])
        jax.device_get(_evaluate(params, xv, tv))
        return params, state

    return _train(config, data, clock, epoch)


def run_scan(config: Workload, data, clock: Clock):
    """``jax-scan``: the epoch in one ``lax.scan``, shuffled with ``jax.random.permutation``."""
    import jax

    step, batch = _step(), config["batch_size"]

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def fused(params, state, x, t, key):
        order = jax.random.permutation(key, x.shape[0])
        return _scan(step, params, state, x, t, order, batch, unroll=1)

    def epoch(params, state, arrays, e, rng):
        x, t, xv, tv = arrays
        params, state = fused(params, state, x, t, jax.random.key(e))
        jax.device_get(_evaluate(params, xv, tv))
        return params, state

    return _train(config, data, clock, epoch)


def run_scan_host(config: Workload, data, clock: Clock):
    """``jax-scan-host``: host shuffle, a scan unrolled by two, validation in the same call."""
    import jax

    step, batch = _step(), config["batch_size"]

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def fused(params, state, x, t, order, xv, tv):
        params, state = _scan(step, params, state, x, t, order, batch, unroll=2)
        return params, state, _metrics(params, xv, tv)

    def epoch(params, state, arrays, e, rng):
        x, t, xv, tv = arrays
        order = rng.permutation(x.shape[0]).astype(np.int32)
        params, state, stats = fused(params, state, x, t, order, xv, tv)
        jax.device_get(stats)
        return params, state

    return _train(config, data, clock, epoch)


# --- the pieces -----------------------------------------------------------------------------

def _train(config: Workload, data, clock: Clock, epoch):
    """Initialise, run ``epoch(params, state, arrays, e, rng)`` per epoch with a clock mark after
    each, and return ``(test accuracy, versions)``."""
    import jax

    clock.watch_jax()
    ((x, t), (xv, tv)), (x_test, t_test) = split(data)
    params = _init(config.sizes, config["seed"])
    state, rng = adam().init(params), np.random.default_rng(config["seed"])
    arrays = tuple(jax.device_put(a) for a in (x, t, xv, tv))
    clock.mark()
    for e in range(config["epochs"]):
        params, state = epoch(params, state, arrays, e, rng)
        clock.mark()
    accuracy = float(_evaluate(params, x_test, t_test)[1])
    return accuracy, package_versions("jax", "jaxlib", "optax")


def _init(sizes, seed):
    """Glorot-uniform ``w (fan_in, fan_out)`` and zero ``b`` per layer (Keras's default)."""
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(jax.random.key(seed), len(sizes) - 1)
    return [(jax.random.uniform(k, (m, n), jnp.float32, -1.0, 1.0) * math.sqrt(6 / (m + n)),
             jnp.zeros(n, jnp.float32)) for k, m, n in zip(keys, sizes[:-1], sizes[1:])]


def _logits(params, x):
    import jax

    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    return x @ params[-1][0] + params[-1][1]


def _loss(params, x, t):
    import optax

    return optax.softmax_cross_entropy_with_integer_labels(_logits(params, x), t).mean()


def _step():
    """``step(params, state, x, t) -> (params, state, loss)``: one Adam update."""
    import jax
    import optax

    opt = adam()

    def step(params, state, x, t):
        value, grads = jax.value_and_grad(_loss)(params, x, t)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    return step


def _scan(step, params, state, x, t, order, batch, unroll):
    """The epoch's full batches in one ``lax.scan`` (``unroll`` steps per iteration), then the
    partial last batch as one more step."""
    import jax

    n, full = x.shape[0], x.shape[0] // batch

    def body(carry, idx):
        params, state, _ = step(*carry, x[idx], t[idx])
        return (params, state), None

    batches = order[: full * batch].reshape(full, batch)
    (params, state), _ = jax.lax.scan(body, (params, state), batches, unroll=unroll)
    if n % batch:
        params, state, _ = step(params, state, x[order[full * batch:]], t[order[full * batch:]])
    return params, state


def _metrics(params, x, t):
    """The mean cross-entropy and the accuracy on ``(x, t)``."""
    import jax.numpy as jnp
    import optax

    out = _logits(params, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(out, t).mean()
    accuracy = jnp.mean(jnp.argmax(out, -1) == t)
    return loss, accuracy


@functools.cache
def _evaluate_jit():
    import jax

    return jax.jit(_metrics)


def _evaluate(params, x, t):
    """:func:`_metrics` as one jitted call (the validation or test pass)."""
    return _evaluate_jit()(params, x, t)
