"""The command line: train, playground, data, the verify / bench hand-over, and its error contract
(one line on stderr, exit 1 for a failed run, 2 for bad arguments, no overwriting without
--force)."""

import json
import os
import subprocess
import sys
import types
import urllib.error

import matplotlib.image
import optax
import pytest

from jaxmlp import cli
from jaxmlp.cli import train as train_command
from jaxmlp.data import datasets, fetch


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """No MNIST-format data anywhere: an empty $JAXMLP_DATA and home, no Debian package."""
    (tmp_path / "home").mkdir()
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JAXMLP_DATA", str(tmp_path / "data"))
    for var in ("KERAS_HOME", "XDG_CACHE_HOME", "JAXMLP_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(
        datasets, "_DEBIAN", {"fashion-mnist": ("dataset-fashion-mnist", tmp_path / "none")}
    )
    monkeypatch.setattr(datasets, "_dpkg_folders", lambda package: [])
    return tmp_path


def png_shape(path):
    return matplotlib.image.imread(path).shape


def one_line_error(capsys):
    err = capsys.readouterr().err
    assert err.startswith("jaxmlp: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_train_writes_curves_confusion_matrix_weights_and_history(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JAXMLP_DEBUG", raising=False)
    out = tmp_path / "run"
    ckpt = tmp_path / "run.npz"
    args = [
        "train",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--verbose",
        "2",
        "--checkpoint",
        str(ckpt),
    ]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "Total params: 2,410" in printed  # (64 + 1) × 32 + (32 + 1) × 10
    assert (
        "1,200 training rows, 300 validation rows" in printed and "19 updates per epoch" in printed
    )
    assert "Epoch 1/1" in printed and "val_accuracy" in printed
    assert "test loss: " in printed and "test accuracy: " in printed
    assert str(out / "learning_curves.png") in printed
    assert png_shape(out / "learning_curves.png")[:2] == (400, 1040)
    assert png_shape(out / "weights.png")[:2] == (530, 1100)  # 32 tiles of 8 × 8 and a colour bar
    assert len(png_shape(out / "confusion_matrix.png")) == 3
    history = json.loads((out / "history.json").read_text())["history"]
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history["loss"]) == 1 and ckpt.is_file()

    before = (out / "history.json").stat().st_mtime_ns
    assert cli.main(args) == 1  # the files are there: refuse
    assert "--force" in one_line_error(capsys)
    assert (out / "history.json").stat().st_mtime_ns == before

    resume = [
        "train",
        "--epochs",
        "2",
        "--out",
        str(out),
        "--verbose",
        "0",
        "--resume",
        str(ckpt),
        "--checkpoint",
        str(ckpt),
        "--force",
        "--early-stopping",
        "5",
    ]
    assert cli.main(resume) == 0
    assert "trained 2 epochs" in capsys.readouterr().out
    assert len(json.loads((out / "history.json").read_text())["history"]["loss"]) == 2


def test_train_refuses_to_replace_a_checkpoint_it_does_not_resume(tmp_path, capsys):
    (tmp_path / "old.npz").write_bytes(b"x")
    assert (
        cli.main(["train", "--out", str(tmp_path / "o"), "--checkpoint", str(tmp_path / "old.npz")])
        == 1
    )
    assert "already exists" in one_line_error(capsys)


def test_learning_rate_builds_the_optax_optimizer():
    grads = {"w": optax.tree_utils.tree_ones_like({"w": 1.0})["w"]}
    for name in ("sgd", "momentum", "rmsprop", "adam"):
        opt = train_command._optimizer(name, 0.5)
        updates, _ = opt.update(grads, opt.init(grads), grads)
        assert float(updates["w"]) < 0
    sgd = train_command._optimizer("sgd", 0.5)
    assert float(sgd.update(grads, sgd.init(grads))[0]["w"]) == -0.5
    adam = train_command._optimizer
    assert adam("adam", None) is adam("adam", None)  # the named Keras default


def test_missing_data_names_how_to_get_it(no_data, capsys):
    assert cli.main(["train", "--dataset", "mnist", "--out", str(no_data / "o")]) == 1
    assert "jaxmlp data download mnist" in one_line_error(capsys)
    assert not (no_data / "o").exists() or not any((no_data / "o").iterdir())


