"""The benchmark harness: its FLOP model, its table, its child processes and its arguments.

No timing is asserted here (timings belong to ``jaxmlp bench``); only that the numbers are sane.
"""

import json

import jax
import pytest
from bench_results import bench_main
from bench_results import ok as _ok

from jaxmlp import bench
from jaxmlp.bench import micro, tables
from jaxmlp.bench.child import Workload
from jaxmlp.cli.bench import implementations

DECK_002 = (784, 32, 10)


def test_flop_model_of_deck_002():
    f = bench.flops(DECK_002, 64, 48_000, 12_000)
    assert f["forward_per_step"] == 2 * 64 * (784 * 32 + 32 * 10) == 3_252_224
    assert f["step"] == 3 * f["forward_per_step"]  # backward = 2 × forward
    assert f["train"] == 750 * f["step"]  # 48,000 rows at 64: 750 updates
    assert f["validation"] == 2 * 12_000 * (784 * 32 + 32 * 10)
    assert f["epoch"] == f["train"] + f["validation"] == 7_927_296_000  # the issue's ≈ 7.9 GFLOP


def test_flop_model_counts_every_layer():
    f = bench.flops((784, 1024, 1024, 10), 256, 1, 0)
    assert f["forward_per_step"] == 2 * 256 * (784 * 1024 + 1024 * 1024 + 1024 * 10)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench-data")
    assert bench.write_data(folder, "synthetic", rows=640, seed=0) == "synthetic"
    return folder


def test_synthetic_data_stands_in_for_a_missing_data_set(tmp_path, monkeypatch):
    import numpy as np

    import jaxmlp.data

    def missing(name, data_dir=None):
        raise jaxmlp.data.DatasetNotFoundError(name)

    monkeypatch.setattr(jaxmlp.data, "load", missing)
    assert bench.write_data(tmp_path, "fashion-mnist", rows=60).startswith(
        "synthetic (fashion-mnist"
    )
    x, t = np.load(tmp_path / "x.npy"), np.load(tmp_path / "t.npy")
    assert x.shape == (60, 784) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert t.shape == (60,) and t.dtype == np.int32 and set(t) <= set(range(10))
    assert np.load(tmp_path / "x_test.npy").shape == (10, 784)


def test_child_runs_jaxmlp_on_tiny_synthetic_data(tiny_data):
    config = Workload(hidden=[8], batch_size=64, epochs=2, seed=0, threads=1)
    result = bench.run_child("jaxmlp-backprop", config, tiny_data, timeout=300)
    assert result["status"] == "ok", result
    assert result["cores"] == 1  # pinned by --threads
    assert len(result["epoch_times"]) == 2 and min(result["epoch_times"]) > 0
    assert result["median_s"] == result["epoch_times"][1]  # the median over epochs 2..N
    assert 0 <= result["test_accuracy"] <= 1
    assert result["compile_s"] > 0 and result["peak_rss_mb"] > 0
    assert result["recompiles"] == 0  # nothing compiles again after the first epoch
    assert result["versions"]["jaxmlp"]
    json.dumps(result)


def test_expert_plain_jax_epoch_equals_the_step_loop(tiny_data):
    from jaxmlp.bench import peers

    config = Workload(hidden=[8], batch_size=64, epochs=2, seed=0)
    with jax.numpy_rank_promotion("allow"):  # the references broadcast x @ w + b, as users write it
        step = peers.run("jax-step", config, tiny_data)  # in this process: no start-up to wait for
        fused = peers.run("jax-scan-host", config, tiny_data)
    assert fused["recompiles"] == 0 and len(fused["epoch_times"]) == 2
    assert fused["test_accuracy"] == pytest.approx(
        step["test_accuracy"], abs=0.01
    )  # the same batches
    assert tables.LABELS["jax-scan-host"].startswith("plain JAX+Optax, lax.scan unrolled")


def test_failing_child_becomes_an_error_row(tmp_path):
    config = Workload(hidden=[8], batch_size=64, epochs=2, seed=0)
    result = bench.run_child("sklearn", config, tmp_path / "missing", timeout=300)
    assert result["status"] == "error" and "missing" in result["error"]  # FileNotFoundError
    result = bench.run_child("no-such-implementation", config, tmp_path, timeout=300)
    assert result["status"] == "error" and result["error"].startswith("exit 2")
    result = bench.run_child("sklearn", config, tmp_path, timeout=0.001)
    assert result == {"name": "sklearn", "status": "error", "error": "timed out after 0.001 s"}


