"""One process of a jaxmlp run across processes on 127.0.0.1 that meets a fault (one CPU device).

Usage: process_faults.py CASE PROCESS_ID PORT DIR. Every case lets its error end the process (a
non-zero exit); tests/test_process_faults.py starts the processes and times their ends.

- ``width``: process 1 passes 63 feature columns to a 64-input model;
- ``nan``: process 1's row 17 holds a NaN;
- ``kill``: both train for long with a checkpoint in DIR, printing ``epoch N`` after each epoch;
  the test kills one of them (a heartbeat timeout of :data:`HEARTBEAT` s, not the library's 10 s:
  the same detection, sooner; the test checks the default separately);
- ``alone``: this process is the only one of 2 to start (initialization_timeout=3).

It prints ``initializing`` before ``jaxmlp.parallel.initialize`` and ``joined`` once it returns.
The parameters are drawn with NumPy: nothing compiles before the processes agree.
"""

import sys
from pathlib import Path

import jax
import numpy as np

import jaxmlp
from jaxmlp import parallel

MODEL = jaxmlp.MLP((64, 16, 10), ("relu", "softmax"))
HEARTBEAT = 4  #: seconds, the kill case's heartbeat_timeout_seconds


def main(case: str, process_id: int, port: int, folder: Path) -> None:
    timeout = 3 if case == "alone" else 30
    print("initializing", flush=True)
    heartbeat = {"heartbeat_timeout_seconds": HEARTBEAT} if case == "kill" else {}
    parallel.initialize(f"127.0.0.1:{port}", 2, process_id, initialization_timeout=timeout,
                        **heartbeat)
    print("joined", flush=True)
    rng = np.random.default_rng(process_id)
    x = rng.normal(size=(256, 64)).astype(np.float32)
    t = rng.integers(0, 10, 256)
    draw = np.random.default_rng(0)
    params = [
        {"w": draw.normal(0, 0.2, (m, n)).astype(np.float32), "b": np.zeros(m, np.float32)}
        for n, m in zip(MODEL.sizes, MODEL.sizes[1:])
    ]
    if process_id == 1 and case == "width":
        x = x[:, :63]
    if process_id == 1 and case == "nan":
        x[17, 5] = np.nan
    jaxmlp.fit(
        MODEL,
        params,
        x,
        t,
        epochs=10_000 if case == "kill" else 2,
        batch_size=32,
        devices="all",
        verbose=0,
        checkpoint=folder / "run.npz" if case == "kill" else None,
        on_epoch_end=lambda epoch, logs: print(f"epoch {epoch}", flush=True),
    )


if __name__ == "__main__":
    jax.config.update("jax_num_cpu_devices", 1)
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
