"""The tables of ``jaxmlp bench``: each ``(args) -> {"markdown": [lines], ...JSON}``.

``peers`` (deck 002's workload with every implementation, one process each), ``grad`` (a hand
backprop step against a ``jax.grad`` step), ``scaling`` (batch size and width; per-example ``vmap``
forward against a batched matmul), ``matmul`` (the rates and the FLOP model) and ``devices``
(data-parallel over simulated devices), ``many`` (N models in one ``fit_many`` against N ``fit``
calls, :mod:`jaxmlp.bench.many`). A new table is one function and one entry in
:data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jaxmlp.bench import micro, peers
from jaxmlp.bench.child import Workload
from jaxmlp.bench.harness import flops, rows, run_child, write_data
from jaxmlp.bench.ops import write_op_tables
from jaxmlp.bench.roofline import epoch_cost, roofline_columns

__all__ = ["DEFAULT_EPOCHS", "GROUPS", "IMPLEMENTATIONS", "LABELS", "SUBCOMMANDS", "format_table"]

IMPLEMENTATIONS = tuple(peers.RUNNERS)
GROUPS = {
    "jaxmlp": ("jaxmlp-backprop", "jaxmlp-autodiff"),
    "jax": ("jax-step", "jax-scan", "jax-scan-host"),
}
LABELS = {
    "jaxmlp-backprop": "jaxmlp `fit`, hand backprop", "jaxmlp-autodiff": "jaxmlp `fit`, jax.grad",
    "jax-step": "plain JAX+Optax, jitted step from Python",
    "jax-scan": "plain JAX+Optax, epoch in one lax.scan (shuffle by jax.random.permutation)",
    "jax-scan-host": "plain JAX+Optax, lax.scan unrolled ×2, shuffle on the host, validation "
                     "inside",
    "keras": "Keras 3 `fit` (JAX backend)", "torch": "PyTorch CPU, plain loop",
    "sklearn": "scikit-learn MLPClassifier (partial_fit)",
}
DEFAULT_EPOCHS = {"peers": 30, "scaling": 4, "devices": 6, "many": 3}
GRAD_CASES = (((784, 32, 10), 64), ((784, 1024, 10), 64), ((784, 1024, 1024, 10), 256))


def format_table(results: list[dict], epoch_flops: float, rate: float | None) -> str:
    """The paste-ready Markdown table of the peers' results: ``epoch_flops`` is the epoch's count
    (XLA's cost analysis, :func:`jaxmlp.bench.roofline.epoch_cost`), ``rate`` the device's
    measured peak (large-matmul FLOP/s)."""
    fastest = min((r["median_s"] for r in results if r["status"] == "ok"), default=None)
    lines = ["| implementation | s/epoch | × fastest | GFLOP/s | % of peak | test accuracy | "
             "compile s | 1st epoch s | peak RSS MB | versions |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in results:
        label = LABELS.get(r["name"], r["name"])
        if r["status"] != "ok":
            lines.append(f"| {label} |" + " — |" * 8 + f" {r['status']}: {_cell(r['error'])} |")
            continue
        compile_s = "—" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        if r.get("compile_by_function"):
            name, seconds = max(r["compile_by_function"].items(), key=lambda item: item[1])
            compile_s += f" ({_cell(name)[:20]} {seconds:.2f})"
        if r.get("recompiles"):
            compile_s += f", +{r['recompiles']} after epoch 1"
        versions = ", ".join(f"{k} {v}" for k, v in r["versions"].items())
        roof = roofline_columns(r["median_s"], {"flops": epoch_flops, "bytes": 0.0}, rate)
        share = "—" if roof["fraction_of_peak"] is None else f"{100 * roof['fraction_of_peak']:.0f}"
        lines.append(f"| {label} | {r['median_s']:.3f} | {r['median_s'] / fastest:.2f} | "
                     f"{roof['gflops_per_s']:.1f} | {share} | "
                     f"{r['test_accuracy']:.4f} | {compile_s} | {r['first_epoch_s']:.2f} | "
                     f"{r['peak_rss_mb']:.0f} | {versions} |")
    return "\n".join(lines)


def _peers(args) -> dict:
    config = Workload(hidden=list(args.hidden), batch_size=args.batch_size, epochs=args.epochs,
                      seed=args.seed, threads=args.threads)
    if args.profile:
        config["profile"] = str(Path(args.profile).resolve())
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_data(tmp, args.dataset, args.rows, args.seed)
        n_train, n_val = rows(np.load(Path(tmp, "x.npy"), mmap_mode="r").shape[0])
        for name in (n for n in IMPLEMENTATIONS if n in args.only):
            _say(f"bench: {name} ...")
            if missing(peers.IMPORTS[name]):
                result = {"name": name, "status": "skipped", "error": f"{peers.IMPORTS[name]} is "
                          "not installed (pip install 'jaxmlp[bench]')"}
            else:
                result = run_child(name, config, tmp, args.timeout)
            results.append(result)
            ok = result["status"] == "ok"
            _say(f" {result['median_s']:.3f} s/epoch\n" if ok else f" {result['error']}\n")
    model_flops = flops(config.sizes, args.batch_size, n_train, n_val)
    cost = epoch_cost(config.sizes, args.batch_size, n_train, n_val)
    rates = micro.matmul_rates(config.sizes, args.batch_size, repeats=3 if args.quick else 7)
    limit = cost["flops"] / rates["square"]
    for result in results:
        if result["status"] == "ok":
            result.update(roofline_columns(result["median_s"], cost, rates["square"]))
    shapes = ", ".join(f"{shape} {rate / 1e9:.0f}" for shape, rate in rates["shapes"].items())
    markdown = [f"Workload: {'-'.join(map(str, config.sizes))} "
                f"({'relu, ' * len(args.hidden)}softmax), categorical cross-entropy, Adam 1e-3, "
                f"batch {args.batch_size}, {dataset}: {n_train:,} training rows "
                f"({math.ceil(n_train / args.batch_size)} updates) + {n_val:,} validation rows per "
                f"epoch, float32; {cost['flops'] / 1e9:.2f} GFLOP and {cost['bytes'] / 1e9:.2f} GB "
                f"per epoch by XLA's cost analysis ({model_flops['epoch'] / 1e9:.2f} GFLOP by the "
                f"model's count); the device's peak, a {rates['square_n']}² matmul: "
                f"{rates['square'] / 1e9:.0f} GFLOP/s, so the epoch's limit is "
                f"{1e3 * limit:.0f} ms. s/epoch: median over epochs 2..{args.epochs}; GFLOP/s: "
                "XLA's count ÷ s/epoch; % of peak: GFLOP/s ÷ the peak; compile s: all JAX "
                "compilation in epoch 1 (the largest function in brackets).", "",
                format_table(results, cost["flops"], rates["square"]), "",
                f"Matmul GFLOP/s at the workload's shapes: {shapes}."]
    if args.profile:
        written = write_op_tables(args.profile, [r["name"] for r in results], args.epochs - 1)
        markdown += ["", f"Profiler traces of the timed epochs (jaxmlp and plain JAX rows): "
                     f"{args.profile} (open in Perfetto or TensorBoard); where each epoch's time "
                     f"goes, op by op: {', '.join(map(str, written)) or 'none written'}."]
    return {"config": config, "dataset": dataset, "flops": model_flops, "xla_cost": cost,
            "matmul": rates, "arithmetic_limit_s": limit, "results": results,
            "markdown": markdown}


def _grad(args) -> dict:
    lines = ["| network | batch | backprop µs, alone | jax.grad µs, alone | ratio | backprop µs, "
             "in scan | jax.grad µs, in scan | ratio | backprop GFLOP/s, in scan |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    results = []
    for sizes, batch in GRAD_CASES:
        r = micro.grad_times(sizes, batch, repeats=15 if args.quick else 51)
        step = flops(sizes, batch, 0, 0)["step"]
        results.append({"sizes": sizes, "batch_size": batch, **r})
        call, scan = (r[f"backprop_{k}"] / r[f"autodiff_{k}"] for k in ("call", "scan"))
        lines.append(f"| {'-'.join(map(str, sizes))} | {batch} | {1e6 * r['backprop_call']:.1f} | "
                     f"{1e6 * r['autodiff_call']:.1f} | {call:.3f} | "
                     f"{1e6 * r['backprop_scan']:.1f} | {1e6 * r['autodiff_scan']:.1f} | "
                     f"{scan:.3f} | {step / r['backprop_scan'] / 1e9:.1f} |")
    note = ("One jitted gradient of the mean categorical cross-entropy (relu hidden layers, "
            "softmax output): `loss_and_grads` (hand backprop) against "
            "`jax.value_and_grad(objective_and_output, has_aux=True)`; medians, compile excluded, "
            "the two alternating. *Alone*: one call and `block_until_ready`; *in scan*: per step "
            "of a jitted `lax.scan` of SGD steps.")
    return {"results": results, "markdown": [note, "", "\n".join(lines)]}


def _scaling(args) -> dict:
    base_width, base_batch = args.hidden[0], args.batch_size
    grid = (32, 256, 1024) if args.quick else (32, 64, 128, 256, 512, 1024)
    widths = [((w,), base_batch) for w in grid]
    batches = [((base_width,), b) for b in grid if b != base_batch]
    points = widths + batches
    lines = ["| network | batch | updates/epoch | s/epoch | rows/s | GFLOP/s | % of matmul | "
             "compile s | vmap forward ms | x @ w.T + b forward ms | vmap / matmul |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_data(tmp, args.dataset, args.rows, args.seed)
        n_train, n_val = rows(np.load(Path(tmp, "x.npy"), mmap_mode="r").shape[0])
        for hidden, batch in points:
            _say(f"bench scaling: hidden {hidden}, batch {batch} ...\n")
            config = Workload(hidden=list(hidden), batch_size=batch, epochs=args.epochs,
                              seed=args.seed, threads=args.threads)
            results.append({"hidden": hidden, "batch_size": batch,
                            **run_child("jaxmlp-backprop", config, tmp, args.timeout)})
    for r in results:  # this process takes the device only now, after its children
        r["forward"] = micro.forward_times((784, *r["hidden"], 10), r["batch_size"], n_train,
                                           3 if args.quick else 7)
    rates = micro.matmul_rates((784, base_width, 10), base_batch, repeats=3 if args.quick else 7)
    for r in results:
        sizes, batch, fwd = (784, *r["hidden"], 10), r["batch_size"], r["forward"]
        name = "-".join(map(str, sizes))
        if r["status"] != "ok":
            lines.append(f"| {name} | {batch} |" + " — |" * 8 + f" {_cell(r['error'])} |")
            continue
        rate = flops(sizes, batch, n_train, n_val)["epoch"] / r["median_s"]
        lines.append(f"| {name} | {batch} | {math.ceil(n_train / batch)} | {r['median_s']:.3f} | "
                     f"{(n_train + n_val) / r['median_s']:,.0f} | {rate / 1e9:.1f} | "
                     f"{100 * rate / rates['square']:.0f} | {r['compile_s']:.2f} | "
                     f"{1e3 * fwd['vmap']:.1f} | {1e3 * fwd['matmul']:.1f} | "
                     f"{fwd['vmap'] / fwd['matmul']:.2f} |")
    note = (f"jaxmlp `fit` (hand backprop, Adam) on {dataset}, {n_train:,} training + {n_val:,} "
            f"validation rows; s/epoch: median over epochs 2..{args.epochs}; rows/s counts both; % "
            f"of the {rates['square_n']}² matmul rate ({rates['square'] / 1e9:.0f} GFLOP/s). "
            "Forward: the training rows in batches, in one jitted scan, per-example `vmap` "
            "against batched matmul.")
    markdown = [note, "", "\n".join(lines)]
    return {"dataset": dataset, "matmul": rates, "results": results, "markdown": markdown}


def _matmul(args) -> dict:
    sizes = Workload(hidden=list(args.hidden)).sizes
    model_flops = flops(sizes, args.batch_size, *rows(args.rows or 60_000))
    rates = micro.matmul_rates(sizes, args.batch_size, repeats=3 if args.quick else 10)
    square, n = rates["square"], rates["square_n"]
    lines = ["| matmul, float32 | GFLOP/s | % of the square's |", "|---|--:|--:|",
             f"| {n} × {n} square (best of several) | {square / 1e9:.1f} | 100 |",
             *(f"| {shape} | {r / 1e9:.1f} | {100 * r / square:.0f} |"
               for shape, r in rates["shapes"].items())]
    labels = {"forward_per_step": "forward pass of one step, 2·B·S", "step": "one step, forward + "
              "backward (2× forward)", "train": "the epoch's updates, 6·n_train·S",
              "validation": "the validation pass, 2·n_val·S", "epoch": "one epoch"}
    flop_lines = [f"| FLOP model, {'-'.join(map(str, sizes))}, batch {args.batch_size} | FLOP "
                  "|", "|---|--:|",
                  *(f"| {labels[key]} | {value:,} |" for key, value in model_flops.items()),
                  "| arithmetic limit = epoch FLOP ÷ square rate | "
                  f"{1e3 * model_flops['epoch'] / square:.1f} ms |"]
    markdown = ["\n".join(lines), "", "\n".join(flop_lines)]
    return {"flops": model_flops, "matmul": rates, "markdown": markdown}


def _devices(args) -> dict:
    """Data-parallel scaling: the same run over 1, 2, 4 and 8 devices (simulated on a CPU)."""
    lines = ["| devices | rows per device per step | s/epoch | rows/s | speed-up | test accuracy | "
             "compile s |", "|--:|--:|--:|--:|--:|--:|--:|"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_data(tmp, args.dataset, args.rows, args.seed)
        n_train, n_val = rows(np.load(Path(tmp, "x.npy"), mmap_mode="r").shape[0])
        for count in (1, 2, 4, 8):
            _say(f"bench devices: {count} ...\n")
            config = Workload(hidden=list(args.hidden), batch_size=args.batch_size,
                              epochs=args.epochs, seed=args.seed, devices=count,
                              cpu_devices=count, threads=args.threads)
            result = run_child("jaxmlp-backprop", config, tmp, args.timeout)
            results.append({"devices": count, **result})
    base = next((r["median_s"] for r in results if r["status"] == "ok"), None)
    for r in results:
        if r["status"] != "ok":
            lines.append(f"| {r['devices']} |" + " — |" * 5 + f" {_cell(r['error'])} |")
            continue
        lines.append(f"| {r['devices']} | {args.batch_size // r['devices']} | {r['median_s']:.3f} "
                     f"| {(n_train + n_val) / r['median_s']:,.0f} | {base / r['median_s']:.2f} | "
                     f"{r['test_accuracy']:.4f} | {r['compile_s']:.2f} |")
    note = (f"jaxmlp `fit(devices=N)` (hand backprop, Adam, batch {args.batch_size} split over the "
            f"devices) on {dataset}; s/epoch: median over epochs 2..{args.epochs}. On a CPU the "
            "devices are simulated (`JAX_NUM_CPU_DEVICES=N`) and share the machine's cores.")
    return {"dataset": dataset, "results": results, "markdown": [note, "", "\n".join(lines)]}


def _many(args) -> dict:
    """N models trained together by ``fit_many`` against N ``fit`` calls (in this process)."""
    from jaxmlp.bench.many import add_roofline, format_many, many_table

    rows_in = args.rows or 60_000
    # the peak first, on the machine as the runs find it
    peak = micro.matmul_rates((784, args.hidden[0], 10), args.batch_size, repeats=5)["square"]
    table = many_table(ns=args.models, epochs=args.epochs, batch_size=args.batch_size,
                       rows=rows_in, hidden=args.hidden[0], fits=1 if args.quick else None)
    cost = add_roofline(table, rows_in, args.hidden[0], args.batch_size, peak)
    note = (f"Deck 002's network with {args.hidden[0]} hidden units, Adam 1e-3, batch "
            f"{args.batch_size}, trained as N models: together by `jaxmlp.fit_many` and one after "
            "another by N `jaxmlp.fit` calls with the same batch order; s/epoch: median over "
            f"epochs 2..{args.epochs}"
            + ("; --quick times one fit and scales it to N" if args.quick else "")
            + f"; GFLOP/s: N × one model's epoch by XLA's count ({cost['flops'] / 1e9:.2f} "
            f"GFLOP) ÷ fit_many s/epoch; % of peak: of the {peak / 1e9:.0f} GFLOP/s matmul; "
            "k-fold: `fit_many(folds=N)`, each model its own rows (all but its fold) and "
            "batch order.")
    return {"results": table, "markdown": [note, "", format_many(table)]}


def _verdicts(args: argparse.Namespace) -> dict:
    """``jaxmlp verify``'s false alarms and misses, and its effort/time curve."""
    from jaxmlp.bench.verdicts import verdicts_table

    return verdicts_table(quick=args.quick, seed=args.seed)


#: ``jaxmlp bench NAME``: each ``(args) -> {"markdown": [lines], ...JSON}``.
SUBCOMMANDS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "peers": _peers, "grad": _grad, "scaling": _scaling, "matmul": _matmul, "devices": _devices,
    "many": _many, "verdicts": _verdicts,
}


def missing(module: str) -> bool:
    """Whether ``module`` cannot be imported here (its row is then "skipped")."""
    import importlib.util

    return importlib.util.find_spec(module) is None


def _say(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")[:160]
