"""One writer per checkpoint (issue 37): a second run given a checkpoint path that a live run is
writing is refused by name before it trains, and the first's files stay intact; a run killed with
``kill -9`` leaves no lock that blocks the next one."""

import os
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp.training.writer import lock_path, writing

MODEL = jaxmlp.MLP((4, 3, 2), ("tanh", "softmax"))
X = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
T = np.arange(32) % 2

# a live writer, as a run holds its path: the lock file's flock, then wait (no JAX: quick)
HOLDER = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("holding", flush=True)
    time.sleep(120)
""")


def fit(path, epochs=1, **more):
    return jaxmlp.fit(MODEL, MODEL.init(jax.random.key(0)), X, T, optimizer=optax.sgd(0.1),
                      epochs=epochs, batch_size=8, checkpoint=path, verbose=0, **more)


def hold(path):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_path(path))],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "holding"
    return child


@pytest.mark.parametrize("models", [None, 2])
def test_a_second_run_on_a_live_runs_path_is_refused_and_the_first_kept(tmp_path, models):
    path = tmp_path / "run.npz"
    if models is None:
        fit(path)
    else:
        jaxmlp.fit_many(MODEL, MODEL.init(jax.random.split(jax.random.key(0), 2)), X, T,
                        optimizer="sgd", epochs=1, batch_size=8, checkpoint=path, verbose=0)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    child = hold(path)
    try:
        with pytest.raises(ValueError, match=r"checkpoint: '.*run\.npz' is being written by "
                                             r"another run that is still running"):
            fit(path, resume=path, epochs=2) if models is None else jaxmlp.fit_many(
                MODEL, MODEL.init(jax.random.split(jax.random.key(0), 2)), X, T,
                optimizer="sgd", epochs=2, batch_size=8, checkpoint=path, resume=path,
                verbose=0)
    finally:
        child.kill()
        child.wait()
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in before}
    assert after == before  # the first run's files, byte for byte


def test_a_killed_writers_lock_does_not_block_the_next_run(tmp_path):
    path = tmp_path / "run.npz"
    child = hold(path)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert lock_path(path).exists()  # left behind, unlocked
    _, history = fit(path)
    assert len(history["loss"]) == 1 and path.is_file()
    assert not lock_path(path).exists()  # the run that held it removed it


def test_the_lock_is_held_for_the_block_and_released_after(tmp_path):
    path = tmp_path / "sub" / "run.npz"
    with writing(path):
        assert lock_path(path).exists()
        with pytest.raises(ValueError, match="is being written by another run"), writing(path):
            pass
    assert not lock_path(path).exists()
    with writing(None):  # no checkpoint: nothing held
        assert not any(tmp_path.rglob("*.lock"))
