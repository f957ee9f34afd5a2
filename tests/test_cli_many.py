"""``jaxmlp train --seeds / --lr A,B / --l2 A,B / --folds``: many models in one fit_many (issue 16),
every option checked before the data are loaded, and model 0 equal to the one-model run of its
settings."""

import json

import matplotlib.image
import numpy as np
import pytest

import jaxmlp
from jaxmlp import cli, plot

TINY = ["--hidden", "4", "--epochs", "1", "--verbose", "0"]


def test_seeds_times_l2_rates_train_together_and_model_0_is_the_single_run(tmp_path, capsys):
    out = tmp_path / "many"
    out.mkdir()
    for name in (
        "model.7.npz",
        "weights.png",
        "model_best.npz",
    ):  # an earlier run's, and the user's own
        (out / name).write_bytes(b"earlier")
    assert (
        cli.main(["train", *TINY, "--seeds", "2", "--l2", "0,0.01", "--out", str(out), "--force"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "2 seeds × 2 L2 rates = 4 models trained together by jaxmlp.fit_many" in printed
    rows = [
        line.split() for line in printed.splitlines() if line[:5].strip() in "0123" and line.strip()
    ]
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("0", "0", "0"),
        ("1", "1", "0"),
        ("2", "0", "0.01"),
        ("3", "1", "0.01"),
    ]  # model, seed, l2: seeds fastest
    assert "test accuracy: " in printed and "(mean ± std over 4 models" in printed
    assert "lr 0.001, l2 0.01: test accuracy" in printed and "over 2 seeds" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "history.json",
        "learning_curves.png",
        "model.0.npz",
        "model.1.npz",
        "model.2.npz",
        "model.3.npz",
        "model_best.npz",
    ]  # --force replaced the earlier run
    record = json.loads((out / "history.json").read_text())
    models = record["models"]
    assert [(m["seed"], m["l2"], m["learning_rate"], m["file"]) for m in models] == [
        (0, 0.0, 0.001, "model.0.npz"),
        (1, 0.0, 0.001, "model.1.npz"),
        (0, 0.01, 0.001, "model.2.npz"),
        (1, 0.01, 0.001, "model.3.npz"),
    ]
    accuracies = [m["test"]["accuracy"] for m in models]
    assert record["test"]["accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
    assert record["test"]["accuracy"]["std"] == pytest.approx(np.std(accuracies, ddof=1))
    assert set(models[3]["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    ckpt = jaxmlp.load(out / "model.3.npz")
    assert ckpt.run["settings"]["l2"] == 0.01 and ckpt.run["seed"] == 1
    assert ckpt.history == models[3]["history"]
    assert cli.main(["evaluate", str(out / "model.3.npz")]) == 0  # its own L2 rate, from the file
    assert f"test accuracy: {models[3]['test']['accuracy']:.4f}" in capsys.readouterr().out
    assert matplotlib.image.imread(out / "learning_curves.png").shape[:2] == (400, 1040)

    single = tmp_path / "single"
    assert cli.main(["train", *TINY, "--seed", "0", "--out", str(single)]) == 0
    one = json.loads((single / "history.json").read_text())
    np.testing.assert_allclose(models[0]["history"]["loss"], one["history"]["loss"], rtol=1e-5)
    assert models[0]["test"]["loss"] == pytest.approx(one["test"]["loss"], rel=1e-4)
    assert models[1]["test"]["loss"] != pytest.approx(one["test"]["loss"], rel=1e-4)  # another seed


def test_folds_train_one_model_per_fold(tmp_path, capsys):
    out = tmp_path / "folds"
    assert cli.main(["train", *TINY, "--folds", "3", "--lr", "0.01", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1,000 training rows, 3 folds of 500 rows" in printed and "3 models (3-fold" in printed
    assert (
        next(line for line in printed.splitlines() if line.startswith("model")).split()[1] == "fold"
    )
    record = json.loads((out / "history.json").read_text())
    assert [m["fold"] for m in record["models"]] == [0, 1, 2] and record["data"]["folds"] == 3
    assert record["data"]["validation_rows"] == 500 and record["data"]["fold_rows"] == [500] * 3
    val = [m["history"]["val_accuracy"][0] for m in record["models"]]
    assert len(set(val)) == 3  # three different validation folds


def test_unequal_folds_are_printed_with_their_true_sizes(tmp_path, capsys):
    out = tmp_path / "folds"
    assert cli.main(["train", *TINY, "--folds", "7", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = json.loads((out / "history.json").read_text())["data"]["fold_rows"]
    assert sum(rows) == 1500 and rows == [215, 215, 214, 214, 214, 214, 214]
    assert "1,285 or 1,286 training rows, 7 folds of 215, 215, 214, 214, 214, 214 and 214 rows" \
        in printed, printed


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--folds", "3", "--validation-split", "0.1"], ["--folds", "--validation-split"]),
        (["--folds", "3", "--validation=0.1"], ["--folds", "--validation-split"]),
        (["--folds", "3", "--seeds", "2"], ["--folds", "--seeds"]),
        (["--folds", "3", "--l2", "0,0.1"], ["--folds", "--l2"]),
        (["--folds", "1"], ["--folds", ">= 2"]),
        (["--seeds", "0"], ["--seeds", ">= 1"]),
        (["--lr", "1e-3,0"], ["--lr", "> 0", "'0'"]),
        (["--lr", "1e-3,x"], ["--lr", "number", "'x'"]),
        (["--l2", "0,-1e-3"], ["--l2", ">= 0"]),
        (["--l2", "0,0"], ["--l2", "distinct"]),
        (["--seeds", "2", "--checkpoint", "run.npz"], ["--checkpoint", "many models"]),
        (["--seeds", "2", "--resume", "run.npz"], ["--resume", "many models"]),
    ],
)
def test_bad_many_model_options_fail_in_one_line_before_loading_data(
    argv, words, tmp_path, capsys, no_loading, error_line
):
    status = cli.main(["train", "--out", str(tmp_path / "o"), *argv])
    assert status in (1, 2)
    message = error_line()
    assert all(word in message for word in words), message


def test_many_models_refuse_an_earlier_runs_files_without_force(
    tmp_path, capsys, no_loading, error_line
):
    out = tmp_path / "o"
    out.mkdir()
    (out / "model.npz").write_bytes(b"an earlier single run")
    assert cli.main(["train", "--seeds", "2", "--out", str(out)]) == 1
    assert (
        "model.npz" in error_line() and (out / "model.npz").read_bytes() == b"an earlier single run"
    )
    (out / "history.json").write_text("{}")
    assert cli.main(["train", "--seeds", "2", "--out", str(out)]) == 1
    assert "history.json" in error_line()


def test_help_shows_the_many_models_group(capsys):
    assert cli.main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    assert "many models at once" in text and "--seeds K" in text and "--folds K" in text
    assert "RATE[,RATE...]" in text


def test_learning_curves_of_many_models_draw_bands(tmp_path):
    epochs = np.arange(1, 6)[:, None]
    history = {"loss": 1 / epochs + 0.1 * np.arange(3), "val_loss": 1.2 / epochs + np.zeros(3)}
    history["val_loss"][3:, 2] = np.nan  # model 2 stopped early
    path = plot.learning_curves(history, tmp_path / "curves.png")
    assert matplotlib.image.imread(path).shape[:2] == (400, 520)
