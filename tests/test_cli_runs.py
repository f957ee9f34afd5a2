"""``jaxmlp train``'s run: a fresh default folder each time, no checkpoint among its own outputs,
diverged models named with their rates, a memory error in one line before any summary, output
silenced for the command only, and no import circles in the command line."""

import ast
import json
import sys
from pathlib import Path

import pytest

import jaxmlp
from jaxmlp import cli
from jaxmlp.cli.runs import fresh_folder, quiet_unless

TINY = ["--epochs", "1", "--hidden", "4", "--verbose", "0"]


def test_the_default_run_folder_is_fresh_each_time(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JAXMLP_DEBUG", raising=False)
    for _ in range(2):  # the README's first command, run twice
        assert cli.main(["train", *TINY]) == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "train-digits",
        "train-digits-2",
    ]
    printed = capsys.readouterr().out
    assert f"wrote {Path('runs', 'train-digits-2', 'model.npz')}" in printed
    assert json.loads(Path("runs/train-digits-2/history.json").read_text())["test"]
    assert cli.main(["train", *TINY, "--out", "runs/train-digits"]) == 1  # explicit: refused
    assert "--force" in capsys.readouterr().err


def test_a_failed_run_leaves_no_empty_default_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JAXMLP_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("jaxmlp.data.datasets._dpkg_folders", lambda package: [])
    assert cli.main(["train", "--dataset", "mnist", *TINY]) == 1
    assert "jaxmlp data download mnist" in capsys.readouterr().err
    assert list((tmp_path / "runs").iterdir()) == []


def test_fresh_folders_are_numbered_from_two(tmp_path):
    base = tmp_path / "runs" / "train-digits"
    made = [fresh_folder(base) for _ in range(3)]
    assert [p.name for p in made] == ["train-digits", "train-digits-2", "train-digits-3"]
    assert all(p.is_dir() for p in made)


@pytest.mark.parametrize("checkpoint", ["o/model.npz", "o/../o/model.npz", "o/history.json"])
def test_a_checkpoint_among_the_run_s_outputs_is_refused(
    tmp_path, monkeypatch, checkpoint, no_loading, error_line
):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--out", "o", "--checkpoint", checkpoint]) == 1
    err = error_line()
    assert f"--checkpoint: {checkpoint} is one of this run's outputs" in err
    assert "written over the checkpoint at the end" in err
    argv = ["train", "--out", "o", "--checkpoint", "o/checkpoint.npz", "--seeds", "2"]
    assert cli.main(argv) == 1
    assert "--checkpoint: not with many models" in error_line()


def stopped_history(real, stopped):
    """``fit_many`` as the engine's contract has it: the History carries ``.stopped``."""

    def fit_many(*args, **kwargs):
        params, history = real(*args, **kwargs)
        history.stopped = stopped
        return params, history

    return fit_many


def test_a_diverged_model_is_named_with_its_rate(tmp_path, monkeypatch, capsys):
    stopped = [None, {"epoch": 1, "step": 3, "reason": "non-finite loss"}]
    monkeypatch.setattr(jaxmlp, "fit_many", stopped_history(jaxmlp.fit_many, stopped))
    argv = ["train", *TINY, "--lr", "0.001,0.5", "--out", str(tmp_path / "o")]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "jaxmlp: warning: model 1 (lr 0.5, l2 0, seed 0) diverged: non-finite loss at "
        "epoch 1, step 3; it kept its last finite weights (try a smaller rate)"
    ]
    record = json.loads((tmp_path / "o" / "history.json").read_text())
    assert [m["stopped"] for m in record["models"]] == stopped


def test_when_every_model_diverged_the_run_fails_naming_them(tmp_path, monkeypatch, error_line):
    def diverge(*args, **kwargs):
        raise jaxmlp.TrainingError("non-finite loss", None, 1, 2)

    monkeypatch.setattr(jaxmlp, "fit_many", diverge)
    argv = ["train", *TINY, "--lr", "1e30,1e31", "--out", str(tmp_path / "o")]
    assert cli.main(argv) == 1
    err = error_line()
    assert "training diverged: every model's loss went non-finite (by epoch 1)" in err
    assert "model 0 (lr 1e+30, l2 0, seed 0); model 1 (lr 1e+31, l2 0, seed 0)" in err


def test_one_diverged_model_names_its_rate(tmp_path, monkeypatch, error_line):
    def diverge(*args, **kwargs):
        raise jaxmlp.TrainingError("non-finite loss", None, 1, 5)

    monkeypatch.setattr(jaxmlp, "fit", diverge)
    assert cli.main(["train", *TINY, "--lr", "1e30", "--out", str(tmp_path / "o")]) == 1
    assert (
        "training diverged: non-finite loss at epoch 1, step 5 with --lr 1e+30; try a smaller --lr"
    ) in error_line()


@pytest.mark.parametrize("extra", [[], ["--seeds", "2"]])
def test_a_memory_error_is_one_line_before_any_summary(
    tmp_path, monkeypatch, capsys, extra, error_line
):
    def too_big(self, key):
        raise MemoryError(
            "MLP.init: 25,600,000,010 parameters need 95.4 GiB; the device holds 80.0 GiB"
        )

    monkeypatch.setattr(jaxmlp.MLP, "init", too_big)
    argv = ["train", "--hidden", "400000000", "--out", str(tmp_path / "o"), *extra]
    assert cli.main(argv) == 1
    assert "jaxmlp: error: out of memory: MLP.init: 25,600,000,010 parameters" in error_line()
    assert "Total params" not in capsys.readouterr().out


def test_silenced_output_is_restored_when_the_command_ends(capsys):
    stdout = sys.stdout
    with quiet_unless(False):
        print("from process 1")
    with quiet_unless(True):
        print("from process 0")
    assert sys.stdout is stdout and capsys.readouterr().out == "from process 0\n"
    with pytest.raises(RuntimeError), quiet_unless(False):
        raise RuntimeError
    assert sys.stdout is stdout


def test_the_command_line_has_no_import_circles():
    root = Path(cli.__file__).parent.parent
    graph = {}
    for package in ("cli", "bench"):
        for path in (root / package).glob("*.py"):
            name = f"jaxmlp.{package}" + ("" if path.stem == "__init__" else f".{path.stem}")
            graph[name] = _imports(path, name)
    assert not any(
        m.startswith("jaxmlp.cli") for b in graph if b.startswith("jaxmlp.bench") for m in graph[b]
    )
    for start in graph:
        assert start not in _reachable(graph, start), f"{start} imports itself through others"


def _imports(path: Path, name: str) -> set[str]:
    """The jaxmlp.cli / jaxmlp.bench modules ``path`` imports, at the top or in a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    package = name if name.count(".") == 1 else name.rsplit(".", 1)[0]
    return {m for m in found if m.startswith(("jaxmlp.cli", "jaxmlp.bench")) and m != package}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    return seen
