"""A small checkpointed fit for tests/test_faults.py, meant to be killed with SIGKILL.

    python tests/scripts/fault_fit.py FOLDER [--slow-save SECONDS]

Trains :func:`problem`'s network with ``checkpoint=FOLDER/run.npz``, resuming from it when it
exists, and writes the final parameters to ``FOLDER/final.npz``. ``--slow-save`` makes every
``fsync`` sleep, so that the temporary file of a save exists long enough to be killed during.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax

import jaxmlp

EPOCHS = 6


def problem():
    """``(model, params, x, t, kwargs)``: the run the test repeats without interruption."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    t = (x[:, 0] + x[:, 1] > 0).astype(np.int32) + (x[:, 2] > 0.5)
    model = jaxmlp.MLP((6, 8, 3), ("tanh", "softmax"))
    kwargs = dict(
        optimizer=optax.adam(0.01), batch_size=8, epochs=EPOCHS, key=jax.random.key(3), verbose=0
    )
    return model, model.init(jax.random.key(1)), x, t, kwargs


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--slow-save", type=float, default=0.0)
    args = parser.parse_args(argv)
    if args.slow_save:
        fsync = os.fsync

        def slow_fsync(fd):
            time.sleep(args.slow_save)
            fsync(fd)

        os.fsync = slow_fsync
    model, params, x, t, kwargs = problem()
    checkpoint = args.folder / "run.npz"
    resume = str(checkpoint) if checkpoint.exists() else None
    params, _ = jaxmlp.fit(model, params, x, t, checkpoint=str(checkpoint), resume=resume, **kwargs)
    jaxmlp.save(args.folder / "final.npz", model, params)


if __name__ == "__main__":
    main(sys.argv[1:])
