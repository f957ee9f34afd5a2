"""Run in its own process with 8 CPU devices: sharded training equals single-device training."""

import json
import sys

import jax

jax.config.update("jax_num_cpu_devices", 8)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import jaxmlp  # noqa: E402
from jaxmlp import parallel  # noqa: E402
from jaxmlp.core.checks import prepare  # noqa: E402


def max_rel(a, b):
    return max(
        float(jnp.max(jnp.abs(u - v)) / jnp.max(jnp.abs(v)))
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def main():
    assert len(jax.devices()) == 8
    model = jaxmlp.MLP((12, 16, 4), ("tanh", "softmax"))
    x = jax.random.normal(jax.random.key(0), (203, 12))
    t = jnp.argmax(x[:, :4], axis=1)
    params = model.init(jax.random.key(1))
    out = {}
    for grad in ("backprop", "autodiff"):
        kwargs = dict(
            optimizer=optax.adam(0.01),
            epochs=4,
            batch_size=16,
            validation_split=0.2,
            grad=grad,
            verbose=0,
            key=jax.random.key(2),
        )
        single, h1 = jaxmlp.fit(model, params, x, t, **kwargs)
        for devices in (2, 8, "all"):
            sharded, h2 = jaxmlp.fit(model, params, x, t, devices=devices, **kwargs)
            out[f"{grad}-{devices}"] = max_rel(sharded, single)
            out[f"{grad}-{devices}-loss"] = float(np.max(np.abs(np.array(h1["loss"]) - h2["loss"])))
            out[f"{grad}-{devices}-replicated"] = all(
                leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(sharded)
            )
    # the step: inputs split by rows, outputs replicated
    mesh = parallel.make_mesh("all")
    step = jaxmlp.make_train_step(model, optimizer=optax.sgd(0.1), mesh=mesh)
    xb, tb = prepare(model, params, x[:64], t[:64])
    xs = jax.device_put(xb, parallel.batch_sharding(mesh))
    out["input_shards"] = len(xs.addressable_shards)
    out["input_shard_rows"] = xs.addressable_shards[0].data.shape[0]
    p1, _, _ = step(params, optax.sgd(0.1).init(params), (xs, tb))
    plain = jaxmlp.make_train_step(model, optimizer=optax.sgd(0.1))
    p0, _, _ = plain(params, optax.sgd(0.1).init(params), (xb, tb))
    out["step"] = max_rel(p1, p0)
    out["step_replicated"] = all(leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(p1))
    errors = {}
    for devices in (3, 9, 0, "some"):
        try:
            jaxmlp.fit(model, params, x, t, devices=devices, batch_size=16, verbose=0)
        except (ValueError, TypeError) as error:
            errors[str(devices)] = f"{type(error).__name__}: {error}"
    # N models over devices: each device trains its models, no communication
    for dtype in ("float32", "float64"):
        with jax.enable_x64(dtype == "float64"):
            xd = x.astype(dtype)
            keys = jax.random.split(jax.random.key(3), 16)
            stacked = jax.tree.map(lambda a, d=dtype: a.astype(d), model.init(keys))
            kwargs = dict(
                learning_rate=np.geomspace(1e-3, 1e-1, 16).tolist(),
                l2=np.linspace(0.0, 1e-2, 16).tolist(),
                epochs=3,
                batch_size=16,
                validation_split=0.2,
                verbose=0,
                key=jax.random.key(4),
            )
            one, h1 = jaxmlp.fit_many(model, stacked, xd, t, **kwargs)
            for devices in (2,) if dtype == "float32" else (8,):
                split, h2 = jaxmlp.fit_many(model, stacked, xd, t, devices=devices, **kwargs)
                out[f"many-{dtype}-{devices}"] = max_rel(split, one)
                out[f"many-{dtype}-{devices}-history"] = max(
                    float(np.max(np.abs(h1[k] - h2[k]))) for k in h1
                )
                out[f"many-{dtype}-{devices}-spread"] = len(split[0]["w"].sharding.device_set)
    try:
        jaxmlp.fit_many(
            model, model.init(jax.random.split(jax.random.key(3), 16)), x, t, devices=3, verbose=0
        )
    except ValueError as error:
        errors["many-3"] = f"{type(error).__name__}: {error}"
    out["errors"] = errors
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
