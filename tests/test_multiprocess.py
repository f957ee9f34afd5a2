"""fit across processes: two processes on 127.0.0.1 (CPU, gloo) each with its own 750 digits rows
run ONE fit together, and it equals the documented one-process run, fit_as_processes(2, ...); the
same two processes take one make_train_step step over the global mesh (one set-up for every
multi-process test).

Also, in this process: fit_as_processes(P, ...) forms the batches jaxmlp.parallel.processes
documents (checked against a step loop written out by hand), and its errors name the argument.
"""

import importlib.util
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
from jaxmlp.core.checks import prepare
from jaxmlp.data import load
from jaxmlp.training.epoch import shuffle_order
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


def close(a, b, rtol=1e-5):
    """Every leaf of ``a`` within ``rtol`` of ``b``'s largest entry (two compiled programs)."""
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
        assert u.shape == v.shape
        assert np.max(np.abs(u - v)) <= rtol * np.max(np.abs(v)), np.max(np.abs(u - v))


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
    assert ckpt.step == 4 * 38  # 600 training rows per process, 16 of them per batch: 38 updates
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
        ("batch_size", "[32, 48]"),
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
    assert (
        "every process must pass the same number of rows; got [750, 748]" in a["errors"]["uneven"]
    )
    assert "devices: expected devices='all' in a run of 2 processes" in a["errors"]["no_devices"]


# --- in this process: the global batch order, written out by hand -----------------------------


def by_hand(model, params, xs, ts, key, opt, epochs, per, steps=None):
    """The documented global order as a plain step loop over (2, m, ...) shards: shard p's order is
    shuffle_order(fold_in(key, p), e, m); batch i joins each shard's i-th ``per`` rows, the partial
    last batch both remainders. Returns the parameters after ``steps`` updates (all by default) and
    each epoch's mean loss."""
    step, state, m = jaxmlp.make_train_step(model, optimizer=opt), opt.init(params), xs.shape[1]
    losses, done = [], 0
    for epoch in range(epochs):
        orders = [shuffle_order(jax.random.fold_in(key, p), epoch, m) for p in range(2)]
        total = 0.0
        for start in range(0, m, per):
            if done == steps:
                return params, losses
            rows = [o[start : start + per] for o in orders]
            batch = (
                jnp.concatenate([xs[p][r] for p, r in enumerate(rows)]),
                jnp.concatenate([ts[p][r] for p, r in enumerate(rows)]),
            )
            params, state, metrics = step(params, state, batch)
            total, done = total + float(metrics["loss"]) * len(batch[0]), done + 1
        losses.append(total / (2 * m))
    return params, losses


def test_shards_form_the_documented_batches():
    model = jaxmlp.MLP((5, 7, 3), ("tanh", "softmax"))
    params = model.init(jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (2 * 25, 5))
    t = jnp.argmax(x[:, :3], axis=1)
    key, opt = jax.random.key(7), optax.sgd(0.1)
    got, history = fit_as_processes(
        2, model, params, x, t, optimizer=opt, epochs=2, batch_size=8, key=key, verbose=0
    )
    xs, ts = prepare(model, params, x, t)
    # 2 x 25 rows at 2 x 4 per batch: 6 batches of 8 rows, then one of 2 x 1 rows
    mine, losses = by_hand(
        model, params, xs.reshape(2, 25, 5), ts.reshape(2, 25, 3), key, opt, 2, 4
    )
    close(got, mine)
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-5)


def test_shards_non_finite_loss_keeps_the_last_finite_parameters():
    model = jaxmlp.MLP((4, 5, 3), ("relu", "softmax"))
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (40, 4)) * 1e3
    t = jnp.argmax(x[:, :3], axis=1)
    key, opt = jax.random.key(0), optax.sgd(1e30)
    with pytest.raises(jaxmlp.TrainingError, match="non-finite loss at epoch 1, step 2") as caught:
        fit_as_processes(
            2, model, params, x, t, optimizer=opt, batch_size=4, epochs=3, key=key, verbose=0
        )
    xs, ts = prepare(model, params, x, t)
    mine, _ = by_hand(
        model, params, xs.reshape(2, 20, 4), ts.reshape(2, 20, 3), key, opt, 1, 2, steps=1
    )
    close(caught.value.params, mine)


