"""For the tests of the bench tables: a fake benchmark result, as a child reports it, and
``jaxmlp bench`` run in this process."""

from jaxmlp.cli import main


def bench_main(argv: list[str]) -> int:
    """``jaxmlp bench ARGV`` in this process."""
    return main(["bench", *argv])


def ok(name, median, accuracy=0.85, compile_s=0.5, recompiles=0):
    return {
        "name": name,
        "status": "ok",
        "median_s": median,
        "first_epoch_s": 2 * median,
        "epoch_times": [2 * median, median],
        "test_accuracy": accuracy,
        "compile_s": compile_s,
        "recompiles": recompiles,
        "peak_rss_mb": 512.4,
        "versions": {"jax": "0.10.2"},
        "compile_by_function": {} if compile_s is None else {"epoch": 0.4, "fold_in": 0.1},
    }
