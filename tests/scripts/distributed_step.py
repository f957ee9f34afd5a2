"""One of two processes (two CPU devices each) joined by jax.distributed on 127.0.0.1.

Usage: distributed_step.py PROCESS_ID PORT OUT.json. Each process owns half of a 32-row batch,
builds the global batch with parallel.global_array, takes one sharded training step, and writes
its parameters (its local copy of the replicated result) for the test to compare with the same
step taken on one device with the whole batch.
"""

import json
import sys

import jax

jax.config.update("jax_num_cpu_devices", 2)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import jaxmlp  # noqa: E402
from jaxmlp import parallel  # noqa: E402
from jaxmlp.core.checks import prepare  # noqa: E402


def main(process_id: int, port: int, out: str) -> None:
    parallel.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=process_id)
    model = jaxmlp.MLP((6, 8, 3), ("relu", "softmax"))
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (32, 6))
    x, t = prepare(model, params, x, jnp.argmax(x[:, :3], axis=1))
    mesh = parallel.make_mesh("all")
    mine = slice(16 * process_id, 16 * (process_id + 1))
    xg, tg = parallel.global_array(mesh, x[mine]), parallel.global_array(mesh, t[mine])
    opt = optax.adam(0.05)
    step = jaxmlp.make_train_step(model, optimizer=opt, mesh=mesh)
    sharded, _, metrics = step(
        jax.device_put(params, parallel.replicated(mesh)),
        jax.device_put(opt.init(params), parallel.replicated(mesh)),
        (xg, tg),
    )
    leaves = [np.asarray(leaf.addressable_data(0)).tolist() for leaf in jax.tree.leaves(sharded)]
    with open(out, "w") as f:
        json.dump(
            {
                "devices": len(jax.devices()),
                "processes": jax.process_count(),
                "leaves": leaves,
                "loss": float(np.asarray(metrics["loss"].addressable_data(0))),
            },
            f,
        )
    jax.distributed.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
