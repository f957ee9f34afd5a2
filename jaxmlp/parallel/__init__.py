"""Layouts of the same epoch over devices and processes (``jax.sharding``, ``jax.distributed``).

>>> from jaxmlp import parallel
>>> parallel.make_mesh(1).shape["data"]
1
"""

from jaxmlp.parallel.devices import (
    batch_sharding,
    global_array,
    initialize,
    make_mesh,
    process_mesh,
    replicated,
)
from jaxmlp.parallel.faults import ProcessError

__all__ = ["ProcessError", "batch_sharding", "global_array", "initialize", "make_mesh",
           "process_mesh", "replicated"]