def test_shards_validation_is_each_shards_last_fraction():
    model = jaxmlp.MLP((4, 3), ("softmax",))
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(3), (40, 4))
    t = jnp.argmax(x[:, :3], axis=1)
    _, history = fit_as_processes(
        2,
        model,
        params,
        x,
        t,
        optimizer=optax.sgd(0.0),
        batch_size=4,
        validation_split=0.25,
        verbose=0,
    )
    held = np.r_[15:20, 35:40]  # the last 5 of each shard's 20 rows
    want = jaxmlp.evaluate(model, params, x[held], t[held])
    assert history["val_loss"][0] == pytest.approx(want["loss"], rel=1e-6)
    assert history["val_accuracy"][0] == pytest.approx(want["accuracy"])


def test_shards_errors_name_the_argument():
    model = jaxmlp.MLP((4, 3), ("softmax",))
    params = model.init(jax.random.key(0))
    x, t = np.ones((10, 4), np.float32), np.zeros(10, np.int32)
    with pytest.raises(ValueError, match=r"x: 10 rows do not split into 3 equal shards"):
        fit_as_processes(3, model, params, x, t, batch_size=6, verbose=0)
    with pytest.raises(ValueError, match=r"batch_size: expected a multiple of 2 \(2 shards"):
        fit_as_processes(2, model, params, x, t, batch_size=5, verbose=0)
    with pytest.raises(ValueError, match="shards"):
        fit_as_processes(0, model, params, x, t, verbose=0)


# --- jaxmlp train across processes: the flags and each process's rows ---------------------------


def test_train_flags_parse_in_their_own_group(capsys):
    from jaxmlp import cli

    args = cli.build_parser().parse_args(
        ["train", "--coordinator", "10.0.0.1:1234", "--num-processes", "4", "--process-id", "3"]
    )
    assert (args.coordinator, args.num_processes, args.process_id) == ("10.0.0.1:1234", 4, 3)
    assert cli.main(["train", "--help"]) == 0
    assert "several processes (jax.distributed)" in capsys.readouterr().out
    assert cli.main(["train", "--num-processes", "0"]) == 2


def test_train_flag_errors_come_before_joining(monkeypatch):
    from jaxmlp import cli
    from jaxmlp.cli import processes

    joined = []
    monkeypatch.setattr(jaxmlp.parallel, "initialize", lambda *a: joined.append(a))
    for argv, message in [
        (["--coordinator", "localhost"], "--coordinator: expected HOST:PORT"),
        (["--num-processes", "2", "--process-id", "2"], "--process-id: expected 0 to 1"),
    ]:
        args = cli.build_parser().parse_args(["train", *argv])
        with pytest.raises(processes.CLIError, match=message):
            processes.join(args)
    assert joined == []
    for name in ("JAX_COORDINATOR_ADDRESS", "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert processes.join(cli.build_parser().parse_args(["train"])) == (0, 1) and joined == []
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")  # srun -n 4: join what jax.distributed finds
    assert processes.cluster_environment()
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "1")
    assert not processes.cluster_environment()


def test_each_process_keeps_its_own_equal_part_of_the_rows():
    from jaxmlp.cli.processes import own_rows

    x, t = np.arange(14).reshape(7, 2), np.arange(7)
    parts = [own_rows(x, t, rank, 2) for rank in range(2)]
    assert [p[1].tolist() for p in parts] == [[0, 1, 2], [3, 4, 5]]  # the 7th row is left out
    assert np.array_equal(parts[1][0], x[3:6])
    assert own_rows(x, t, 0, 1)[1] is t
