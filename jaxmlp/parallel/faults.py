"""Processes fail together: a process that never joins or stops during a run ends every process
within seconds, each with one line that says what went missing.

The mechanism is JAX's distributed runtime, given short limits by
:func:`jaxmlp.parallel.initialize`; this module adds the lines it does not say:

- **Joining** (``initialization_timeout``, 30 s): a process other than 0 first waits for the
  coordinator's port to accept a connection (:func:`reach`) and raises :class:`ProcessError`
  naming the address if it never does. Without that wait, JAX's own timeout ends the process with
  SIGABRT and no Python error. Process 0 hosts the coordinator and waits for every other process;
  one that never comes ends it with SIGABRT after the timeout, and :func:`note_waiting` logs one
  line naming the address a second before.
- **Stopping** (``heartbeat_timeout_seconds``, 10 s): JAX's distributed service takes a process
  that has sent no heartbeat for that long for dead and ends every other process (SIGABRT, "the
  JAX distributed service detected fatal errors"); when the dead process is process 0, the service
  itself, that happens at once. Before it, a collective with the dead process fails at once in
  its peers (gloo: "Connection reset by peer"); :func:`together` turns that failure into one
  :class:`ProcessError` line naming the process and the last checkpoint.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax

__all__ = ["ProcessError", "note_waiting", "reach", "together"]

#: words of the errors a collective gives when a peer process is gone (gloo, NCCL, the service)
_LOST = ("Gloo", "NCCL", "onnection reset", "onnection closed", "onnection refused",
         "Socket closed", "heartbeat", "UNAVAILABLE", "coordination service")


class ProcessError(RuntimeError):
    """A process of a run across processes is missing: it never joined, or it stopped.

    ``checkpoint``: the run's checkpoint path, named at the end of the message (where it is, or
    that there is none yet)."""

    def __init__(self, message: str, checkpoint: Any = None):
        self.line, self.checkpoint = message, checkpoint
        super().__init__(message if checkpoint is None else f"{message}; {_last(checkpoint)}")


def reach(address: str, timeout: float, process_id: int, num_processes: int) -> float:
    """Wait until ``address`` (``"host:port"``, the coordinator's) accepts a TCP connection;
    return the seconds left of ``timeout``. Raise :class:`ProcessError` naming the address when
    it does not within ``timeout`` seconds. An address that is not ``host:port`` is left to JAX."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    start = time.monotonic()
    if not host or not port.isdigit():
        return timeout
    while True:
        left = timeout - (time.monotonic() - start)
        try:
            with socket.create_connection((host, int(port)), timeout=max(0.1, min(1.0, left))):
                return max(left, 0.0)
        except OSError as error:
            if left <= 0.2:
                raise ProcessError(
                    f"process {process_id} of {num_processes}: no coordinator answered at "
                    f"{address} within {timeout:g} s (initialization_timeout); check the address "
                    f"and port, and that process 0 runs ({error.strerror or error})") from None
        time.sleep(0.2)


@contextlib.contextmanager
def note_waiting(address: str, timeout: float, process_id: Any) -> Iterator[None]:
    """Log one line (logger ``jaxmlp.parallel``, shown on standard error unless logging is
    configured otherwise) a second before ``jax.distributed.initialize`` gives up waiting for the
    processes to join, which ends the process with SIGABRT."""
    at = max(0.0, timeout - 1.0)
    timer = threading.Timer(at, logging.getLogger("jaxmlp.parallel").error, args=(
        "jaxmlp.parallel.initialize: process %s: not every process has joined at %s after %g s; "
        "JAX ends this process at %g s (initialization_timeout) unless they do: check that every "
        "process was started with this address and its own process_id",
        process_id, address, at, timeout))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@contextlib.contextmanager
def together(checkpoint: Any = None) -> Iterator[None]:
    """Run part of a run across processes: a collective that fails because a peer process is
    gone becomes one :class:`ProcessError` naming it and ``checkpoint`` (the run's, if any)."""
    try:
        yield
    except jax.errors.JaxRuntimeError as error:
        if jax.process_count() == 1 or not any(w in str(error) for w in _LOST):
            raise
        raise ProcessError(_stopped(str(error)), checkpoint) from None
    except ProcessError as error:
        if checkpoint is None or error.checkpoint is not None:
            raise
        raise ProcessError(error.line, checkpoint) from None


def _stopped(cause: str) -> str:
    me, count = jax.process_index(), jax.process_count()
    who = (f"process {1 - me} of 2" if count == 2 else
           f"a process other than {me} (of {count})")
    cause = re.sub(r"\[[^\]]*\.(cc|h):\d+\] ", "", cause.strip().splitlines()[0])
    cause = re.sub(r"^[A-Z_]+: ", "", cause)
    return f"{who} stopped during the run: a collective of process {me} failed ({cause})"


def _last(checkpoint: Any) -> str:
    path = Path(checkpoint)
    if path.exists():
        return f"the last checkpoint is {path} (resume={str(path)!r} continues the run)"
    return f"no checkpoint at {path} on this host (process 0 writes them)"