def test_main_prints_one_table_and_writes_json(tiny_data, tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    monkeypatch.setattr(tables, "missing", lambda module: module == "torch")
    small = micro.matmul_rates  # the real measurement, on smaller matrices
    monkeypatch.setattr(
        micro, "matmul_rates", lambda *a, **k: small(*a, **k | {"n": 256, "scan": 4})
    )
    out = tmp_path / "bench.json"
    code = bench_main(
        [
            "--only",
            "torch,sklearn",
            "--dataset",
            "synthetic",
            "--rows",
            "300",
            "--epochs",
            "2",
            "--quick",
            "--json",
            str(out),
            "--threads",
            "1",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "- threads: 1 per process" in printed
    assert "issue" not in printed.lower() and "goal" not in printed.lower()
    assert "Command: `jaxmlp bench --only torch,sklearn" in printed and "- CPU: " in printed
    rows = [line for line in printed.splitlines() if line.startswith("| ")]
    assert len(rows) == 3  # the header and one row per implementation
    assert "skipped: torch is not installed" in rows[1] and "scikit-learn" in rows[2]
    report = json.loads(out.read_text())
    assert [r["status"] for r in report["results"]] == ["skipped", "ok"]
    assert report["results"][1]["cores"] == 1  # the child ran pinned to one core
    assert report["flops"]["epoch"] > 0 and report["matmul"]["square"] > 0
    assert report["xla_cost"]["flops"] > 0 and report["xla_cost"]["bytes"] > 0
    sklearn_row = report["results"][1]
    assert sklearn_row["gflops_per_s"] == pytest.approx(
        report["xla_cost"]["flops"] / sklearn_row["median_s"] / 1e9
    )
    assert 0 < sklearn_row["fraction_of_peak"] == pytest.approx(
        sklearn_row["gflops_per_s"] * 1e9 / report["matmul"]["square"]
    )
    assert len(report["matmul"]["shapes"]) == 6  # forward, weight and input gradient, two layers


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "1"], "--epochs"),
        (["--batch-size", "0"], "--batch-size"),
        (["--hidden", "32,x"], "--hidden"),
        (["--hidden", "0"], "--hidden"),
        (["--only", "tensorflow"], "tensorflow"),
        (["--dataset", "cifar"], "--dataset"),
        (["--rows", "3"], "--rows"),
        (["gpus"], "gpus"),  # not a table
    ],
)
def test_argument_errors(argv, message, capsys):
    assert bench_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("jaxmlp: error: ") and err.count("\n") == 1


def test_load_warning_when_the_machine_is_busy():
    from jaxmlp.bench.harness import load_warning

    assert load_warning(2, load=1.9) is None
    assert "unreliable" in load_warning(2, load=8.4) and "8.4 on 2" in load_warning(2, load=8.4)


def test_calibration_warning_against_earlier_reports(tmp_path):
    from jaxmlp.bench.harness import calibration_warning

    cpu = "AMD EPYC, 2 cores usable (2 online)"
    for name, rate, machine in (("a", 200e9, cpu), ("b", 150e9, cpu), ("c", 900e9, "another CPU")):
        report = {"machine": {"CPU": machine}, "matmul": {"square": rate}}
        (tmp_path / f"{name}.json").write_text(json.dumps(report))
    (tmp_path / "broken.json").write_text("{")
    assert calibration_warning(190e9, cpu, tmp_path) is None
    warning = calibration_warning(60e9, cpu, tmp_path)
    assert "30%" in warning and "200 GFLOP/s" in warning and "a.json" in warning
    assert calibration_warning(60e9, "a new CPU", tmp_path) is None
    assert calibration_warning(60e9, cpu, tmp_path / "none") is None


def test_only_accepts_groups():
    assert implementations("jaxmlp,torch") == ("jaxmlp-backprop", "jaxmlp-autodiff", "torch")
    assert implementations("jax") == ("jax-step", "jax-scan", "jax-scan-host")


def test_devices_table_runs_one_child_per_device_count(tmp_path, monkeypatch, capsys):
    configs = []

    def fake_child(name, config, data_dir, timeout):  # test_parallel proves the results agree
        configs.append((name, config["devices"], config["cpu_devices"], config["threads"]))
        return _ok(name, 0.1 * config["devices"])

    monkeypatch.setattr(tables, "run_child", fake_child)
    out = tmp_path / "devices.json"
    code = bench_main(
        [
            "devices",
            "--dataset",
            "synthetic",
            "--rows",
            "640",
            "--epochs",
            "2",
            "--threads",
            "1",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    assert configs == [("jaxmlp-backprop", n, n, 1) for n in (1, 2, 4, 8)]
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in rows[1:]] == ["1", "2", "4", "8"]
    assert [row.split("|")[5].strip() for row in rows[1:]] == [
        "1.00",
        "0.50",
        "0.25",
        "0.12",
    ]  # speed-up
    assert [r["status"] for r in json.loads(out.read_text())["results"]] == ["ok"] * 4


def test_the_bench_package_does_not_import_the_command_line():
    import subprocess
    import sys

    code = (
        "import sys, jaxmlp.bench, jaxmlp.bench.tables, jaxmlp.bench.harness; "
        "print(sorted(m for m in sys.modules if m.startswith('jaxmlp.cli')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
