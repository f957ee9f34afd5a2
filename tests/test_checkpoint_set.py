"""fit_many's checkpoints are one unit (issue 28): a crash at any file boundary of any save leaves
a set that resumes to bitwise the uninterrupted run, the files of an uncommitted set are removed
(only those: nothing jaxmlp did not write), and a set written before manifests still resumes.

The crash is simulated in-process: an exception that no ``except Exception`` catches, raised just
before the k-th file operation (``os.fsync`` or ``os.replace``) of a checkpointed run, for every
k. A real SIGKILL at one boundary is in tests/test_faults.py.
"""

import importlib.util
import os
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxmlp
from jaxmlp.training import checkpoint_set

SCRIPT = Path(__file__).parent / "scripts" / "fault_fit.py"
spec = importlib.util.spec_from_file_location("fault_fit", SCRIPT)
fault_fit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fault_fit)

MODEL, PARAMS, X, T, KWARGS = fault_fit.problem_many(epochs=2)
MODELS = 3
#: files of the user's that share the folder, some with names close to jaxmlp's own
FOREIGN = ("notes.txt", "run.0.npz.bak", ".run.0.npz.pending", ".run.0.npz.abcdefg.pending",
           ".run.x.npz.abcdefgh.pending", "run.npz.json")


class Crash(BaseException):
    """Stands for SIGKILL: no ``except Exception`` in jaxmlp catches it."""


def crash():
    raise Crash()


def same(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def fit_many(folder, monkeypatch=None, crash_at=0):
    """One checkpointed run in ``folder`` (resuming when its manifest exists), crashing just
    before its ``crash_at``-th file operation; ``(params, history)`` or ``None`` when it crashed.
    """
    path = folder / "run.npz"
    with monkeypatch.context() as patch:
        if crash_at:
            patch.setattr(os, "fsync", os.fsync)  # restored when the context ends
            patch.setattr(os, "replace", os.replace)
            fault_fit.at_file_operation(crash_at, crash)
        try:
            return jaxmlp.fit_many(MODEL, PARAMS, X, T, checkpoint=str(path),
                                   resume=str(path) if path.exists() else None, **KWARGS)
        except Crash:
            return None


def operations(folder, monkeypatch):
    """The number of file operations of a whole checkpointed run."""
    count = [0]
    with monkeypatch.context() as patch:
        for name in ("fsync", "replace"):
            operation = getattr(os, name)

            def counted(*args, operation=operation, **kwargs):
                count[0] += 1
                return operation(*args, **kwargs)

            patch.setattr(os, name, counted)
        fit_many(folder, monkeypatch)
    return count[0]


def committed(folder):
    """The committed set is whole: every member holds the manifest's epoch, at its final name or
    still pending."""
    path = folder / "run.npz"
    if not path.exists():
        return 0
    epoch = checkpoint_set.read(path)["epoch"]
    for file in checkpoint_set.members(path, MODELS):
        assert len(jaxmlp.load(file).history["loss"]) == epoch
    return epoch


def test_a_crash_at_every_file_boundary_resumes_to_the_uninterrupted_run(tmp_path, monkeypatch):
    want, want_history = jaxmlp.fit_many(MODEL, PARAMS, X, T, **KWARGS)
    total = operations(tmp_path / "count", monkeypatch)
    assert total >= KWARGS["epochs"] * (MODELS + 1)  # each save: N files and the manifest at least
    epochs_seen = set()
    for k in range(1, total + 1):
        folder = tmp_path / str(k)
        folder.mkdir()
        for name in FOREIGN:
            (folder / name).write_bytes(name.encode())
        assert fit_many(folder, monkeypatch, crash_at=k) is None, k
        epochs_seen.add(committed(folder))
        # the resumed run is killed too, at its second file operation (amid finishing a commit,
        # or in its first save), then runs to the end
        fit_many(folder, monkeypatch, crash_at=2)
        got, history = fit_many(folder, monkeypatch)
        same(got, want)
        for name in want_history:
            np.testing.assert_array_equal(history[name], want_history[name])
        names = {"run.npz", *(f"run.{i}.npz" for i in range(MODELS)), *FOREIGN}
        assert {p.name for p in folder.iterdir()} == names, k  # nothing pending, nothing lost
        for name in FOREIGN:
            assert (folder / name).read_bytes() == name.encode()
    assert epochs_seen == {0, 1, 2}  # crashes before the first commit, after it, and after the last


def test_a_member_changed_after_its_commit_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    jaxmlp.fit_many(MODEL, PARAMS, X, T, checkpoint=str(path), **{**KWARGS, "epochs": 1})
    other = tmp_path / "other.npz"
    jaxmlp.fit_many(MODEL, PARAMS, X, T, checkpoint=str(other), **KWARGS)
    os.replace(tmp_path / "other.1.npz", tmp_path / "run.1.npz")  # a file of another set
    with pytest.raises(ValueError, match=r"resume: .*run.npz' commits epoch 1 of 3 checkpoints, "
                       r"but .*run.1.npz' holds other bytes \(changed or damaged since\)"):
        jaxmlp.fit_many(MODEL, PARAMS, X, T, resume=str(path), **KWARGS)


def test_a_set_written_before_manifests_still_resumes(tmp_path):
    want, _ = jaxmlp.fit_many(MODEL, PARAMS, X, T, **KWARGS)
    path = tmp_path / "run.npz"
    jaxmlp.fit_many(MODEL, PARAMS, X, T, checkpoint=str(path), **{**KWARGS, "epochs": 1})
    path.unlink()  # run.0.npz, run.1.npz, run.2.npz alone, as jaxmlp wrote them before
    got, history = jaxmlp.fit_many(MODEL, PARAMS, X, T, resume=str(path), **KWARGS)
    same(got, want)
    assert history["loss"].shape == (KWARGS["epochs"], MODELS)


def test_another_device_layout_resumes_with_a_warning_not_a_refusal():
    from jaxmlp.training.resume import compare_record

    saved = {"loss": "sse", "devices": 4}
    with pytest.warns(UserWarning, match="trained on 4 device.*this call on 2.*not bit for bit"):
        compare_record("run.npz", saved, {"loss": "sse", "devices": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare_record("run.npz", saved, {"loss": "sse", "devices": 4})  # the same: silent
        compare_record("run.npz", {"loss": "sse"}, {"loss": "sse", "devices": 2})  # not recorded
    with pytest.raises(ValueError, match="trained with loss='sse'; this call has loss='mse'"):
        compare_record("run.npz", saved, {"loss": "mse", "devices": 4})
