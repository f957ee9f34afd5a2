"""The benchmark harness behind ``jaxmlp bench``: measured numbers, never asserted ones.

The command line (:mod:`jaxmlp.cli.bench`) parses the options and calls :func:`run`; nothing
here imports :mod:`jaxmlp.cli`.

``jaxmlp bench [peers]`` trains deck 002's network (784 → 32 relu → 10 softmax, categorical
cross-entropy, Adam 1e-3, batch 64, ``validation_split=0.2``) with every implementation of
:mod:`jaxmlp.bench.peers`, each in its own fresh process pinned to ``--threads`` cores and strictly
one after another, measures the machine's matmul rate, and prints one Markdown table (and writes
JSON). The other tables are in :mod:`jaxmlp.bench.tables`. Seconds per epoch are medians over
epochs 2..N; compile time is reported apart; every clock read follows a host transfer or
``block_until_ready``. When the machine is loaded (load average above its cores) or slower than
before (the matmul rate far below the best earlier report of the same machine), the output says
the figures are unreliable::

    jaxmlp bench                      # the peer table, 30 epochs (a few minutes)
    jaxmlp bench --quick              # about a minute: 3 epochs, fewer repeats
    jaxmlp bench --hidden 1024 --only jaxmlp,jax --epochs 5 --threads 1
    jaxmlp bench grad | scaling | matmul | devices [--quick]
    python -m jaxmlp.cli bench ...    # the same as jaxmlp bench ...

The FLOP model (per epoch, ``S = Σ_l fan_in·fan_out``): a step's forward pass costs ``2·B·S``, its
backward pass twice that, and the validation pass ``2·n_val·S``; the arithmetic limit is that count
divided by the large-square matmul rate. Deck 002: 7.93 GFLOP per epoch.

>>> flops((784, 32, 10), 64, 48_000, 12_000)["forward_per_step"]
3252224
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from jaxmlp.bench.harness import (
    calibration_warning,
    flops,
    load_warning,
    machine,
    pinned,
    run_child,
    usable_cores,
    write_data,
)
from jaxmlp.bench.tables import IMPLEMENTATIONS, SUBCOMMANDS, format_table

__all__ = ["IMPLEMENTATIONS", "SUBCOMMANDS", "flops", "format_table", "run", "run_child",
           "write_data"]


def run(args: argparse.Namespace) -> int:
    """Measure ``args.table`` (parsed by :mod:`jaxmlp.cli.bench`), print Markdown, write JSON.

    Returns 1 when every implementation failed, else 0.
    """
    path = Path(args.json or Path("runs", "bench", f"{args.table}-{_stamp()}.json"))
    info = machine(args.threads)
    warnings = [w for w in (load_warning(usable_cores()),) if w]
    with pinned(args.threads):
        report = SUBCOMMANDS[args.table](args)
    if "matmul" in report:
        slow = calibration_warning(report["matmul"]["square"], info["CPU"], path.parent)
        warnings += [slow] if slow else []
    for warning in warnings:
        sys.stderr.write(f"bench: warning: {warning}\n")
    head = [f"**jaxmlp bench {args.table}**", "", f"Command: `{args.command}`", "",
            *(f"- {key}: {value}" for key, value in info.items()), "",
            *(f"**Warning:** {warning}\n" for warning in warnings)]
    sys.stdout.write("\n".join(head + report["markdown"]) + "\n")
    from jaxmlp.atomic import write_atomic

    document = {"command": args.command, "machine": info, "warnings": warnings, **report,
                "markdown": "\n".join(report["markdown"])}
    write_atomic(path, json.dumps(document, indent=1).encode())
    sys.stderr.write(f"wrote {path}\n")
    failed = [r for r in report.get("results", []) if r.get("status") == "error"]
    return 1 if failed and len(failed) == len(report["results"]) else 0


def _stamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
