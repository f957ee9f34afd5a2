"""The harness of ``jaxmlp bench``: the FLOP model, the data, the child processes, the machine.

Children run strictly one after another, each pinned to the same number of cores; before the
run and against earlier runs the harness checks that the machine can give honest figures.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from jaxmlp.bench.child import DATA_FILES, THREAD_VARIABLES, VALIDATION_SPLIT, Workload

__all__ = ["calibration_warning", "flops", "load_warning", "machine", "pinned", "rows", "run_child",
           "usable_cores", "write_data"]

#: a matmul rate below this share of the best earlier one on the same machine makes a figure suspect
SLOW_SHARE = 0.6


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


def rows(n: int) -> tuple[int, int]:
    """``(n_train, n_val)`` of ``n`` rows under the workload's ``validation_split`` (Keras's rule).

    >>> rows(60_000)
    (48000, 12000)
    """
    from jaxmlp.data.split import split_index

    n_train = split_index(n, VALIDATION_SPLIT)
    return n_train, n - n_train


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity; all online cores where unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextlib.contextmanager
def pinned(threads: int) -> Iterator[None]:
    """This process (and the children it starts) on its first ``threads`` cores, restored after."""
    saved_env = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    saved = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        if saved is not None:
            os.sched_setaffinity(0, sorted(saved)[:threads])
        os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
        yield
    finally:
        if saved is not None:
            os.sched_setaffinity(0, saved)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_child(name: str, config: Workload, data_dir: str | os.PathLike, timeout: float) -> dict:
    """Run one implementation in a fresh process; a failure or a timeout becomes an error row."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "result.json")
        command = [sys.executable, "-m", "jaxmlp.bench.peers", name, "--config", json.dumps(config),
                   "--data", str(data_dir), "--json-out", str(out)]
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "KERAS_BACKEND": "jax",
               "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        if config.get("threads"):
            env |= dict.fromkeys(THREAD_VARIABLES, str(config["threads"]))
        if config.get("cpu_devices"):
            env["JAX_NUM_CPU_DEVICES"] = str(config["cpu_devices"])
        if config.get("profile"):  # XLA's optimised programs beside the trace (jaxmlp.bench.ops)
            dump = Path(config["profile"], name, "hlo")
            env["XLA_FLAGS"] = " ".join(filter(None, [
                os.environ.get("XLA_FLAGS"), f"--xla_dump_to={dump}", "--xla_dump_hlo_as_text"]))
        try:
            done = subprocess.run(command, env=env, timeout=timeout, capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            return {"name": name, "status": "error", "error": f"timed out after {timeout:g} s"}
        if out.exists():
            return json.loads(out.read_text())
        lines = (done.stderr or done.stdout or "").strip().splitlines() or ["no output"]
        return {"name": name, "status": "error", "error": f"exit {done.returncode}: {lines[-1]}"}


def write_data(
    directory: str | os.PathLike, dataset: str, rows: int | None = None, seed: int = 0
) -> str:
    """Write the data set's arrays as :data:`~jaxmlp.bench.child.DATA_FILES` ``.npy`` files.

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
        dtype = np.int32 if name[0] == "t" else np.float32
        np.save(Path(directory, f"{name}.npy"), array.astype(dtype))
    return used


def load_warning(cores: int, load: float | None = None) -> str | None:
    """A warning when the 1-minute load average exceeds the usable cores (other work is running)."""
    if load is None:
        if not hasattr(os, "getloadavg"):
            return None
        load = os.getloadavg()[0]
    if load <= cores:
        return None
    return (f"the load average was {load:.1f} on {cores} usable cores: other processes compete for "
            "the cores, so these timings are unreliable; rerun on an idle machine")


def calibration_warning(square: float, cpu: str, folder: Path) -> str | None:
    """A warning when the large-square matmul rate is below :data:`SLOW_SHARE` of the best one in
    the earlier reports of ``folder`` from the same CPU."""
    best, where = 0.0, None
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            report = json.loads(path.read_text())
            rate = float(report["matmul"]["square"]) if report["machine"]["CPU"] == cpu else 0.0
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if rate > best:
            best, where = rate, path
    if where is None or square >= SLOW_SHARE * best:
        return None
    return (f"the matmul rate, {square / 1e9:.0f} GFLOP/s, is {square / best:.0%} of this "
            f"machine's best earlier measurement ({best / 1e9:.0f} GFLOP/s, {where.name}): the "
            "machine is busy or throttled, so these timings are unreliable")


def machine(threads: int | None = None) -> dict[str, str]:
    """What the figures were measured on: CPU, thread pin, JAX, device, Python, date."""
    import jax

    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    device = jax.devices()[0]
    info = {"CPU": f"{cpu}, {usable_cores()} cores usable ({os.cpu_count()} online)"}
    if threads:
        info["threads"] = f"{threads} per process (CPU affinity, {', '.join(THREAD_VARIABLES)})"
    return info | {
        "JAX": f"jax {jax.__version__}, jaxlib {importlib.metadata.version('jaxlib')}",
        "device": f"{len(jax.devices())} × {device.platform} ({device.device_kind})",
        "Python": f"{platform.python_version()} on {platform.platform(terse=True)}",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
