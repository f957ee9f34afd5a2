"""Where a run's arrays live: one device, rows over devices, models over devices, shards over
processes.

The epoch (:mod:`jaxmlp.training.epoch`) is one function; a :class:`Layout` decides where its
arguments are put and how the host forms the epoch's row order, so every feature combines:

- **rows over devices** (``fit(devices=...)``): the data and the parameters replicated on a
  ``("data",)`` mesh, each batch's rows split over it (``Plan.batches``); XLA all-reduces the sums.
- **models over devices** (``fit_many(devices=...)``): the stacked parameters and optimizer state
  split by models over a ``("models",)`` mesh, the data replicated; no communication at all.
- **shards** (several processes, :mod:`jaxmlp.parallel.processes`): the global training set is
  ``P`` equal shards of ``m`` rows in process order; shard ``p`` is shuffled by
  ``shuffle_order(fold_in(key, p), epoch, m)`` and batch ``i`` joins every shard's ``i``-th
  ``batch_size / P`` rows, so the epoch's order is one global interleaved array and the epoch
  itself knows nothing of shards. In one process ``shards=P`` forms exactly the same batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxmlp.parallel.devices import PROCESS, batch_sharding, replicated

__all__ = ["MODELS", "Layout", "models_mesh"]

MODELS = "models"


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a run's arrays live (see the module docstring).

    ``shards`` is ``P``; ``mesh`` a ``("data",)`` mesh (rows over devices), a ``("models",)`` mesh
    (models over devices) or, across processes, the ``("process", "data")`` view of every device.
    """

    shards: int = 1
    mesh: Mesh | None = None

    @property
    def processes(self) -> bool:
        """Whether the shards are processes (jax.distributed) rather than parts of local rows."""
        return jax.process_count() > 1

    @property
    def writes(self) -> bool:
        """Whether this process prints and writes files (process 0)."""
        return jax.process_index() == 0

    @property
    def over_models(self) -> bool:
        return self.mesh is not None and MODELS in self.mesh.axis_names

    @property
    def batches(self) -> NamedSharding | None:
        """The sharding of each batch's rows, or ``None`` (rows stay where they are)."""
        if self.mesh is None or self.over_models:
            return None
        return batch_sharding(self.mesh)

    def local_shards(self, a: Any) -> Any:
        """This process's rows as ``(k, m, ...)`` shards: the ``P`` equal parts in one process, the
        process's own rows (``k = 1``) across processes."""
        if self.processes:
            return a[None]
        if a.shape[0] % self.shards:
            raise ValueError(f"x: {a.shape[0]} rows do not split into {self.shards} equal shards; "
                             "every shard needs the same number of rows")
        return a.reshape(self.shards, -1, *a.shape[1:])

    def order(self, key: jax.Array, epoch: int, m: int, shuffle: bool, batch_size: int,
              draw: Callable[..., np.ndarray]) -> np.ndarray:
        """Epoch ``epoch``'s row order over the ``P m`` rows: batch ``i`` holds every shard's
        ``i``-th ``batch_size / P`` rows in shard order, the last partial batch every shard's
        remainder. ``draw(key, epoch, m, shuffle)`` is one shard's order
        (:func:`jaxmlp.data.shuffle_order`); with one shard it is the order itself."""
        if self.shards == 1:
            return draw(key, epoch, m, shuffle)
        orders = np.stack([p * m + draw(jax.random.fold_in(key, p), epoch, m, shuffle)
                           for p in range(self.shards)])
        per = batch_size // self.shards
        full = m // per
        head = orders[:, : full * per].reshape(self.shards, full, per).transpose(1, 0, 2)
        return np.concatenate([head.reshape(-1), orders[:, full * per:].reshape(-1)])

    def put_rows(self, tree: Any) -> Any:
        """Training rows onto the layout: as they are on one device, replicated on a local mesh,
        and across processes each process's ``(m, ...)`` rows as its part of one global array."""
        if self.mesh is None:
            return tree
        if not self.processes:
            return jax.device_put(tree, replicated(self.mesh))
        sharding = NamedSharding(self.mesh, P(PROCESS))
        return jax.tree.map(
            lambda a: jax.make_array_from_process_local_data(sharding, np.asarray(a)), tree)

    def put_shared(self, tree: Any) -> Any:
        """Arrays every device needs whole (an epoch's order, per-model rates)."""
        if self.mesh is None:
            return tree
        if not self.processes:
            return jax.device_put(tree, replicated(self.mesh))
        sharding = replicated(self.mesh)
        return jax.tree.map(
            lambda a: jax.make_array_from_process_local_data(sharding, np.asarray(a)), tree)

    def put_state(self, tree: Any) -> Any:
        """Parameters and optimizer state: split by models over a models mesh, else replicated."""
        if self.mesh is None:
            return tree
        if self.over_models:
            return jax.device_put(tree, NamedSharding(self.mesh, P(MODELS)))
        if self.processes:
            return self.put_shared(tree)
        return jax.device_put(tree, replicated(self.mesh))

    def local(self, tree: Any) -> Any:
        """This process's copy of every leaf replicated across processes (others unchanged)."""
        def own(a):
            if isinstance(a, jax.Array) and not a.is_fully_addressable and a.is_fully_replicated:
                return a.addressable_data(0)
            return a

        return jax.tree.map(own, tree)


def models_mesh(mesh: Mesh | None, models: int) -> Mesh | None:
    """The ``("models",)`` mesh over the devices of ``mesh`` (a ``("data",)`` mesh from
    :func:`~jaxmlp.parallel.make_mesh`) for ``models`` stacked models, which must split evenly."""
    if mesh is None:
        return None
    count = mesh.devices.size
    if models % count:
        raise ValueError(
            f"devices: {models} models do not split evenly over {count} devices; use a "
            f"device count that divides {models}, or stack a multiple of {count} models"
        )
    return Mesh(mesh.devices.reshape(-1), (MODELS,), axis_types=(AxisType.Auto,))

