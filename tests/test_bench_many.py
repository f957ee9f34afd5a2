"""``jaxmlp bench many``: N models together against N fits, with the roofline and k-fold columns."""

import json

import pytest
from bench_results import bench_main

from jaxmlp.bench import micro


def test_many_table_is_wired_to_bench_many(monkeypatch, tmp_path, capsys):
    import jaxmlp.bench.many

    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return [
            {
                "models": n,
                "many_s_per_epoch": 0.5,
                "fit_s_per_epoch": 0.25 * n,
                "speedup": n / 2,
                "many_compile_s": 1.0,
                "fits_timed": 1,
                "devices": 2,
                "devices_s_per_epoch": 0.25 if n == 2 else None,
                "folds_s_per_epoch": 0.4 if n == 2 else None,
            }
            for n in kwargs["ns"]
        ]

    monkeypatch.setattr(jaxmlp.bench.many, "many_table", fake)
    small = micro.matmul_rates  # the real measurement, on smaller matrices
    monkeypatch.setattr(
        micro, "matmul_rates", lambda *a, **k: small(*a, **k | {"n": 256, "scan": 4})
    )
    argv = [
        "many",
        "--models",
        "2,8",
        "--rows",
        "640",
        "--quick",
        "--json",
        str(tmp_path / "m.json"),
    ]
    assert bench_main(argv) == 0
    assert calls == [
        {"ns": (2, 8), "epochs": 3, "batch_size": 64, "rows": 640, "hidden": 32, "fits": 1}
    ]
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    report = json.loads((tmp_path / "m.json").read_text())["results"]
    # N models do N times one model's XLA-counted epoch in fit_many's 0.5 s
    assert report[0]["gflops_per_s"] > 0
    assert report[1]["gflops_per_s"] == pytest.approx(4 * report[0]["gflops_per_s"])
    two, eight = (f"{r['gflops_per_s']:.1f} | {100 * r['fraction_of_peak']:.0f}" for r in report)
    # k-fold: 2 models, each training on 320 of the 640 rows and validating on the other 320
    folds = report[0]["folds_fraction_of_peak"]
    assert 0 < folds and "folds_fraction_of_peak" not in report[1]
    assert rows[1:] == [
        f"| 2 | 0.500 | 0.500 | 1.00× | {two} | 0.400 | {100 * folds:.0f} | 1.0 | 0.250 |",
        f"| 8 | 0.500 | 2.000 | 4.00× | {eight} | — | — | 1.0 | — |",
    ]
    assert bench_main(["many", "--hidden", "8,8"]) == 2
    assert "--hidden" in capsys.readouterr().err
