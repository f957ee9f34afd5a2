"""Data-parallel training: sharded runs equal single-device runs (each in its own process)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from jaxmlp import parallel

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


def test_process_mesh_splits_rows_over_processes_then_devices():
    mesh = parallel.process_mesh(parallel.make_mesh("all"))
    assert mesh.axis_names == ("process", "data") and mesh.shape["process"] == jax.process_count()
    assert parallel.batch_sharding(mesh).spec == jax.sharding.PartitionSpec(("process", "data"))
    assert parallel.batch_sharding(parallel.make_mesh(1)).spec == jax.sharding.PartitionSpec("data")
