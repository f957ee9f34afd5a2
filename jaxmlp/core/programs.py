"""The compiled programs jaxmlp builds, owned by jaxmlp and bounded.

Every program is built for one network (an :class:`~jaxmlp.MLP`, hashable) and one set of static
settings, by ``jax.jit`` of a closure, and kept in :data:`PROGRAMS`: an LRU of the most recently
used networks, each with its programs. When a network falls out of the LRU, its jitted functions
are dropped, and with them JAX's compiled executables for them (JAX keys those caches weakly on
the function). So a sweep over thousands of distinct networks keeps a bounded number of programs
alive, and nothing of the caller's is touched: jaxmlp never clears JAX's own caches.

The bound, :data:`NETWORKS`, was sized by measurement: one network's programs (loss, backprop,
an epoch, evaluate, predict) hold 55-110 memory mappings of machine code on the CPU, against a
kernel limit of 65,530 per process.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["LAYERS", "NETWORKS", "PROGRAMS", "Programs"]

#: how many networks keep their compiled programs (least recently used first out)
NETWORKS = 32


class Programs:
    """An LRU of networks, each holding its programs by settings.

    >>> cache = Programs(networks=1)
    >>> f = cache.get("net-a", "double", lambda: (lambda v: 2 * v))
    >>> f(3), cache.get("net-a", "double", lambda: None) is f
    (6, True)
    >>> _ = cache.get("net-b", "double", lambda: (lambda v: 2 * v))
    >>> len(cache), "net-a" in cache
    (1, False)
    """

    def __init__(self, networks: int = NETWORKS):
        self.networks = networks
        self._lru: collections.OrderedDict[Hashable, dict] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, network: Hashable, settings: Hashable, build: Callable[[], Any]) -> Any:
        """The program of ``network`` for ``settings``, built by ``build()`` on first use."""
        with self._lock:
            programs = self._lru.pop(network, None)
            programs = {} if programs is None else programs
            self._lru[network] = programs
            while len(self._lru) > self.networks:
                self._lru.popitem(last=False)
            program = programs.get(settings)
            if program is None:
                program = programs[settings] = build()
            return program

    def __len__(self) -> int:
        return len(self._lru)

    def __contains__(self, network: Hashable) -> bool:
        return network in self._lru


#: the programs of every jaxmlp entry point
PROGRAMS = Programs()

#: the programs that draw one layer's initial parameters, by the layer's shape and place (many
#: networks share them: a sweep over widths redraws only the layers that changed)
LAYERS = Programs(networks=2 * NETWORKS)