def test_missing_data_in_a_real_process(no_data):
    env = {**os.environ, "HOME": str(no_data / "home"), "JAXMLP_DATA": str(no_data / "data")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jaxmlp.cli",
            "train",
            "--dataset",
            "mnist",
            "--out",
            str(no_data / "o"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert (
        done.stderr.startswith("jaxmlp: error: data set 'mnist'") and done.stderr.count("\n") == 1
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--hidden", "abc"],
        ["train", "--hidden", "32,0"],
        ["train", "--activation", "nope"],
        ["train", "--epochs", "-1"],
        ["train", "--lr", "0"],
        ["train", "--validation-split", "1"],
        ["train", "--dataset", "cifar"],
        ["playground", "--noise", "70"],
        ["playground", "--features", "x,z"],
        ["playground", "--regularization", "l3"],
        ["data", "download", "digits"],
        ["bogus"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    assert cli.main(argv) == 2
    assert "(see 'jaxmlp" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("command", "defaults"),
    [
        (
            "train",
            [
                "(default: digits)",
                "(default: 32)",
                "(default: relu)",
                "(default: adam)",
                "(default: 30)",
                "(default: 64)",
                "(default: 0.2)",
                "(default: backprop)",
                "runs/train-DATASET",
            ],
        ),
        (
            "playground",
            [
                "(default: circle)",
                "(default: x,y)",
                "(default: 4,2)",
                "(default: tanh)",
                "(default: 0.03)",
                "(default: none)",
                "(default: 10)",
                "(default: 50)",
                "tanh output",
            ],
        ),
        ("data", ["download"]),
        ("verify", ["FILE", "--seed"]),
        ("evaluate", ["MODEL.npz", "the one MODEL was trained on"]),
        ("predict", ["MODEL.npz", "INPUT", "--output"]),
        (
            "bench",
            [
                "(default: peers)",
                "(default: 64)",
                "(default: 32)",
                "(default: fashion-mnist)",
                "(default: 900)",
                "--threads N",
                "(default: 0)",
                "peers 30, scaling 4",
            ],
        ),
    ],
)
def test_help_shows_the_defaults(command, defaults, capsys):
    assert cli.main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for expected in defaults:
        assert expected in text


def test_bare_jaxmlp_lists_the_commands(capsys):
    assert cli.main([]) == 2
    listed = capsys.readouterr().out
    for command in ("train", "evaluate", "predict", "playground", "data", "verify", "bench"):
        assert f"\n    {command} " in listed or f"\n    {command}\n" in listed, command


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "no-such-file.py"],
        ["bench", "--threads", "0"],
        ["bench", "--epochs", "1"],
        ["bench", "gpus"],
    ],
)
def test_verify_and_bench_errors_have_the_same_style(argv, capsys):
    assert cli.main(argv) == 2
    assert "usage:" not in one_line_error(capsys)


def test_playground_classification(tmp_path, capsys):
    out = tmp_path / "pg"
    assert (
        cli.main(
            [
                "playground",
                "--epochs",
                "3",
                "--samples",
                "100",
                "--out",
                str(out),
                "--regularization",
                "l2",
                "--rate",
                "0.001",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "circle (classification): 50 training / 50 test points" in printed
    assert [line.split()[1] for line in printed.splitlines() if line.startswith("epoch")] == [
        "1",
        "2",
        "3",
    ]
    assert "test accuracy" in printed
    assert png_shape(out / "decision_boundary.png")[:2] == (580, 600)
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == len(history["test_loss"]) == 3
    assert cli.main(["playground", "--epochs", "3", "--samples", "100", "--out", str(out)]) == 1
    assert "--force" in one_line_error(capsys)


def test_playground_regression_with_features(tmp_path, capsys):
    out = tmp_path / "pg"
    argv = [
        "playground",
        "--dataset",
        "plane",
        "--features",
        "x,y,sinx",
        "--hidden",
        "3",
        "--activation",
        "linear",
        "--epochs",
        "2",
        "--samples",
        "60",
        "--log-every",
        "1",
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "plane (regression)" in printed and "hidden 3 linear, identity output" in printed
    assert "test accuracy" not in printed
    assert png_shape(out / "decision_boundary.png")[:2] == (580, 600)
    assert (
        cli.main([*argv, "--force", "--features", "x,y,xy", "--lr", "3"]) == 1
    )  # x·y up to 36: diverges
    assert "training diverged" in one_line_error(capsys)


def test_data_lists_where_each_set_is(no_data, capsys):
    assert cli.main(["data", "-v"]) == 0
    printed = capsys.readouterr().out
    assert "digits" in printed and "found: " in printed
    assert "not found; get it with: jaxmlp data download mnist" in printed
    assert f"{no_data / 'data'} ($JAXMLP_DATA): no such folder" not in printed  # the folder exists
    assert "$JAXMLP_DATA" in printed and "spiral" in printed


def test_data_download_offline_is_one_line(no_data, capsys, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(fetch, "_urlopen", offline)
    assert cli.main(["data", "download", "mnist", "--dir", str(no_data / "dl")]) == 1
    assert "could not download mnist" in one_line_error(capsys)


def test_verify_and_bench_are_handed_over(monkeypatch):
    import jaxmlp.bench

    calls = []
    verify = types.ModuleType("jaxmlp.verify")
    verify.run = lambda path=None, *, seed=0, **options: calls.append(("verify", path, seed)) or 3
    monkeypatch.setitem(sys.modules, "jaxmlp.verify", verify)
    monkeypatch.setattr(
        jaxmlp.bench, "run", lambda args: calls.append(("bench", args.table, args.epochs)) or 0
    )
    assert cli.main(["verify", __file__, "--seed", "4"]) == 3
    assert cli.main(["verify"]) == 3
    assert cli.main(["bench", "grad", "--quick"]) == 0
    assert cli.main(["bench"]) == 0
    assert calls == [
        ("verify", __file__, 4),
        ("verify", None, 0),
        ("bench", "grad", 3),
        ("bench", "peers", 30),
    ]
