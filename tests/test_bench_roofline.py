"""The roofline of ``jaxmlp bench``: XLA's count of an epoch, and the profiler trace."""

from collections import Counter

import pytest
from bench_results import ok as _ok

from jaxmlp import bench
from jaxmlp.bench.child import Workload
from jaxmlp.bench.ops import op_table, read_hlo, write_op_tables
from jaxmlp.bench.roofline import epoch_cost


def test_epoch_cost_adds_the_steps_and_the_validation_pass():
    full = epoch_cost((16, 8, 4), 10, 35, 7)  # 3 full steps, a partial one of 5, validation of 7
    alone = epoch_cost((16, 8, 4), 10, 30, 0)
    assert full["step_flops"] == alone["step_flops"] > 0 and full["val_flops"] > 0
    assert alone["flops"] == 3 * alone["step_flops"] and alone["val_flops"] == 0
    assert 3 * full["step_flops"] + full["val_flops"] < full["flops"] < 4 * full["step_flops"] + (
        full["val_flops"]
    )  # the partial batch counts at its own size
    # XLA counts what the model's formula counts, give or take the optimizer's elementwise work
    model = bench.flops((16, 8, 4), 10, 30, 0)["epoch"]
    assert 0.5 * model < alone["flops"] < 2 * model


def test_profile_writes_a_trace_of_the_timed_epochs(tmp_path):
    (tmp_path / "data").mkdir()
    assert bench.write_data(tmp_path / "data", "synthetic", rows=640, seed=0) == "synthetic"
    config = Workload(hidden=[8], batch_size=64, epochs=2, seed=0, threads=1,
                      profile=str(tmp_path / "trace"))
    result = bench.run_child("jaxmlp-backprop", config, tmp_path / "data", timeout=300)
    assert result["status"] == "ok", result
    traces = list((tmp_path / "trace" / "jaxmlp-backprop").rglob("*.xplane.pb"))
    assert len(traces) == 1 and traces[0].stat().st_size > 0
    # the op table: the trace's ops joined with XLA's dump of the compiled epoch
    rows = op_table(tmp_path / "trace" / "jaxmlp-backprop", epochs=1)
    epoch = [r for r in rows if r["module"] == "jit_one_model"]
    products = [r for r in epoch if r["kind"] == "product"]
    # the first layer's forward product on a batch, named with its shapes and its Python source
    forward = [r for r in products if r["shape"] == "(64×784)·(8×784)→(64×8)"]
    assert forward and all("jaxmlp/core/model.py" in r["where"] for r in forward)
    assert sum(r["calls"] for r in forward) == 8  # 512 training rows: 8 steps of 64
    assert forward[0]["flops"] == 2 * 64 * 784 * 8 and forward[0]["gflops_per_s"] > 0
    assert any(r["kind"] == "gather" for r in epoch)  # the batch's rows
    assert any("optax/" in r["where"] for r in epoch)  # the optimizer's update
    # the idle row is the busiest program's: on one core its ops run one at a time, so they and
    # its idle time fill its wall time
    busy = Counter()
    for r in rows:
        busy[r["module"]] += r["ms"] if r["kind"] != "idle" else 0.0
    busiest = busy.most_common(1)[0][0]
    idle = [r for r in rows if r["kind"] == "idle"]
    assert len(idle) == 1 and idle[0]["module"] == busiest and idle[0]["ms"] >= 0
    assert sum(r["share"] for r in rows if r["module"] == busiest) == pytest.approx(1, abs=1e-6)
    assert not any(r["kind"] == "control" for r in rows)  # the loop's event holds its body's
    written = write_op_tables(tmp_path / "trace", ["jaxmlp-backprop", "torch"], epochs=1)
    assert written == [tmp_path / "trace" / "jaxmlp-backprop" / "ops.md"]  # no trace, no table
    assert "| product |" in written[0].read_text()


def test_table_from_fake_results():
    results = [
        _ok("jaxmlp-backprop", 0.2, recompiles=3),
        _ok("jax-scan", 0.1),
        _ok("torch", 1.0, compile_s=None, recompiles=None),
        {"name": "keras", "status": "skipped", "error": "keras is not installed"},
        {"name": "sklearn", "status": "error", "error": "exit 1: ValueError: a|b\nsecond line"},
    ]
    table = bench.format_table(results, epoch_flops=8e9, rate=1e11)  # limit: 0.08 s/epoch
    lines = table.splitlines()
    assert len(lines) == 2 + len(results)
    assert all(line.startswith("|") and line.endswith("|") for line in lines)
    assert {line.count("|") for line in lines[:-1]} == {11}  # same columns on every row
    backprop, scan, torch, keras, sklearn = lines[2:]
    # 8 GFLOP in 0.2 s: 40 GFLOP/s, 40 % of a 100 GFLOP/s peak
    assert (
        "| 0.200 | 2.00 | 40.0 | 40 | 0.8500 | 0.50 (epoch 0.40), +3 after epoch 1 | 0.40 | 512 | "
        "jax 0.10.2 |"
    ) in backprop
    assert "| 0.100 | 1.00 | 80.0 | 80 |" in scan
    assert "| — | 2.00 | 512 |" in torch  # no JAX compile time for PyTorch
    assert "skipped: keras is not installed" in keras
    assert "error: exit 1: ValueError: a\\|b second line" in sklearn  # one cell, pipe escaped


def test_table_without_a_matmul_rate():
    line = bench.format_table([_ok("jax-step", 0.3)], epoch_flops=9e9, rate=None).splitlines()[2]
    assert "| 0.300 | 1.00 | 30.0 | — |" in line


def test_an_op_without_frame_tables_is_placed_by_its_source_line():
    # older XLA writes the source file and line into each op's metadata, and no frame tables
    hlo = read_hlo(
        "ENTRY %main (a: f32[4,3], b: f32[2,3]) -> f32[4,2] {\n"
        "  %a = f32[4,3]{1,0} parameter(0)\n  %b = f32[2,3]{1,0} parameter(1)\n"
        "  ROOT %dot.2 = f32[4,2]{1,0} dot(%a, %b), lhs_contracting_dims={1}, "
        'rhs_contracting_dims={1}, metadata={op_name="jit(f)/dot_general" '
        'source_file="/site/x/jaxmlp/core/model.py" source_line=172}\n}\n')
    assert hlo["dot.2"] == {"kind": "product", "flops": 2 * 4 * 2 * 3,
                            "shape": "(4×3)·(2×3)→(4×2)", "where": "jaxmlp/core/model.py:172"}
