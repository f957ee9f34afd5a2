"""The benchmark harness behind ``jaxmlp bench`` (issue 7): measured numbers, never asserted ones.

``jaxmlp bench [peers]`` trains deck 002's network (784 → 32 relu → 10 softmax, categorical
cross-entropy, Adam 1e-3, batch 64, ``validation_split=0.2``) with every implementation of
:mod:`jaxmlp.bench_peers`, each in its own fresh process and strictly one after another, measures
the machine's matmul rate, and prints one Markdown table (and writes JSON). The other tables:
``grad`` (a hand backprop step against a ``jax.grad`` step), ``scaling`` (batch size and width;
per-example ``vmap`` forward against a batched matmul) and ``matmul`` (the rates and the FLOP
model). Seconds per epoch are medians over epochs 2..N; compile time is reported apart; every clock
read follows a host transfer or ``block_until_ready``::

    jaxmlp bench                      # the peer table, 30 epochs (a few minutes)
    jaxmlp bench --quick              # about a minute: 3 epochs, fewer repeats
    jaxmlp bench --hidden 1024 --only jaxmlp,jax --epochs 5
    jaxmlp bench grad | scaling | matmul [--quick]

The FLOP model (per epoch, ``S = Σ_l fan_in·fan_out``): a step's forward pass costs ``2·B·S``, its
backward pass twice that, and the validation pass ``2·n_val·S``; the arithmetic limit is that count
divided by the large-square matmul rate. Deck 002: 7.93 GFLOP per epoch.

>>> flops((784, 32, 10), 64, 48_000, 12_000)["forward_per_step"]
3252224
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import itertools
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jaxmlp import argtypes, bench_micro, bench_peers
from jaxmlp.bench_micro import matmul_rates
from jaxmlp.bench_peers import DATA_FILES, IMPORTS, VALIDATION_SPLIT, Config

__all__ = ["IMPLEMENTATIONS", "SUBCOMMANDS", "flops", "format_table", "main", "run_child",
           "write_data"]

IMPLEMENTATIONS = tuple(bench_peers.RUNNERS)
GROUPS = {"jaxmlp": IMPLEMENTATIONS[:2], "jax": IMPLEMENTATIONS[2:4]}
LABELS = {
    "jaxmlp-backprop": "jaxmlp `fit`, hand backprop", "jaxmlp-autodiff": "jaxmlp `fit`, jax.grad",
    "jax-step": "plain JAX+Optax, jitted step from Python",
    "jax-scan": "plain JAX+Optax, epoch in one lax.scan", "keras": "Keras 3 `fit` (JAX backend)",
    "torch": "PyTorch CPU, plain loop", "sklearn": "scikit-learn MLPClassifier (partial_fit)",
}
DEFAULT_EPOCHS = {"peers": 30, "scaling": 4, "devices": 6}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
GRAD_CASES = (((784, 32, 10), 64), ((784, 1024, 10), 64), ((784, 1024, 1024, 10), 256))


def main(argv: list[str] | None = None) -> int:
    """``jaxmlp bench [peers|grad|scaling|matmul] [options]``; returns the exit status (2: bad args)."""
    try:
        args = _parse(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 0
    report = SUBCOMMANDS[args.table](args)
    head = [f"**jaxmlp bench {args.table}**", "", f"Command: `{args.command}`", "",
            *(f"- {key}: {value}" for key, value in report["machine"].items()), ""]
    sys.stdout.write("\n".join(head + report["markdown"]) + "\n")
    path = Path(args.json or Path("runs", "bench", f"{args.table}-{_stamp()}.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    report["markdown"] = "\n".join(report["markdown"])
    path.write_text(json.dumps({"command": args.command, **report}, indent=1))
    sys.stderr.write(f"wrote {path}\n")
    failed = [r for r in report.get("results", []) if r.get("status") == "error"]
    return 1 if failed and len(failed) == len(report["results"]) else 0


def flops(sizes: tuple[int, ...], batch_size: int, n_train: int, n_val: int) -> dict[str, int]:
    """The FLOP model of one epoch: forward ``2·B·S`` per step, backward twice the forward.

    Returns ``forward_per_step``, ``step`` (forward + backward), ``train`` (all ``n_train`` rows),
    ``validation`` and ``epoch`` (train + validation).

    >>> flops((784, 32, 10), 64, 48_000, 12_000)["epoch"]
    7927296000
    """
    s = sum(m * n for m, n in itertools.pairwise(sizes))
    return {"forward_per_step": 2 * batch_size * s, "step": 6 * batch_size * s,
            "train": 6 * n_train * s, "validation": 2 * n_val * s,
            "epoch": 6 * n_train * s + 2 * n_val * s}


def run_child(name: str, config: Config, data_dir: str | os.PathLike, timeout: float) -> dict:
    """Run one implementation in a fresh process; a failure or a timeout becomes an error row."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "result.json")
        command = [sys.executable, bench_peers.__file__, name, "--config", json.dumps(config),
                   "--data", str(data_dir), "--json-out", str(out)]
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "KERAS_BACKEND": "jax",
               "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        if config.get("threads"):
            env |= dict.fromkeys(THREAD_VARIABLES, str(config["threads"]))
        if config.get("cpu_devices"):
            env["JAX_NUM_CPU_DEVICES"] = str(config["cpu_devices"])
        try:
            done = subprocess.run(command, env=env, timeout=timeout, capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            return {"name": name, "status": "error", "error": f"timed out after {timeout:g} s"}
        if out.exists():
            return json.loads(out.read_text())
        lines = (done.stderr or done.stdout or "").strip().splitlines() or ["no output"]
        return {"name": name, "status": "error", "error": f"exit {done.returncode}: {lines[-1]}"}


def write_data(directory: str | os.PathLike, dataset: str, rows: int | None = None,
               seed: int = 0) -> str:
    """Write the data set's arrays as :data:`~jaxmlp.bench_peers.DATA_FILES` ``.npy`` files.

    ``"synthetic"`` has Fashion-MNIST's shapes (60,000 + 10,000 rows of 784 in [0, 1]), drawn with
    ``seed``: each row is 20 % its class's random prototype, 80 % uniform noise. ``rows`` keeps the
    first training rows (and ``rows // 6`` test rows). Returns the data set's name, or a note when
    the real one is absent.
    """
    n_train, n_test = (60_000, 10_000) if rows is None else (rows, max(1, min(10_000, rows // 6)))
    used = dataset
    if dataset != "synthetic":
        from jaxmlp.data import DatasetNotFoundError, load
        try:
            (x, t), (x_test, t_test) = load(dataset)
        except DatasetNotFoundError:
            dataset, used = "synthetic", f"synthetic ({dataset} not found on this machine)"
    if dataset == "synthetic":
        rng = np.random.default_rng(seed)
        t = rng.integers(0, 10, n_train + n_test)
        x = 0.2 * rng.random((10, 784), np.float32)[t] + 0.8 * rng.random((t.size, 784), np.float32)
        (x, t), (x_test, t_test) = (x[:n_train], t[:n_train]), (x[n_train:], t[n_train:])
    arrays = (x[:n_train], t[:n_train], x_test[:n_test], t_test[:n_test])
    for name, array in zip(DATA_FILES, arrays):
        np.save(Path(directory, f"{name}.npy"), array.astype(np.int32 if name[0] == "t" else np.float32))
    return used


def format_table(results: list[dict], epoch_flops: float, rate: float | None) -> str:
    """The paste-ready Markdown table of the peers' results (``rate``: large-matmul FLOP/s)."""
    fastest = min((r["median_s"] for r in results if r["status"] == "ok"), default=None)
    limit = epoch_flops / rate if rate else None
    rows = ["| implementation | s/epoch | × fastest | × arithmetic limit | test accuracy | "
            "compile s | 1st epoch s | peak RSS MB | versions |",
            "|---|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in results:
        label = LABELS.get(r["name"], r["name"])
        if r["status"] != "ok":
            rows.append(f"| {label} |" + " — |" * 7 + f" {r['status']}: {_cell(r['error'])} |")
            continue
        compile_s = "—" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        if r.get("compile_by_function"):
            name, seconds = max(r["compile_by_function"].items(), key=lambda item: item[1])
            compile_s += f" ({_cell(name)[:20]} {seconds:.2f})"
        if r.get("recompiles"):
            compile_s += f", +{r['recompiles']} after epoch 1"
        versions = ", ".join(f"{k} {v}" for k, v in r["versions"].items())
        rows.append(f"| {label} | {r['median_s']:.3f} | {r['median_s'] / fastest:.2f} | "
                    f"{'—' if limit is None else format(r['median_s'] / limit, '.2f')} | "
                    f"{r['test_accuracy']:.4f} | {compile_s} | {r['first_epoch_s']:.2f} | "
                    f"{r['peak_rss_mb']:.0f} | {versions} |")
    return "\n".join(rows)


# --- the sub-benchmarks: each (args) -> {"machine", "markdown", ...}; add "devices" here ------

def _peers(args) -> dict:
    chosen = [n for n in IMPLEMENTATIONS if n in args.only]
    config = Config(hidden=list(args.hidden), batch_size=args.batch_size, epochs=args.epochs,
                    seed=args.seed, threads=args.threads)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_data(tmp, args.dataset, args.rows, args.seed)
        n = np.load(Path(tmp, "x.npy"), mmap_mode="r").shape[0]
        for name in chosen:
            sys.stderr.write(f"bench: {name} ...")
            sys.stderr.flush()
            if _missing(IMPORTS[name]):
                result = {"name": name, "status": "skipped", "error": f"{IMPORTS[name]} is not "
                          "installed (pip install 'jaxmlp[bench]')"}
            else:
                result = run_child(name, config, tmp, args.timeout)
            results.append(result)
            ok = result["status"] == "ok"
            sys.stderr.write(f" {result['median_s']:.3f} s/epoch\n" if ok else f" {result['error']}\n")
    n_train, n_val = _rows(n)
    model_flops = flops(config.sizes, args.batch_size, n_train, n_val)
    rates = matmul_rates(config.sizes, args.batch_size, repeats=3 if args.quick else 7)
    limit = model_flops["epoch"] / rates["square"]
    shapes = ", ".join(f"{shape} {rate / 1e9:.0f}" for shape, rate in rates["shapes"].items())
    markdown = [f"Workload: {'-'.join(map(str, config.sizes))} ({'relu, ' * len(args.hidden)}softmax), "
                f"categorical cross-entropy, Adam 1e-3, batch {args.batch_size}, {dataset}: {n_train:,} "
                f"training rows ({math.ceil(n_train / args.batch_size)} updates) + {n_val:,} validation "
                f"rows per epoch, float32; {model_flops['epoch'] / 1e9:.2f} GFLOP/epoch; "
                f"{rates['square_n']}² matmul {rates['square'] / 1e9:.0f} GFLOP/s, so the arithmetic "
                f"limit is {1e3 * limit:.0f} ms/epoch. s/epoch: median over epochs 2..{args.epochs}; "
                "compile s: all JAX compilation in epoch 1 (the largest function in brackets).", "",
                format_table(results, model_flops["epoch"], rates["square"]), "",
                f"Matmul GFLOP/s at the workload's shapes: {shapes}.",
                *_goals(results, dataset == "fashion-mnist" and args.rows is None
                        and config.sizes == (784, 32, 10) and args.batch_size == 64)]
    return {"machine": _machine(), "config": config, "dataset": dataset, "flops": model_flops,
            "matmul": rates, "arithmetic_limit_s": limit, "results": results, "markdown": markdown}


def _goals(results: list[dict], deck_002: bool) -> list[str]:
    """Issue 7's goals for the jaxmlp rows, measured (never asserted)."""
    lines = []
    for r in (r for r in results if r["name"].startswith("jaxmlp") and r["status"] == "ok"):
        epoch = r["compile_by_function"].get("epoch", float("nan"))
        speed = f"{r['median_s']:.3f} s/epoch (goal ≤ 0.12 on the reference VM), " if deck_002 else ""
        lines.append(f"- {LABELS[r['name']]}: {speed}fused-epoch compile {epoch:.2f} s (goal < 1.5), "
                     f"{r['recompiles']} compilations after epoch 1 (goal 0)")
    return ["", "Goals (issue 7):", *lines] if lines else []


def _grad(args) -> dict:
    rows = ["| network | batch | backprop µs, alone | jax.grad µs, alone | ratio | backprop µs, in scan | "
            "jax.grad µs, in scan | ratio | backprop GFLOP/s, in scan |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    results = []
    for sizes, batch in GRAD_CASES:
        r = bench_micro.grad_times(sizes, batch, repeats=15 if args.quick else 51)
        step = flops(sizes, batch, 0, 0)["step"]
        results.append({"sizes": sizes, "batch_size": batch, **r})
        call, scan = (r[f"backprop_{k}"] / r[f"autodiff_{k}"] for k in ("call", "scan"))
        rows.append(f"| {'-'.join(map(str, sizes))} | {batch} | {1e6 * r['backprop_call']:.1f} | "
                    f"{1e6 * r['autodiff_call']:.1f} | {call:.3f} | {1e6 * r['backprop_scan']:.1f} | "
                    f"{1e6 * r['autodiff_scan']:.1f} | {scan:.3f} | {step / r['backprop_scan'] / 1e9:.1f} |")
    note = ("One jitted gradient of the mean categorical cross-entropy (relu hidden layers, softmax "
            "output): `loss_and_grads` (hand backprop) against `jax.value_and_grad(objective_and_output, "
            "has_aux=True)`; medians, compile excluded, the two alternating. *Alone*: one call and "
            "`block_until_ready`; *in scan*: per step of a jitted `lax.scan` of SGD steps. Goal: "
            "ratio ≤ 1.05.")
    return {"machine": _machine(), "results": results, "markdown": [note, "", "\n".join(rows)]}


def _scaling(args) -> dict:
    base_width, base_batch = args.hidden[0], args.batch_size
    grid = (32, 256, 1024) if args.quick else (32, 64, 128, 256, 512, 1024)
    points = [((w,), base_batch) for w in grid] + [((base_width,), b) for b in grid if b != base_batch]
    rows = ["| network | batch | updates/epoch | s/epoch | rows/s | GFLOP/s | % of matmul | "
            "compile s | vmap forward ms | x @ w.T + b forward ms | vmap / matmul |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_data(tmp, args.dataset, args.rows, args.seed)
        n_train, n_val = _rows(np.load(Path(tmp, "x.npy"), mmap_mode="r").shape[0])
        for hidden, batch in points:
            sys.stderr.write(f"bench scaling: hidden {hidden}, batch {batch} ...\n")
            config = Config(hidden=list(hidden), batch_size=batch, epochs=args.epochs, seed=args.seed)
            r = run_child("jaxmlp-backprop", config, tmp, args.timeout)
            results.append({"hidden": hidden, "batch_size": batch, **r})
    for r in results:  # this process takes the device only now, after its children
        r["forward"] = bench_micro.forward_times((784, *r["hidden"], 10), r["batch_size"], n_train,
                                                 3 if args.quick else 7)
    rates = matmul_rates((784, base_width, 10), base_batch, repeats=3 if args.quick else 7)
    for r in results:
        sizes, batch, fwd = (784, *r["hidden"], 10), r["batch_size"], r["forward"]
        name = "-".join(map(str, sizes))
        if r["status"] != "ok":
            rows.append(f"| {name} | {batch} |" + " — |" * 8 + f" {_cell(r['error'])} |")
            continue
        rate = flops(sizes, batch, n_train, n_val)["epoch"] / r["median_s"]
        rows.append(f"| {name} | {batch} | {math.ceil(n_train / batch)} | {r['median_s']:.3f} | "
                    f"{(n_train + n_val) / r['median_s']:,.0f} | {rate / 1e9:.1f} | "
                    f"{100 * rate / rates['square']:.0f} | {r['compile_s']:.2f} | "
                    f"{1e3 * fwd['vmap']:.1f} | {1e3 * fwd['matmul']:.1f} | "
                    f"{fwd['vmap'] / fwd['matmul']:.2f} |")
    note = (f"jaxmlp `fit` (hand backprop, Adam) on {dataset}, {n_train:,} training + {n_val:,} "
            f"validation rows; s/epoch: median over epochs 2..{args.epochs}; rows/s counts both; "
            f"% of the {rates['square_n']}² matmul rate ({rates['square'] / 1e9:.0f} GFLOP/s). Forward: "
            "the training rows in batches, in one jitted scan, per-example `vmap` against batched matmul.")
    return {"machine": _machine(), "dataset": dataset, "matmul": rates, "results": results,
            "markdown": [note, "", "\n".join(rows)]}


def _matmul(args) -> dict:
    sizes = Config(hidden=list(args.hidden)).sizes
    model_flops = flops(sizes, args.batch_size, *_rows(args.rows or 60_000))
    rates = matmul_rates(sizes, args.batch_size, repeats=3 if args.quick else 10)
    square, n = rates["square"], rates["square_n"]
    rows = ["| matmul, float32 | GFLOP/s | % of the square's |", "|---|--:|--:|",
            f"| {n} × {n} square (best of several) | {square / 1e9:.1f} | 100 |",
            *(f"| {shape} | {r / 1e9:.1f} | {100 * r / square:.0f} |"
              for shape, r in rates["shapes"].items())]
    labels = {"forward_per_step": "forward pass of one step, 2·B·S", "step": "one step, forward + "
              "backward (2× forward)", "train": "the epoch's updates, 6·n_train·S",
              "validation": "the validation pass, 2·n_val·S", "epoch": "one epoch"}
    flop_rows = [f"| FLOP model, {'-'.join(map(str, sizes))}, batch {args.batch_size} | FLOP |",
                 "|---|--:|", *(f"| {labels[key]} | {value:,} |" for key, value in model_flops.items()),
                 "| arithmetic limit = epoch FLOP ÷ square rate | "
                 f"{1e3 * model_flops['epoch'] / square:.1f} ms |"]
    return {"machine": _machine(), "flops": model_flops, "matmul": rates,
            "markdown": ["\n".join(rows), "", "\n".join(flop_rows)]}


def _devices(args) -> dict:
    """Data-parallel scaling: the same run over 1, 2, 4 and 8 devices (simulated on a CPU)."""
    rows = ["| devices | rows per device per step | s/epoch | rows/s | speed-up | test accuracy | "
            "compile s |", "|--:|--:|--:|--:|--:|--:|--:|"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_data(tmp, args.dataset, args.rows, args.seed)
        n_train, n_val = _rows(np.load(Path(tmp, "x.npy"), mmap_mode="r").shape[0])
        for count in (1, 2, 4, 8):
            sys.stderr.write(f"bench devices: {count} ...\n")
            config = Config(hidden=list(args.hidden), batch_size=args.batch_size, epochs=args.epochs,
                            seed=args.seed, devices=count, cpu_devices=count)
            results.append({"devices": count, **run_child("jaxmlp-backprop", config, tmp, args.timeout)})
    base = next((r["median_s"] for r in results if r["status"] == "ok"), None)
    for r in results:
        if r["status"] != "ok":
            rows.append(f"| {r['devices']} |" + " — |" * 5 + f" {_cell(r['error'])} |")
            continue
        rows.append(f"| {r['devices']} | {args.batch_size // r['devices']} | {r['median_s']:.3f} | "
                    f"{(n_train + n_val) / r['median_s']:,.0f} | {base / r['median_s']:.2f} | "
                    f"{r['test_accuracy']:.4f} | {r['compile_s']:.2f} |")
    note = (f"jaxmlp `fit(devices=N)` (hand backprop, Adam, batch {args.batch_size} split over the "
            f"devices) on {dataset}; s/epoch: median over epochs 2..{args.epochs}. On a CPU the devices "
            "are simulated (`JAX_NUM_CPU_DEVICES=N`) and share the machine's cores.")
    return {"machine": _machine(), "dataset": dataset, "results": results,
            "markdown": [note, "", "\n".join(rows)]}


#: ``jaxmlp bench NAME``: each ``(args) -> {"machine": ..., "markdown": [lines], ...JSON}``. A new
#: table (e.g. ``devices``, data-parallel scaling) is one more function and one more entry here.
SUBCOMMANDS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "peers": _peers, "grad": _grad, "scaling": _scaling, "matmul": _matmul, "devices": _devices,
}


# --- helpers ------------------------------------------------------------------------------

def _parse(argv: list[str] | None) -> argparse.Namespace:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="jaxmlp bench", description="Time jaxmlp and its peers on this machine; print a Markdown "
        "table and write JSON. Timings are medians over epochs 2..N, compile time apart.")
    parser.add_argument("table", nargs="?", default="peers", choices=list(SUBCOMMANDS),
                        metavar="TABLE", help=f"one of {', '.join(SUBCOMMANDS)} (default: peers, "
                        "deck 002's workload with every implementation, one process each)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=argtypes.widths, default=(32,), help="widths, e.g. 32 or 128,64")
    parser.add_argument("--epochs", type=int, help="epochs per run (default 30; scaling 4)")
    parser.add_argument("--dataset", choices=("fashion-mnist", "synthetic"), default="fashion-mnist",
                        help="synthetic: random rows of the same shape (also used, and said, when "
                        "fashion-mnist is not on this machine)")
    parser.add_argument("--rows", type=int, help="keep only the first ROWS rows of the training set "
                        "(before the validation split) and ROWS/6 test rows")
    parser.add_argument("--only", type=_names, default=IMPLEMENTATIONS,
                        help=f"comma-separated, from {', '.join(IMPLEMENTATIONS)} (or jaxmlp, jax)")
    parser.add_argument("--quick", action="store_true", help="a one-minute run: 3 epochs, fewer repeats")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per child process")
    parser.add_argument("--threads", type=int, help="OpenMP / BLAS threads of the children (PyTorch, "
                        "scikit-learn); default: each library's own")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="where to write the JSON (default runs/bench/TABLE-TIME.json)")
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 3 if args.quick else DEFAULT_EPOCHS.get(args.table, 30)
    if args.epochs < 2:
        parser.error(f"--epochs: expected at least 2 (the median is over epochs 2..N), got {args.epochs}")
    if args.batch_size < 1:
        parser.error(f"--batch-size: expected an integer >= 1, got {args.batch_size}")
    if args.rows is not None and args.rows < 10:
        parser.error(f"--rows: expected at least 10, got {args.rows}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads: expected an integer >= 1, got {args.threads}")
    if args.timeout <= 0:
        parser.error(f"--timeout: expected a positive number of seconds, got {args.timeout}")
    args.command = shlex.join(["jaxmlp", "bench", *argv])
    return args


def _rows(n: int) -> tuple[int, int]:
    """``(n_train, n_val)`` of ``n`` rows under ``validation_split`` (Keras's rule)."""
    n_train = math.floor(n * (1 - VALIDATION_SPLIT))
    return n_train, n - n_train


def _names(text: str) -> tuple[str, ...]:
    names = []
    for name in filter(None, text.split(",")):
        if name not in IMPLEMENTATIONS and name not in GROUPS:
            raise argparse.ArgumentTypeError(
                f"unknown implementation {name!r}; expected {', '.join((*IMPLEMENTATIONS, *GROUPS))}")
        names += GROUPS.get(name, (name,))
    if not names:
        raise argparse.ArgumentTypeError("expected at least one implementation")
    return tuple(names)


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def _machine() -> dict[str, str]:
    import jax
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    device = jax.devices()[0]
    return {"CPU": f"{cpu}, {cores} cores usable ({os.cpu_count()} online)",
            "JAX": f"jax {jax.__version__}, jaxlib {importlib.metadata.version('jaxlib')}",
            "device": f"{len(jax.devices())} × {device.platform} ({device.device_kind})",
            "Python": f"{platform.python_version()} on {platform.platform(terse=True)}",
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")[:160]


def _stamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


if __name__ == "__main__":
    sys.exit(main())
