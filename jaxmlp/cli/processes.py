"""``jaxmlp train`` over several processes (jax.distributed): its flags, joining, each one's rows.

Every process runs the same command; together they train one model. Process 0 prints and
writes; :func:`jaxmlp.cli.runs.quiet_unless` silences the others' standard output for the
command only.
"""

from __future__ import annotations

import argparse
import os

from jaxmlp.cli import argtypes
from jaxmlp.cli.common import CLIError

__all__ = ["add", "cluster_environment", "join", "own_rows"]


def add(p: argparse.ArgumentParser) -> None:
    """The flags of one run over several processes, in their own help group."""
    group = p.add_argument_group(
        "several processes (jax.distributed)",
        "Start the same command in every process, on one host or several: together they train "
        "one model. Each process keeps only its own 1/N of the shuffled training rows (N equal "
        "parts, in process order; a remainder of fewer than N rows is left out), --batch-size is "
        "the global batch, and process 0 prints and writes the outputs and the --checkpoint (on "
        "several hosts, give --checkpoint and --resume a shared path). Without these "
        "flags, a process joins the run that jax.distributed.initialize finds in its "
        "environment: JAX_COORDINATOR_ADDRESS, or a Slurm step (srun) or Open MPI job of several "
        "tasks.")
    group.add_argument("--coordinator", metavar="HOST:PORT",
                       help="process 0's address and a free port, the same in every process")
    group.add_argument("--num-processes", type=argtypes.int_at_least(1), metavar="N",
                       help="how many processes train together")
    group.add_argument("--process-id", type=argtypes.int_at_least(0), metavar="I",
                       help="this process's number, 0 to N-1")


def join(args: argparse.Namespace) -> tuple[int, int]:
    """``(rank, count)``: join the run of several processes that the flags (or the environment)
    name; ``(0, 1)`` when there is none. Flag errors come before any joining."""
    from jaxmlp.cli import many

    flags = (getattr(args, "coordinator", None), getattr(args, "num_processes", None),
             getattr(args, "process_id", None))
    if flags == (None, None, None) and not cluster_environment():
        return 0, 1
    coordinator, count, rank = flags
    if coordinator is not None:
        host, _, port = coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise CLIError(f"--coordinator: expected HOST:PORT (process 0's address), got "
                           f"{coordinator!r}")
    if count is not None and rank is not None and rank >= count:
        raise CLIError(f"--process-id: expected 0 to {count - 1} for --num-processes {count}, "
                       f"got {rank}")
    import jax

    from jaxmlp import parallel

    try:
        parallel.initialize(coordinator, count, rank)
    except (ValueError, TypeError, RuntimeError) as error:
        raise CLIError(f"--coordinator/--num-processes/--process-id: {error}") from None
    rank, count = jax.process_index(), jax.process_count()
    if args.batch_size % count:
        raise CLIError(f"--batch-size: {args.batch_size} rows do not split evenly over {count} "
                       f"processes; use a multiple of {count}")
    if count > 1 and many.requested(args):
        raise CLIError("--num-processes: the command line trains one model across processes; "
                       "for --seeds, --folds or lists for --lr / --l2 call jaxmlp.fit_many from "
                       "Python, which runs across processes")
    return rank, count


def own_rows(x, t, rank: int, count: int):
    """Process ``rank``'s part of the shuffled training rows: ``count`` equal consecutive parts."""
    if count == 1:
        return x, t
    size = len(x) // count
    left = f"; the last {len(x) - size * count} left out" if len(x) % count else ""
    print(f"process 0 of {count}: training rows 0 to {size - 1} of {len(x):,} shuffled rows "
          f"({size:,} per process{left}); the row counts below are per process, the batch size "
          "global")
    return x[rank * size:(rank + 1) * size], t[rank * size:(rank + 1) * size]


def cluster_environment() -> bool:
    """Whether the environment names a run of several processes (as jax.distributed reads it)."""
    def more_than_one(name: str) -> bool:
        value = os.environ.get(name, "1")
        return value.isdigit() and int(value) > 1

    return bool(os.environ.get("JAX_COORDINATOR_ADDRESS")) or any(
        more_than_one(name) for name in ("SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE"))
