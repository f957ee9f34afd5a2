"""fit_as_processes(P, ...) in this process: it forms the batches jaxmlp.parallel.processes
documents (checked against a step loop written out by hand), keeps each shard's last fraction for
validation, and its errors name the argument; and jaxmlp train's process flags and row split.
The real multi-process runs are tests/test_multiprocess.py's.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from train_data import normwise_close as close

import jaxmlp
from jaxmlp.core.checks import prepare
from jaxmlp.training.epoch import shuffle_order
from jaxmlp.training.fit import fit_as_processes

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
