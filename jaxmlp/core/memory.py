"""Memory known before allocation: sizes from shapes, refused past what the device can hold.

A request that cannot fit (a 400-million-unit hidden layer, say) would fail inside XLA's
allocator, and some failures there abort the whole process, or the kernel kills it; so jaxmlp sizes
parameters, optimizer state, data and what a training step holds at its peak
(:func:`training_peak`) from their shapes first and raises :class:`MemoryError` naming the sizes.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import jax

__all__ = ["SHARE", "available", "check_fits", "format_bytes", "training_peak"]


def available(device: Any = None) -> int | None:
    """Bytes the device can still take: a GPU's free memory, the host's available memory for
    the CPU; ``None`` where unknown."""
    device = device or jax.local_devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(nbytes: float) -> str:
    """A size in bytes as jaxmlp writes every size: decimal units (1 kB = 1000 B), one decimal
    from kB up.

    >>> format_bytes(3 * 1024**3), format_bytes(25_450 * 4), format_bytes(12)
    ('3.2 GB', '101.8 kB', '12 B')
    """
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return ""  # pragma: no cover


#: the share of a device's free memory one request may take (the rest: XLA's buffers, the host)
SHARE = 0.8


def check_fits(name: str, nbytes: int, what: str, device: Any = None) -> None:
    """A :class:`MemoryError` naming ``name`` when ``nbytes`` (``what`` they hold) would take more
    than :data:`SHARE` of the device's free memory.

    >>> check_fits("params", 10**20, "10**20 bytes of weights")
    Traceback (most recent call last):
    MemoryError: params: 10**20 bytes of weights need 100000000.0 TB, more than 80% of the ...
    """
    free = available(device)
    if free is not None and nbytes > SHARE * free:
        raise MemoryError(f"{name}: {what} need {format_bytes(nbytes)}, more than "
                          f"{SHARE:.0%} of the {format_bytes(free)} this device has free")


def training_peak(sizes: tuple[int, ...], itemsize: int, batch_rows: int, validation_rows: int,
                  models: int = 1, params: int | None = None, state: int = 0) -> dict[str, int]:
    """The bytes a device holds while training, by part, from shapes alone.

    For ``models`` networks of layer sizes ``(n_0, ..., n_L)`` with ``P`` parameters each (by
    default the dense count), ``S`` bytes of optimizer state each, and a ``batch_rows`` batch:

    - ``"kept"``: the parameters and the optimizer state, each twice (the run's own copy, kept for
      a replay, and the epoch's result), ``2 N (P s + S)``;
    - ``"step"``: a step's gradient and the batch's activations and δs, the forward cache
      ``u_l, o_l`` and the δ of every layer, ``N (P s + 3 B s Σ_{l≥1} n_l) + B s n_0``;
    - ``"validation"``: the validation pass over all its rows at once, a layer's input and output
      for every model beside a copy of the parameters, ``N (V s max_l (n_l + n_{l+1}) + P s)``.

    The peak is ``kept + max(step, validation)`` (the pass follows the steps). On the CPU it lies
    within 0.95 to 1.5 times the measured peak (tests/test_refuse_memory.py).

    >>> peak = training_peak((784, 20_000, 10), 4, batch_rows=1_000, validation_rows=4_000)
    >>> {k: round(v / 1e6) for k, v in peak.items()}
    {'kept': 127, 'step': 307, 'validation': 396}
    """
    s, n = itemsize, models
    if params is None:
        params = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    widest = max(a + b for a, b in itertools.pairwise(sizes))
    return {
        "kept": 2 * n * (params * s + state),
        "step": n * (params * s + 3 * batch_rows * s * sum(sizes[1:])) + batch_rows * s * sizes[0],
        "validation": n * (validation_rows * s * widest + params * s) if validation_rows else 0,
    }
