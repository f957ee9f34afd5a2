"""What every benchmark child shares: the workload, its clock, the validation rows, the thread pin.

A child (:mod:`jaxmlp.bench.peers`) trains one implementation on the ``.npy`` files the parent
wrote, marks the clock after every epoch (after a host transfer, so the epoch really finished) and
reports JSON. The constants here are the one definition of the workload every runner trains.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import time
from typing import Any

import numpy as np

__all__ = [
    "DATA_FILES",
    "EPSILON",
    "LEARNING_RATE",
    "VALIDATION_SPLIT",
    "Clock",
    "Workload",
    "adam",
    "package_versions",
    "pin_threads",
    "split",
]

#: the arrays a child reads, ``NAME.npy`` each: float32 inputs in [0, 1], int32 labels 0..9
DATA_FILES = ("x", "t", "x_test", "t_test")
VALIDATION_SPLIT = 0.2
LEARNING_RATE, EPSILON = 1e-3, 1e-7
#: the variables OpenMP and the BLAS libraries read for their thread counts
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class Workload(dict):
    """The workload, JSON-ready: ``hidden`` (widths), ``batch_size``, ``epochs``, ``seed``, and
    optionally ``threads``, ``devices``, ``cpu_devices`` and ``profile`` (a folder for profiler
    traces)."""

    @property
    def sizes(self) -> tuple[int, ...]:
        return (784, *self["hidden"], 10)


def pin_threads(threads: int | None) -> None:
    """Run this process on its first ``threads`` usable cores, and say so to its children.

    XLA, OpenMP and BLAS size their thread pools from the cores a process may use; the thread
    variables carry the same count to child processes.
    """
    if not threads:
        return
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cores[:threads])
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))


def split(data):
    """Keras's validation_split: the last rows.

    The rule is :func:`jaxmlp.data.split.split_index`'s.
    """
    from jaxmlp.data.split import split_index

    (x, t), test = data
    at = split_index(x.shape[0], VALIDATION_SPLIT)
    return ((x[:at], t[:at]), (x[at:], t[at:])), test


@functools.cache
def adam():
    """The workload's optimizer: ``optax.adam(1e-3, eps=1e-7)`` (Keras's ε)."""
    import optax

    return optax.adam(LEARNING_RATE, eps=EPSILON)


def package_versions(*names: str) -> dict[str, str]:
    """``{name: installed version}`` of distributions."""
    return {n: importlib.metadata.version(n) for n in names}


class Clock:
    """Epoch boundaries: ``mark()`` after the host has the epoch's results (a sync point)."""

    def __init__(self, profile: str | None = None):
        self.marks: list[float] = []
        self.seen: list[int] = []  # how many of _COMPILES had happened at each mark
        self.jax = False
        self.profile = profile  # a folder for a JAX profiler trace of epochs 2..N
        self.tracing = False

    def watch_jax(self) -> None:
        """Record JAX's compilations (tracing, lowering, XLA compile) for this run."""
        _listen_to_jax()
        self.jax = True

    def mark(self) -> None:
        self.marks.append(time.perf_counter())
        self.seen.append(len(_COMPILES))
        if self.jax and self.profile and len(self.marks) == 2:  # the timed epochs start
            import jax

            jax.profiler.start_trace(self.profile, create_perfetto_trace=True)
            self.tracing = True

    def stop(self) -> None:
        """End the profiler trace, if one runs (after the last epoch)."""
        if self.tracing:
            import jax

            jax.profiler.stop_trace()
            self.tracing = False

    def result(self) -> dict[str, Any]:
        """Epoch times, their median over epochs 2..N, and for JAX the seconds spent compiling
        in epoch 1 (in all, and per function) and the functions compiled again after it."""
        self.stop()
        times = np.diff(self.marks)
        if len(times) < 1:
            raise RuntimeError("no epoch finished")
        out = {"epoch_times": times.tolist(), "first_epoch_s": float(times[0]),
               "median_s": float(np.median(times[1:] if len(times) > 1 else times)),
               "compile_s": None, "recompiles": None}
        if self.jax:
            per_function: dict[str, float] = {}
            for name, _, seconds in _COMPILES[self.seen[0]:self.seen[1]]:
                per_function[name] = per_function.get(name, 0.0) + seconds
            after_first = _COMPILES[self.seen[1]:self.seen[-1]]
            later = [name for name, event, _ in after_first if event == "backend"]
            out |= {"compile_s": sum(per_function.values()), "recompiles": len(later),
                    "compile_by_function": per_function, "recompiled": later}
        return out


_COMPILES: list[tuple[str, str, float]] = []  # (function, phase, seconds), for the whole process


@functools.cache
def _listen_to_jax() -> None:
    import jax

    def listen(event: str, duration: float, fun_name: str = "?", **_: Any) -> None:
        if event.startswith("/jax/core/compile/"):
            phase = "backend" if event.endswith("backend_compile_duration") else "trace"
            _COMPILES.append((fun_name.removeprefix("jit(").removesuffix(")"), phase, duration))

    jax.monitoring.register_event_duration_secs_listener(listen)
