"""Data-parallel training: sharded runs equal single-device runs (each in its own process)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import parallel
from jaxmlp.core.checks import prepare

SCRIPTS = Path(__file__).parent / "scripts"


def run(script, *args, timeout=240):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def eight_devices():
    done = run("sharded_fit.py")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("grad", ["backprop", "autodiff"])
@pytest.mark.parametrize("devices", ["2", "8", "all"])
def test_sharded_fit_equals_one_device(eight_devices, grad, devices):
    assert eight_devices[f"{grad}-{devices}"] <= 1e-5
    assert eight_devices[f"{grad}-{devices}-loss"] <= 1e-5
    assert eight_devices[f"{grad}-{devices}-replicated"]


def test_sharded_step_splits_inputs_and_replicates_outputs(eight_devices):
    assert eight_devices["input_shards"] == 8 and eight_devices["input_shard_rows"] == 8
    assert eight_devices["step"] <= 1e-5
    assert eight_devices["step_replicated"]


@pytest.mark.parametrize("dtype,devices,tolerance", [("float32", 2, 1e-5), ("float64", 8, 1e-12)])
def test_fit_many_over_devices_equals_one_device(eight_devices, dtype, devices, tolerance):
    assert eight_devices[f"many-{dtype}-{devices}"] <= tolerance
    assert eight_devices[f"many-{dtype}-{devices}-history"] <= tolerance
    assert eight_devices[f"many-{dtype}-{devices}-spread"] == devices  # the models are spread


def test_bad_device_counts_are_clear_errors(eight_devices):
    errors = eight_devices["errors"]
    assert "batch_size: expected a multiple of 3 (3 devices take equal parts" in errors["3"]
    assert "between 1 and 8" in errors["9"] and "between 1 and 8" in errors["0"]
    assert "expected 'all', a count or a list" in errors["some"]
    assert "devices: 16 models do not split evenly over 3 devices" in errors["many-3"]


def test_mesh_arguments_in_process():
    assert parallel.make_mesh(None) is None
    mesh = parallel.make_mesh(jax.devices()[:1])
    assert mesh.axis_names == ("data",) and parallel.make_mesh(mesh=mesh) is mesh
    with pytest.raises(ValueError, match="give one of them"):
        parallel.make_mesh(1, mesh=mesh)
    with pytest.raises(ValueError, match="mesh: expected a jax.sharding.Mesh"):
        parallel.make_mesh(mesh="mesh")
    with pytest.raises(TypeError, match="devices"):
        parallel.make_mesh(2.5)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_with_jax_distributed_equal_one_process(tmp_path):
    port = free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(SCRIPTS / "distributed_step.py"),
                str(i),
                str(port),
                str(tmp_path / f"{i}.json"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = []
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=120))
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail("the two jax.distributed processes did not finish in 120 s")
    if any(p.returncode for p in procs):
        stderr = "\n".join(err for _, err in outputs)
        if "collectives" in stderr.lower() and (
            "not implemented" in stderr.lower() or "unsupported" in stderr.lower()
        ):
            pytest.skip("this platform's jaxlib lacks CPU cross-process collectives")
        pytest.fail(stderr[-3000:])
    # the same step on one device, with the whole batch
    model = jaxmlp.MLP((6, 8, 3), ("relu", "softmax"))
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (32, 6))
    x, t = prepare(model, params, x, jnp.argmax(x[:, :3], axis=1))
    opt = optax.adam(0.05)
    single, _, metrics = jaxmlp.make_train_step(model, optimizer=opt)(
        params, opt.init(params), (x, t)
    )
    for i in range(2):
        result = json.loads((tmp_path / f"{i}.json").read_text())
        assert result["devices"] == 4 and result["processes"] == 2
        assert result["loss"] == pytest.approx(float(metrics["loss"]), rel=1e-6)
        for got, want in zip(result["leaves"], jax.tree.leaves(single), strict=True):
            np.testing.assert_allclose(np.array(got, np.float32), want, rtol=1e-5, atol=1e-6)


def test_process_mesh_splits_rows_over_processes_then_devices():
    mesh = parallel.process_mesh(parallel.make_mesh("all"))
    assert mesh.axis_names == ("process", "data") and mesh.shape["process"] == jax.process_count()
    assert parallel.batch_sharding(mesh).spec == jax.sharding.PartitionSpec(("process", "data"))
    assert parallel.batch_sharding(parallel.make_mesh(1)).spec == jax.sharding.PartitionSpec("data")
