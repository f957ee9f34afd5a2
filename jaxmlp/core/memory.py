"""Memory known before allocation: sizes from shapes, refused past what the device can hold.

A request that cannot fit (a 400-million-unit hidden layer, say) would fail inside XLA's
allocator, and some failures there abort the whole process; so jaxmlp sizes parameters, optimizer
state and data from their shapes first and raises :class:`MemoryError` naming the sizes.
"""

from __future__ import annotations

import os
from typing import Any

import jax

__all__ = ["SHARE", "available", "check_fits", "describe"]


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


def describe(nbytes: float) -> str:
    """``1.5 GB``-style sizes.

    >>> describe(3 * 1024**3)
    '3.2 GB'
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
        raise MemoryError(f"{name}: {what} need {describe(nbytes)}, more than "
                          f"{SHARE:.0%} of the {describe(free)} this device has free")
