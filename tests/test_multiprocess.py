"""fit across processes: two processes on 127.0.0.1 (CPU, gloo) each with its own 750 digits rows
run ONE fit together, and it equals the documented one-process run, fit_as_processes(2, ...); the
same two processes take one make_train_step step over the global mesh (one set-up for every
multi-process test). fit_as_processes itself, in this process: tests/test_shards.py.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from train_data import normwise_close as close

import jaxmlp
from jaxmlp.data import load
from jaxmlp.training.fit import fit_as_processes
from jaxmlp.training.many import fit_many_as_processes

SCRIPTS = Path(__file__).parent / "scripts"
_spec = importlib.util.spec_from_file_location("multiprocess_fit", SCRIPTS / "multiprocess_fit.py")
CHILD = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(CHILD)  # the children's model and settings
MODEL, settings = CHILD.MODEL, CHILD.settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """Start the two processes, compute the one-process equivalent meanwhile, collect both."""
    folder = tmp_path_factory.mktemp("multiprocess")
    (x, t), (x_test, t_test) = load("digits")
    x, t = x[:1500], t[:1500]
    params = MODEL.init(jax.random.key(0))
    np.savez(
        folder / "data.npz",
        x=x,
        t=t,
        x_test=x_test,
        t_test=t_test,
        **{f"{k}{i}": np.asarray(layer[k]) for i, layer in enumerate(params) for k in ("w", "b")},
    )
    port, env = free_port(), {**os.environ, "JAX_PLATFORMS": "cpu"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(SCRIPTS / "multiprocess_fit.py"), str(i), str(port), str(folder)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        reference = {
            epochs: fit_as_processes(2, MODEL, params, x, t, epochs=epochs, **settings())
            for epochs in (3, 4)
        }
        stacked = MODEL.init(jax.random.split(jax.random.key(5), 2))
        reference["many"] = fit_many_as_processes(2, MODEL, stacked, x, t, **CHILD.many_settings())
        outputs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    if any(proc.returncode for proc in procs):
        pytest.fail("\n".join(err[-3000:] for _, err in outputs))
    runs = [json.loads((folder / f"{i}.json").read_text()) for i in range(2)]
    return runs, reference, folder, (x_test, t_test)


def test_both_processes_end_with_identical_parameters_and_history(two_processes):
    (a, b), *_ = two_processes
    assert a["devices"] == b["devices"] == 4 and a["processes"] == b["processes"] == 2
    for key in ("epoch3", "epoch4", "history3", "history4", "test"):
        assert a[key] == b[key], key  # the same replicated result, not just close


def test_two_processes_equal_the_one_process_run_with_shards(two_processes):
    (a, _), reference, *_ = two_processes
    for epochs in (3, 4):
        params, history = reference[epochs]
        close([np.array(v) for v in a[f"epoch{epochs}"]], params)
        got = a[f"history{epochs}"]
        assert set(got) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        for name in got:
            np.testing.assert_allclose(got[name], history[name], rtol=1e-5, atol=1e-6)
    assert len(a["history4"]["loss"]) == 4  # resumed from the 3-epoch checkpoint, one more epoch


def test_a_train_step_over_both_processes_equals_one_device_with_the_whole_batch(two_processes):
    """make_train_step on the global mesh (4 devices in 2 processes), each process its 16 rows."""
    (a, b), *_ = two_processes
    model, params, x, t, opt = CHILD.step_problem()
    single, _, metrics = jaxmlp.make_train_step(model, optimizer=opt)(
        params, opt.init(params), (x, t)
    )
    for result in (a, b):
        assert result["step"]["loss"] == pytest.approx(float(metrics["loss"]), rel=1e-6)
        for got, want in zip(result["step"]["leaves"], jax.tree.leaves(single), strict=True):
            np.testing.assert_allclose(np.array(got, np.float32), want, rtol=1e-5, atol=1e-6)


def test_one_checkpoint_holds_every_epoch(two_processes):
    (a, _), _, folder, _ = two_processes
    assert sorted(p.name for p in folder.iterdir()) == ["0.json", "1.json", "data.npz", "run.npz"]
    ckpt = jaxmlp.load(folder / "run.npz")
    assert ckpt.history["loss"] == a["history4"]["loss"]
    assert ckpt.step == 4 * 19  # 600 training rows per process, 32 of them per batch: 19 updates
    close(ckpt.params, [np.array(v) for v in a["epoch4"]], rtol=0)
    assert ckpt.run["shards"] == 2


def test_global_test_score_and_own_predictions(two_processes):
    (a, b), reference, _, (x_test, t_test) = two_processes
    params = reference[4][0]
    want = jaxmlp.evaluate(MODEL, params, x_test, t_test)
    assert a["test"]["accuracy"] >= 0.85
    assert a["test"]["accuracy"] == pytest.approx(want["accuracy"], abs=1.5 / len(t_test))
    assert a["test"]["loss"] == pytest.approx(want["loss"], rel=1e-5)
    predicted = np.concatenate([a["predicted"], b["predicted"]])
    assert len(a["predicted"]) == 149 and len(predicted) == len(t_test)
    mine = np.asarray(jaxmlp.predict(MODEL, params, x_test)).argmax(axis=1)
    assert np.sum(predicted != mine) <= 1  # a near tie may flip between two compiled programs


def test_fit_many_across_processes_equals_one_process(two_processes):
    (a, b), reference, *_ = two_processes
    assert a["many"] == b["many"] and a["many_history"] == b["many_history"]
    params, history = reference["many"]
    close([np.array(v) for v in a["many"]], params)
    for name, values in a["many_history"].items():
        np.testing.assert_allclose(values, history[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name,values",
    [
        ("epochs", "[2, 3]"),
        ("batch_size", "[64, 80]"),
        ("validation_split", "[0.2, 0.25]"),
        ("params", "['"),
        ("model", "[[[64, 32, 10]"),
    ],
)
def test_processes_that_disagree_stop_with_the_setting_named(two_processes, name, values):
    (a, b), *_ = two_processes
    assert a["errors"][name] == b["errors"][name]  # every process says the same
    message = a["errors"][name]
    assert f"{name}: every process must pass the same value; got {values}" in message
    assert message.endswith("(in process order)")


def test_uneven_rows_and_missing_devices_are_clear_errors(two_processes):
    (a, b), *_ = two_processes
    assert a["errors"] == b["errors"]
    assert a["errors"]["uneven"] == (  # before any collective: t's shape differs too
        "x: every process must pass the same shape and dtype; got float32 (750, 64), "
        "float32 (748, 64) (in process order); t: every process must pass the same shape and "
        "dtype; got int32 (750,), int32 (748,) (in process order)"
    )
    assert "devices: expected devices='all' in a run of 2 processes" in a["errors"]["no_devices"]


def test_a_setting_that_one_process_rejects_alone_stops_both(two_processes):
    """batch_size=0 on process 1 fails its own check before the agreement; fit carries it there."""
    (a, b), *_ = two_processes
    assert a["errors"]["one_sided"] == b["errors"]["one_sided"]
    assert a["errors"]["one_sided"].startswith("process 1: batch_size: ")
