"""The command line's files: paths checked before any work, model.npz used by evaluate and predict,
history.json with the run's settings, atomic outputs, and a progress bar that only moves forward."""

import io
import json
import re
import sys

import numpy as np
import pytest

import jaxmlp
from jaxmlp import cli, plot
from jaxmlp.training.progress import Progress, tick


@pytest.mark.parametrize(
    "out, words",
    [
        ("/proc/x", ["--out", "/proc"]),
        ("afile/sub", ["--out", "afile"]),
        ("afile", ["--out", "is a file"]),
    ],
)
def test_bad_out_is_refused_before_loading_data(
    out, words, tmp_path, monkeypatch, no_loading, error_line
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    assert cli.main(["train", "--out", out]) == 1
    message = error_line()
    assert all(word in message for word in words), message


def test_read_only_out_is_refused(tmp_path, monkeypatch, capsys, no_loading, error_line):
    import os

    folder = tmp_path / "ro"
    folder.mkdir()
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: str(path) != str(folder) and real(path, mode)
    )
    assert cli.main(["train", "--out", str(folder)]) == 1
    assert "not writable" in error_line()


def test_resume_and_checkpoint_are_checked_before_loading_data(
    tmp_path, capsys, no_loading, error_line
):
    out = str(tmp_path / "o")
    assert cli.main(["train", "--out", out, "--resume", str(tmp_path / "missing.npz")]) == 1
    assert "--resume: " in error_line()
    (tmp_path / "junk.npz").write_bytes(b"not a checkpoint")
    assert cli.main(["train", "--out", out, "--resume", str(tmp_path / "junk.npz")]) == 1
    assert "--resume: " in error_line()
    assert cli.main(["train", "--out", out, "--checkpoint", str(tmp_path / "run.txt")]) == 1
    assert "--checkpoint: expected a .npz file" in error_line()


def test_zero_epochs_is_an_argument_error(capsys, error_line):
    assert cli.main(["train", "--epochs", "0"]) == 2
    assert "--epochs" in error_line()


