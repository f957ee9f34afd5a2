"""One of two processes (two CPU devices each) that run ONE jaxmlp.fit together on 127.0.0.1.

Usage: multiprocess_fit.py PROCESS_ID PORT DIR. DIR/data.npz holds the first 1,500 digits
training rows, the test rows and the initial parameters (the test writes it: no scikit-learn
import here). Process p keeps only its own 750 training rows (750 p ... 750 p + 749) and its half
of the test rows. It trains 3 epochs with a checkpoint (written by process 0), resumes from that
checkpoint to epoch 4, scores the test rows with the global evaluate, predicts its own test rows,
tries two bad calls, and tries calls whose settings differ between the processes (one that only
process 1 rejects), trains two models with fit_many, takes one training step of make_train_step
over the global mesh with its half of a 32-row batch (:func:`one_step`), and writes DIR/P.json
for the test to compare with the one-process equivalents (fit_as_processes, and the same step on
one device with the whole batch).
"""

import json
import sys
from pathlib import Path

import jax
import numpy as np
import optax

import jaxmlp
from jaxmlp import parallel

MODEL = jaxmlp.MLP((64, 32, 10), ("relu", "softmax"))


def settings():
    """The run's settings (the test's one-process run uses the same); built after initialize."""
    return dict(
        optimizer=optax.adam(0.02),
        batch_size=64,  # 32 rows a process: each collective step is the cost here
        validation_split=0.2,
        key=jax.random.key(3),
        verbose=0,
    )


def many_settings():
    """Two models, each its own learning rate (the test's one-process run uses the same)."""
    return dict(
        optimizer="adam",
        learning_rate=[0.01, 0.03],
        epochs=2,
        batch_size=64,  # 32 rows a process: each collective step is the cost here
        validation_split=0.2,
        key=jax.random.key(4),
        verbose=0,
    )


def step_problem():
    """The training step's network, parameters, 32-row batch and optimizer (the test's too)."""
    from jaxmlp.core.checks import prepare

    model = jaxmlp.MLP((6, 8, 3), ("relu", "softmax"))
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (32, 6))
    x, t = prepare(model, params, x, jax.numpy.argmax(x[:, :3], axis=1))
    return model, params, x, t, optax.adam(0.05)


def one_step(process_id: int) -> dict:
    """One sharded step of make_train_step: this process owns rows 16 p ... 16 p + 15 of the
    batch, parallel.global_array makes the global batch; its copy of the replicated result."""
    model, params, x, t, opt = step_problem()
    mesh = parallel.make_mesh("all")
    mine = slice(16 * process_id, 16 * (process_id + 1))
    xg, tg = parallel.global_array(mesh, x[mine]), parallel.global_array(mesh, t[mine])
    step = jaxmlp.make_train_step(model, optimizer=opt, mesh=mesh)
    sharded, _, metrics = step(
        jax.device_put(params, parallel.replicated(mesh)),
        jax.device_put(opt.init(params), parallel.replicated(mesh)),
        (xg, tg),
    )
    mine = [np.asarray(leaf.addressable_data(0)).tolist() for leaf in jax.tree.leaves(sharded)]
    return {
        "leaves": mine,
        "loss": float(np.asarray(metrics["loss"].addressable_data(0))),
    }


def leaves(params):
    return [np.asarray(leaf).tolist() for leaf in jax.tree.leaves(params)]


def main(process_id: int, port: int, out: Path) -> None:
    parallel.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=process_id)
    kwargs = settings()
    data = np.load(out / "data.npz")
    x, t, x_test, t_test = data["x"], data["t"], data["x_test"], data["t_test"]
    params = [{"w": data[f"w{i}"], "b": data[f"b{i}"]} for i in range(MODEL.num_layers)]
    mine = slice(750 * process_id, 750 * (process_id + 1))
    half = slice(0, 149) if process_id == 0 else slice(149, None)
    checkpoint = out / "run.npz"
    first, h3 = jaxmlp.fit(
        MODEL, params, x[mine], t[mine], epochs=3, devices="all", checkpoint=checkpoint, **kwargs
    )
    resumed, h4 = jaxmlp.fit(
        MODEL,
        params,
        x[mine],
        t[mine],
        epochs=4,
        devices="all",
        checkpoint=checkpoint,
        resume=checkpoint,
        **kwargs,
    )
    errors = {}
    try:
        jaxmlp.fit(
            MODEL,
            params,
            x[mine][: 750 - 2 * process_id],
            t[mine][: 750 - 2 * process_id],
            devices="all",
            **kwargs,
        )
    except ValueError as error:
        errors["uneven"] = str(error)
    try:
        jaxmlp.fit(MODEL, params, x[mine], t[mine], **kwargs)
    except ValueError as error:
        errors["no_devices"] = str(error)
    wider = jaxmlp.MLP((64, 32 + process_id, 10), ("relu", "softmax"))
    disagreements = {  # one setting differs between the two processes: an error, never a hang
        "epochs": dict(epochs=2 + process_id),
        "batch_size": dict(batch_size=64 + 16 * process_id),
        "validation_split": dict(validation_split=[0.2, 0.25][process_id]),
        "params": dict(params=MODEL.init(jax.random.key(process_id))),
        "model": dict(model=wider, params=wider.init(jax.random.key(0))),
    }
    for name, change in disagreements.items():
        call = {"model": MODEL, "params": params, **kwargs, **change}
        try:
            jaxmlp.fit(
                call.pop("model"), call.pop("params"), x[mine], t[mine], devices="all", **call
            )
        except ValueError as error:
            errors[name] = str(error)
    try:  # a setting only process 1 rejects, before the agreement: process 0 hears of it
        one_sided = {**kwargs, "batch_size": 64 - 64 * process_id}
        jaxmlp.fit(MODEL, params, x[mine], t[mine], devices="all", **one_sided)
    except ValueError as error:
        errors["one_sided"] = str(error)
    stacked = MODEL.init(jax.random.split(jax.random.key(5), 2))
    many, many_history = jaxmlp.fit_many(
        MODEL, stacked, x[mine], t[mine], devices="all", **many_settings()
    )
    result = {
        "devices": len(jax.devices()),
        "processes": jax.process_count(),
        "epoch3": leaves(first),
        "epoch4": leaves(resumed),
        "history3": dict(h3),
        "history4": dict(h4),
        "test": jaxmlp.evaluate(MODEL, resumed, x_test[half], t_test[half]),
        "predicted": np.asarray(jaxmlp.predict(MODEL, resumed, x_test[half]))
        .argmax(axis=1)
        .tolist(),
        "errors": errors,
        "many": leaves(many),
        "many_history": {k: v.tolist() for k, v in many_history.items()},
        "step": one_step(process_id),
    }
    (out / f"{process_id}.json").write_text(json.dumps(result))
    jax.distributed.shutdown()


if __name__ == "__main__":
    jax.config.update("jax_num_cpu_devices", 2)
    main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
