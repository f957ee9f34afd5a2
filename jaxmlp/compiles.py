"""Keeping a process alive while it compiles many networks.

Every program XLA compiles for the CPU keeps its machine code in memory mappings of its own
(about 55-110 per network for jaxmlp's entry points), and JAX's jit caches keep every compiled
program alive. A process that compiles some 600 distinct networks — a long Hypothesis run,
``jaxmlp verify``'s search, a script sweeping architectures — reaches the kernel's
``vm.max_map_count`` (65,530 by default) and dies inside LLVM with SIGSEGV, with memory to spare.

jaxmlp counts the compilations it sees (a ``jax.monitoring`` listener). The next public call
after one (``loss``, ``backprop``, ``deltas``, ``fit``, ``evaluate``, ``predict``, a checked
training step) calls :func:`relieve`, which reads the number of mappings and, past
:data:`SHARE` of the limit, empties JAX's caches with ``jax.clear_caches()`` and warns once. The
cost is a recompilation of what is used next; the process lives. A script that compiles many
networks without calling jaxmlp can call :func:`relieve` itself, once per network.
"""

from __future__ import annotations

import warnings

import jax
from jax._src.dispatch import BACKEND_COMPILE_EVENT

__all__ = ["SHARE", "mappings", "relieve"]

#: the share of ``vm.max_map_count`` past which :func:`relieve` clears JAX's caches
SHARE = 0.5

_state = {"compiled": False, "warned": False, "cleared": 0}


def mappings() -> tuple[int, int] | None:
    """``(mappings in use, the kernel's limit)`` for this process, or ``None`` where unknown.

    >>> used, limit = mappings() or (0, 1)
    >>> 0 <= used
    True
    """
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            limit = int(f.read())
        with open("/proc/self/maps", "rb") as f:
            used = sum(1 for _ in f)
    except (OSError, ValueError):
        return None
    return used, limit


def relieve(share: float | None = None) -> bool:
    """Clear JAX's caches if a compilation happened since the last call and the process's memory
    mappings pass ``share`` (default :data:`SHARE`) of the kernel's limit; whether it cleared."""
    if not _state["compiled"]:
        return False
    _state["compiled"] = False
    counts = mappings()
    if counts is None or counts[0] < (SHARE if share is None else share) * counts[1]:
        return False
    jax.clear_caches()
    _state["cleared"] += 1
    if not _state["warned"]:
        _state["warned"] = True
        warnings.warn(
            f"jaxmlp: this process holds {counts[0]:,} memory mappings of compiled programs (the "
            f"kernel allows {counts[1]:,}); JAX's compilation caches were cleared to stay alive, and "
            "what runs next compiles again. Many distinct networks in one process cause this; "
            "see jaxmlp.compiles.", RuntimeWarning, stacklevel=3)
    return True


def _listen(event: str, duration: float, **kwargs) -> None:
    if event == BACKEND_COMPILE_EVENT:
        _state["compiled"] = True


jax.monitoring.register_event_duration_secs_listener(_listen)
