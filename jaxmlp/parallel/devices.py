"""Data-parallel training over every device with ``jax.sharding`` (and over hosts with
jax.distributed).

A one-axis mesh named ``"data"`` splits each mini-batch by rows, ``NamedSharding(mesh, P("data"))``,
while the parameters and the optimizer state are replicated, ``P()``. The training step is the
same function as on one device: XLA's SPMD partitioner turns the batch sums of the δ rule
(``Σ_n δ oᵀ``) and of ``jax.grad`` into per-device partial sums plus one all-reduce, so every
device applies the same update. No communication is written by hand.

On one machine::

    params, history = jaxmlp.fit(model, params, x, t, devices="all")   # or devices=4, or a list

Across processes (and hosts), run the same script in every process after :func:`initialize` and
pass each process's own rows to ``fit(..., devices="all")`` (:mod:`jaxmlp.parallel.processes`
says how the global batches are formed); for a custom loop, build each global batch from the
process's own rows with :func:`global_array`. Such a run uses the two-axis view
:func:`process_mesh` of the mesh: ``("process", "data")``, one row of devices per process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxmlp.parallel.faults import note_waiting, reach

__all__ = ["batch_sharding", "global_array", "initialize", "make_mesh", "process_mesh",
           "replicated"]

AXIS = "data"
PROCESS = "process"


def make_mesh(
    devices: str | int | Sequence[Any] | None = "all", mesh: Mesh | None = None
) -> Mesh | None:
    """A one-axis ``"data"`` mesh over ``devices``: ``"all"``, a count, or a list of devices.

    ``devices=None`` (and no ``mesh``) means no mesh: plain single-device training. A given ``mesh``
    is used as it is and must have a ``"data"`` axis.

    >>> make_mesh(1).shape["data"]
    1
    """
    if mesh is not None:
        if not isinstance(mesh, Mesh) or AXIS not in mesh.axis_names:
            raise ValueError(
                f"mesh: expected a jax.sharding.Mesh with a {AXIS!r} axis, got {mesh!r}"
            )
        if devices not in (None, "all"):
            raise ValueError("devices and mesh: give one of them, not both")
        return mesh
    if devices is None:
        return None
    available = jax.devices()
    if isinstance(devices, str):
        if devices != "all":
            raise ValueError(
                f"devices: expected 'all', a count or a list of devices, got {devices!r}"
            )
        chosen = available
    elif isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ValueError(f"devices: expected a count between 1 and {len(available)} "
                             f"(the devices present), got {devices}")
        chosen = available[:devices]
    elif (
        isinstance(devices, Sequence)
        and devices
        and all(isinstance(d, jax.Device) for d in devices)
    ):
        if len(set(devices)) != len(devices):
            raise ValueError("devices: the list names a device twice")
        chosen = list(devices)
    else:
        raise TypeError(
            f"devices: expected 'all', a count or a list of jax devices, got {devices!r}"
        )
    return Mesh(np.array(chosen), (AXIS,), axis_types=(AxisType.Auto,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Rows split over the ``"data"`` axis.

    On a :func:`process_mesh`, rows split over ``("process", "data")``.
    """
    return NamedSharding(mesh, P((PROCESS, AXIS)) if PROCESS in mesh.axis_names else P(AXIS))


def process_mesh(mesh: Mesh) -> Mesh:
    """The ``("process", "data")`` view of a mesh over several processes' devices.

    Row ``p`` holds process ``p``'s devices, so an array split over ``"process"`` keeps each
    process's rows on its own devices. Every process must bring the same number of devices.

    >>> dict(process_mesh(make_mesh(1)).shape)
    {'process': 1, 'data': 1}
    """
    devices = sorted(mesh.devices.flat, key=lambda d: (d.process_index, d.id))
    count = jax.process_count()
    per = [sum(d.process_index == p for d in devices) for p in range(count)]
    if len(set(per)) != 1 or per[0] == 0:
        raise ValueError(
            "devices: every process must bring the same number of devices to the mesh; "
            f"got {per} (devices per process, in process order)"
        )
    grid = np.array(devices).reshape(count, per[0])
    return Mesh(grid, (PROCESS, AXIS), axis_types=(AxisType.Auto,) * 2)


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device (parameters, optimizer state, the training rows)."""
    return NamedSharding(mesh, P())


def initialize(
    coordinator_address: str | None = None, num_processes: int | None = None,
    process_id: int | None = None, local_device_ids: Sequence[int] | None = None,
    cpu_collectives: str | None = "gloo", initialization_timeout: int = 30,
    heartbeat_timeout_seconds: int = 10, shutdown_timeout_seconds: int = 300,
) -> None:
    """Join a multi-host run: ``jax.distributed.initialize`` with short limits.

    Call it first thing on every host, with the same ``coordinator_address`` (``"host:port"`` of
    process 0), the total ``num_processes`` and this host's ``process_id``; on managed clusters
    (SLURM, Cloud TPU) the arguments may be left out. ``cpu_collectives="gloo"`` lets CPU-only
    hosts all-reduce. The limits (JAX's own names; :mod:`jaxmlp.parallel.faults`):

    - ``initialization_timeout`` (JAX: 300 s): how long every process waits for all to join. A
      process other than 0 first waits that long for the coordinator's port and raises
      :class:`~jaxmlp.parallel.faults.ProcessError` naming the address if it never answers;
      past the timeout JAX ends a process that is still waiting with SIGABRT, after one logged
      line naming the address.
    - ``heartbeat_timeout_seconds`` (JAX: 100 s): a process silent that long is taken for dead
      and JAX's distributed service ends every other process (SIGABRT), so a run whose peer died
      ends everywhere within about this time; raise it on a machine so loaded that a process may
      not send a heartbeat for 10 s.
    - ``shutdown_timeout_seconds`` (JAX's 300 s): at exit a process waits this long for every
      other to exit too; a shorter one ends a healthy process that still works when another
      has finished.
    """
    if cpu_collectives is not None:
        jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    timeout = initialization_timeout
    if coordinator_address and process_id and num_processes:  # not process 0: wait for it first
        timeout = math.ceil(reach(coordinator_address, timeout, process_id, num_processes))
    with note_waiting(coordinator_address or "the detected coordinator", timeout, process_id):
        jax.distributed.initialize(
            coordinator_address=coordinator_address, num_processes=num_processes,
            process_id=process_id, local_device_ids=local_device_ids,
            initialization_timeout=max(1, timeout),
            heartbeat_timeout_seconds=heartbeat_timeout_seconds,
            shutdown_timeout_seconds=shutdown_timeout_seconds)


def global_array(mesh: Mesh, local_rows: Any) -> jax.Array:
    """Assemble the global array, split by rows over ``mesh``, from this process's own rows.

    Every process passes its shard (the same number of rows on each); the result's first axis is
    the sum over processes. Built with ``jax.make_array_from_process_local_data``.
    """
    return jax.make_array_from_process_local_data(batch_sharding(mesh), np.asarray(local_rows))
