"""Kill -9 at random moments, also mid-save: the checkpoint stays loadable, a resume ends where an
uninterrupted run ends, and the next run removes the temporary files the kills left behind (as it
starts: a run resumed at its last epoch saves nothing). A kill between the files of a fit_many
checkpoint leaves a set that resumes (every boundary, simulated: tests/test_checkpoint_set.py)."""

import importlib.util
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxmlp
from jaxmlp.atomic import STALE_AFTER

SCRIPT = Path(__file__).parent / "scripts" / "fault_fit.py"
spec = importlib.util.spec_from_file_location("fault_fit", SCRIPT)
fault_fit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fault_fit)


def start(folder, *args):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(folder), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_when(process, ready, timeout=60.0):
    """SIGKILL ``process`` as soon as ``ready()`` holds; True if it was killed, False if it ended
    first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and process.poll() is None:
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    assert process.poll() is not None, "the child neither reached the moment nor ended"
    return False


def temporaries(folder):
    return sorted(folder.glob(".run.npz.*.tmp"))


def test_kill_9_mid_save_and_at_random_then_resume_equals_an_uninterrupted_run(tmp_path):
    model, params, x, t, kwargs = fault_fit.problem()
    want, _ = jaxmlp.fit(model, params, x, t, **kwargs)
    checkpoint = tmp_path / "run.npz"

    # 1. killed while the first save's temporary file exists (its fsync sleeps)
    child = start(tmp_path, "--slow-save", "0.5")
    assert kill_when(child, lambda: bool(temporaries(tmp_path))), child.stderr.read().decode()[
        -2000:
    ]
    assert temporaries(tmp_path), "the kill came during a save, so its temporary file is left"

    # 2. resumed, slow saves again, killed at a random moment (maybe while importing, training or
    # saving)
    moment = time.monotonic() + random.uniform(0.5, 3.0)
    kill_when(start(tmp_path, "--slow-save", "0.2"), lambda: time.monotonic() > moment)
    if checkpoint.exists():  # whatever the moment, the checkpoint on disk is whole
        saved = jaxmlp.load(checkpoint)
        assert len(saved.history["loss"]) * 8 == saved.step

    # 3. the stale temporaries are older than STALE_AFTER by the time a later run starts (aged here,
    #    not waited for), and that run removes them as it starts (run 2 may have ended the training,
    #    so that run 3 saves nothing); it resumes to the end
    left = temporaries(tmp_path)
    assert left
    for path in left:
        old = time.time() - 2 * STALE_AFTER
        os.utime(path, (old, old))
    last = start(tmp_path)
    _, err = last.communicate(timeout=120)
    assert last.returncode == 0, err.decode()[-2000:]
    assert temporaries(tmp_path) == []
    got = jaxmlp.load(tmp_path / "final.npz").params
    final = jaxmlp.load(checkpoint)
    assert final.step == fault_fit.EPOCHS * 8 and len(final.history["loss"]) == fault_fit.EPOCHS
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_a_live_writer_s_temporary_file_is_left_alone(tmp_path):
    """The removal rule with concurrent writers: locked (a live writer) or young files stay."""
    fcntl = pytest.importorskip("fcntl")
    target = tmp_path / "run.npz"
    old = time.time() - 2 * STALE_AFTER
    live, dead, young, other = (
        tmp_path / name
        for name in (
            ".run.npz.live0000.tmp",
            ".run.npz.dead0000.tmp",
            ".run.npz.young000.tmp",
            ".run.npzx.dead0000.tmp",
        )
    )
    for path in (live, dead, young, other):
        path.write_bytes(b"partial")
    for path in (live, dead, other):
        os.utime(path, (old, old))
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        jaxmlp.atomic.write_atomic(target, b"whole")
        assert live.exists() and young.exists() and other.exists() and not dead.exists()
    assert target.read_bytes() == b"whole"


def test_a_run_resumed_at_its_end_still_removes_stale_temporaries(tmp_path):
    """A resume with no epoch left saves nothing: the removal happens as the run starts."""
    model, params, x, t, kwargs = fault_fit.problem()
    checkpoint = tmp_path / "run.npz"
    kwargs = {**kwargs, "epochs": 1}
    jaxmlp.fit(model, params, x, t, checkpoint=str(checkpoint), **kwargs)
    saved = checkpoint.read_bytes()
    stale, young = tmp_path / ".run.npz.stale000.tmp", tmp_path / ".run.npz.young000.tmp"
    for path in (stale, young):
        path.write_bytes(b"partial")
    old = time.time() - 2 * STALE_AFTER
    os.utime(stale, (old, old))
    jaxmlp.fit(model, params, x, t, checkpoint=str(checkpoint), resume=str(checkpoint), **kwargs)
    assert not stale.exists() and young.exists()  # a young one may be a live writer's
    assert checkpoint.read_bytes() == saved  # nothing was left to train, nothing was written


def test_kill_9_between_the_files_of_a_fit_many_checkpoint_leaves_a_resumable_set(tmp_path):
    """The issue's case: killed when run.0.npz of epoch 2 is in place but run.1.npz and run.2.npz
    are not. A save of 3 models is 9 file operations (3 pending files synced, the folder synced,
    the manifest synced and renamed, 3 renames); the 17th is epoch 2's rename of run.1.npz."""
    model, params, x, t, kwargs = fault_fit.problem_many()
    want, _ = jaxmlp.fit_many(model, params, x, t, **kwargs)
    child = start(tmp_path, "--many", "--kill-at", "17")
    child.wait(timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr.read().decode()[-2000:]
    epochs = [len(jaxmlp.load(tmp_path / f"run.{i}.npz").history["loss"]) for i in range(3)]
    assert epochs == [2, 1, 1]
    assert len(list(tmp_path.glob(".run.*.npz.*.pending"))) == 2
    path = str(tmp_path / "run.npz")
    got, history = jaxmlp.fit_many(model, params, x, t, checkpoint=path, resume=path, **kwargs)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # the same program
    assert history["loss"].shape == (kwargs["epochs"], 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.0.npz", "run.1.npz", "run.2.npz",
                                                          "run.npz"]
