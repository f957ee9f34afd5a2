"""Processes fail together: real processes on 127.0.0.1 (tests/scripts/process_faults.py) that
disagree, die or never come end every process within 30 s, with a non-zero exit and one line
that names the process (and the address, or the last checkpoint).

The kill case runs with a heartbeat timeout of 4 s (tests/scripts/process_faults.py) instead of
the library's 10 s, which only waited; its test adds the difference back to the measured time,
so the promise checked is still the default's.

Every case starts at once (a module fixture) and is timed from the moment its fault exists: both
processes joined (the data cases), the kill, or a lone process's call of initialize. Any process
still running 90 s after the start is killed, and its case fails.
"""

import inspect
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jaxmlp import parallel

SCRIPT = Path(__file__).parent / "scripts" / "process_faults.py"
HEARTBEAT = 4  # the kill case's heartbeat_timeout_seconds (the script's HEARTBEAT)
LIMIT = 30  # seconds from the fault to the end of every process
DEADLINE = 90  # seconds from the start to the end of every case: a hang is a failure, not a wait

# case: (script case, the processes started, the process killed after its "epoch 2" or None)
CASES = {
    "width": ("width", (0, 1), None),
    "nan": ("nan", (0, 1), None),
    "kill_1": ("kill", (0, 1), 1),
    "coordinator_missing": ("alone", (1,), None),
    "peers_missing": ("alone", (0,), None),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Case:
    """The processes of one case, their output lines and when each ended."""

    def __init__(self, name: str, folder: Path):
        script_case, ids, self.killed = CASES[name]
        self.folder, self.port, self.start = folder, free_port(), time.monotonic()
        self.lines = {i: [] for i in ids}
        self.joined, self.ends, self.kill_time, self.calls = {}, {}, None, {}
        env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}
        self.procs = {
            i: subprocess.Popen(
                [sys.executable, str(SCRIPT), script_case, str(i), str(self.port), str(folder)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for i in ids
        }
        self.readers = [threading.Thread(target=self._read, args=(i,)) for i in ids]
        for reader in self.readers:
            reader.start()

    def _read(self, i: int) -> None:
        proc = self.procs[i]
        for line in proc.stdout:
            self.lines[i].append(line.rstrip("\n"))
            if line.startswith("initializing"):
                self.calls[i] = time.monotonic()
            if line.startswith("joined"):
                self.joined[i] = time.monotonic()
            if i == self.killed and line.startswith("epoch 2") and self.kill_time is None:
                proc.kill()
                self.kill_time = time.monotonic()
        proc.wait()
        self.ends[i] = time.monotonic()

    def finish(self, deadline: float) -> None:
        for i, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                self.lines[i].append("<killed by the test: still running at the deadline>")
        for reader in self.readers:
            reader.join()

    @property
    def since(self) -> float:
        """When the fault began: the kill, both processes joined, or a lone one's initialize."""
        if self.killed is not None:
            return self.kill_time
        if len(self.procs) == 2:
            return max(self.joined.values()) if len(self.joined) == 2 else self.start
        return next(iter(self.calls.values()), self.start)

    def survivors(self) -> list[int]:
        return [i for i in self.procs if i != self.killed]

    def output(self, i: int) -> str:
        return "\n".join(self.lines[i])

    def check_ended(self, extra: float = 0.0) -> None:
        """Every process but the killed one ended in LIMIT seconds (``extra`` added to each
        measured time), with a non-zero exit."""
        for i in self.survivors():
            took = self.ends[i] - self.since + extra
            tail = self.output(i)[-3000:]
            assert "<killed by the test" not in tail, f"process {i} hung:\n{tail}"
            assert took <= LIMIT, f"process {i} took {took:.1f} s:\n{tail}"
            assert self.procs[i].returncode != 0, tail


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    started = {name: Case(name, tmp_path_factory.mktemp(name)) for name in CASES}
    deadline = time.monotonic() + DEADLINE
    for case in started.values():
        case.finish(deadline)
    return started


def test_a_process_with_63_feature_columns_stops_both_naming_it(cases):
    case = cases["width"]
    case.check_ended()
    for i in (0, 1):
        assert case.output(i).splitlines()[-1] == (
            "ValueError: process 1: x: expected shape (B, 64) for a network of input size 64, "
            "got (256, 63)"
        )


def test_a_nan_in_one_process_rows_is_reported_by_both(cases):
    case = cases["nan"]
    case.check_ended()
    for i in (0, 1):
        assert case.output(i).splitlines()[-1] == (
            "ValueError: process 1: x: contains NaN or infinity (first in row 17)"
        )


def test_a_killed_process_ends_the_coordinator_naming_it_and_the_checkpoint(cases):
    case = cases["kill_1"]
    assert case.kill_time is not None, case.output(1)[-3000:]  # killed mid-training
    # the script's heartbeat timeout is HEARTBEAT s; at the library's default the survivor waits
    # the difference longer, and that run must end within LIMIT too
    default = inspect.signature(parallel.initialize).parameters["heartbeat_timeout_seconds"]
    case.check_ended(extra=default.default - HEARTBEAT)
    out = case.output(0)
    checkpoint = case.folder / "run.npz"
    line = [s for s in out.splitlines() if s.startswith("jaxmlp.parallel.faults.ProcessError")]
    assert line, out[-3000:]
    assert "process 1 of 2 stopped during the run" in line[0]
    assert f"the last checkpoint is {checkpoint}" in line[0]
    assert checkpoint.exists()


def test_a_process_given_a_port_without_coordinator_says_the_address(cases):
    case = cases["coordinator_missing"]
    case.check_ended()
    assert case.output(1).splitlines()[-1].startswith(
        f"jaxmlp.parallel.faults.ProcessError: process 1 of 2: no coordinator answered at "
        f"127.0.0.1:{case.port} within 3 s (initialization_timeout)"
    )


def test_a_coordinator_whose_peer_never_comes_ends_after_the_timeout_saying_so(cases):
    case = cases["peers_missing"]
    case.check_ended()
    out = case.output(0)
    assert (
        f"jaxmlp.parallel.initialize: process 0: not every process has joined at "
        f"127.0.0.1:{case.port} after 2 s" in out
    ), out[-3000:]
    assert "joined\n" not in out


def test_reach_waits_for_the_coordinator_port_and_says_the_address_when_none_answers():
    from jaxmlp.parallel.faults import ProcessError, reach

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        address = f"127.0.0.1:{listening.getsockname()[1]}"
        assert 0 < reach(address, 5, 1, 2) <= 5  # answers at once: nearly all the time is left
    start = time.monotonic()
    with pytest.raises(ProcessError, match=f"process 1 of 2: no coordinator answered at {address}"):
        reach(address, 1, 1, 2)  # closed now
    assert 0.8 <= time.monotonic() - start <= 5