def test_train_then_evaluate_and_predict_the_model_file(tmp_path, capsys, error_line):
    out = tmp_path / "run"
    assert (
        cli.main(
            [
                "train",
                "--epochs",
                "2",
                "--hidden",
                "8",
                "--out",
                str(out),
                "--verbose",
                "0",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    score = re.search(r"test loss: \S+ - test accuracy: \S+", printed).group(0)
    assert "digits test rows are the last 297" in printed  # why validation and test differ
    assert cli.main(["evaluate", str(out / "model.npz")]) == 0  # the data set recorded in the file
    assert score in capsys.readouterr().out  # the same test score, to the printed digit

    record = json.loads((out / "history.json").read_text())
    assert (
        record["command"] == f"jaxmlp train --epochs 2 --hidden 8 --out {out} --verbose 0 --seed 3"
    )
    assert (
        record["seed"] == 3
        and record["settings"]["hidden"] == [8]
        and record["settings"]["epochs"] == 2
    )
    assert record["versions"]["jax"] and record["versions"]["jaxmlp"] == jaxmlp.__version__
    assert f"test accuracy: {record['test']['accuracy']:.4f}" in score
    assert len(record["history"]["val_loss"]) == 2
    model = jaxmlp.load(out / "model.npz")
    assert model.model.sizes == (64, 8, 10) and model.run["test"] == record["test"]

    _, (x_test, _) = jaxmlp.data.load("digits")
    np.save(tmp_path / "rows.npy", x_test[:5])
    np.savetxt(tmp_path / "rows.csv", x_test[:5], delimiter=",")
    assert cli.main(["predict", str(out / "model.npz"), str(tmp_path / "rows.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "class," + ",".join(f"p_{i}" for i in range(10)) and len(lines) == 6
    table = np.loadtxt(lines[1:], delimiter=",")
    expected = np.asarray(jaxmlp.predict(model.model, model.params, x_test[:5]))
    np.testing.assert_allclose(table[:, 1:], expected, rtol=1e-5, atol=1e-6)
    assert (table[:, 0] == expected.argmax(1)).all()
    written = tmp_path / "p.csv"
    to_file = [
        "predict",
        str(out / "model.npz"),
        str(tmp_path / "rows.csv"),
        "--output",
        str(written),
    ]
    assert cli.main(to_file) == 0
    assert "wrote 5 predictions" in capsys.readouterr().err
    assert written.read_text().splitlines() == lines
    assert cli.main(to_file) == 1
    assert "--force" in error_line()


@pytest.mark.parametrize(
    "argv, status, words",
    [
        (["evaluate", "missing.npz"], 2, "MODEL"),
        (["predict", "missing.npz", "rows.npy"], 2, "MODEL"),
        (["predict", "model.npz", "rows.txt"], 2, "INPUT: expected a .npy or .csv"),
        (["predict", "model.npz", "wide.npy"], 1, "INPUT: expected numeric rows of 3 values"),
        (["predict", "model.npz", "nan.csv"], 1, "INPUT: row 1"),
        (["predict", "model.npz", "rows.npy", "--output", "p.json"], 2, "--output"),
        (["evaluate", "model.npz"], 2, "--dataset"),  # a plain jaxmlp.save records no data set
        (["evaluate", "model.npz", "--dataset", "digits"], 1, "--dataset: digits has 64 inputs"),
        (
            ["evaluate", "narrow.npz", "--dataset", "digits"],
            1,
            "--dataset: digits has 10 classes, but the model in narrow.npz has 5 outputs",
        ),
    ],
)
def test_evaluate_and_predict_errors_name_the_argument(
    argv, status, words, tmp_path, monkeypatch, error_line
):
    monkeypatch.chdir(tmp_path)
    model = jaxmlp.MLP((3, 2), ("softmax",))
    jaxmlp.save("model.npz", model, model.init(jax_key()))
    narrow = jaxmlp.MLP((64, 5), ("softmax",))
    jaxmlp.save("narrow.npz", narrow, narrow.init(jax_key()))
    np.save("rows.npy", np.zeros((2, 3), np.float32))
    np.save("wide.npy", np.zeros((2, 4), np.float32))
    (tmp_path / "nan.csv").write_text("1,2,3\n1,nan,3\n")
    assert cli.main(argv) == status
    assert words in error_line()


def jax_key():
    import jax

    return jax.random.key(0)


def test_an_interrupted_picture_leaves_no_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def interrupted(self, target, **kwargs):
        target.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", interrupted)
    with pytest.raises(KeyboardInterrupt):
        plot.learning_curves({"loss": [1.0, 0.5]}, tmp_path / "curves.png")
    assert list(tmp_path.iterdir()) == []


class Terminal(io.StringIO):
    def isatty(self):
        return True


def frames(text):
    return [(int(e), int(d)) for e, d in re.findall(r"Epoch (\d+)/\d+  (\d+)/\d+", text)]


def test_progress_bar_ignores_late_and_early_ticks(monkeypatch):
    stream = Terminal()
    bar = Progress(19, verbose=1, stream=stream)
    bar.start(0, 2)
    for step in (18, 1, 0, 2, 2, 5):  # the partial batch's tick first, then out of order
        tick(bar.id, step)
    bar.end({"loss": 1.0})
    tick(bar.id, 7)  # after the epoch ended: not drawn
    assert frames(stream.getvalue()) == [(1, 2), (1, 3), (1, 6), (1, 19)]


def test_two_runs_each_draw_their_own_bar():
    streams = Terminal(), Terminal()
    bars = [Progress(10, verbose=1, stream=s) for s in streams]
    for bar in bars:
        bar.start(0, 1)
    tick(bars[0].id, 3)
    tick(bars[1].id, 6)
    for bar in bars:
        bar.end({})
    assert frames(streams[0].getvalue()) == [(1, 4), (1, 10)]
    assert frames(streams[1].getvalue()) == [(1, 7), (1, 10)]


def test_progress_bar_of_fit_only_moves_forward(monkeypatch):
    stream = Terminal()
    monkeypatch.setattr(sys, "stdout", stream)
    (x, t), _ = jaxmlp.data.load("digits")
    model = jaxmlp.MLP((64, 4, 10), ("relu", "softmax"))
    jaxmlp.fit(model, model.init(jax_key()), x[:600], t[:600], epochs=3, batch_size=16, verbose=1)
    seen = frames(stream.getvalue())
    assert len(seen) > 3 and seen[-1] == (3, 38)
    assert seen == sorted(seen), seen
