"""Small checkpointed runs for tests/test_faults.py and tests/test_checkpoint_set.py, meant to be
killed with SIGKILL.

    python tests/scripts/fault_fit.py FOLDER [--slow-save SECONDS] [--many] [--kill-at K]

Trains :func:`problem`'s network (``--many``: :func:`problem_many`'s three networks with
``fit_many``) with ``checkpoint=FOLDER/run.npz``, resuming from it when it exists, and writes the
final parameters to ``FOLDER/final.npz`` (with ``--many``, their leaves in ``np.savez``'s
order). ``--slow-save`` makes every ``fsync`` sleep, so that the
temporary file of a save exists long enough to be killed during. ``--kill-at K`` sends this
process SIGKILL just before its K-th file operation (an ``fsync`` or an ``os.replace``: the
boundaries between the files of a save).
"""

import argparse
import os
import signal
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


def problem_many(epochs=3):
    """``(model, params, x, t, kwargs)``: three models trained together by ``fit_many``."""
    model, _, x, t, _ = problem()
    params = model.init(jax.random.split(jax.random.key(1), 3))
    kwargs = dict(
        learning_rate=[1e-2, 3e-2, 1e-1], batch_size=16, epochs=epochs, key=jax.random.key(3),
        verbose=0,
    )
    return model, params, x, t, kwargs


def at_file_operation(k, act):
    """Call ``act()`` just before the ``k``-th ``os.fsync`` / ``os.replace`` from now on."""
    count = [0]

    def wrap(operation):
        def wrapped(*args, **kwargs):
            count[0] += 1
            if count[0] == k:
                act()
            return operation(*args, **kwargs)

        return wrapped

    os.fsync, os.replace = wrap(os.fsync), wrap(os.replace)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--slow-save", type=float, default=0.0)
    parser.add_argument("--many", action="store_true")
    parser.add_argument("--kill-at", type=int, default=0)
    args = parser.parse_args(argv)
    if args.slow_save:
        fsync = os.fsync

        def slow_fsync(fd):
            time.sleep(args.slow_save)
            fsync(fd)

        os.fsync = slow_fsync
    if args.kill_at:
        at_file_operation(args.kill_at, lambda: os.kill(os.getpid(), signal.SIGKILL))
    train = jaxmlp.fit_many if args.many else jaxmlp.fit
    model, params, x, t, kwargs = problem_many() if args.many else problem()
    checkpoint = args.folder / "run.npz"
    resume = str(checkpoint) if checkpoint.exists() else None
    params, _ = train(model, params, x, t, checkpoint=str(checkpoint), resume=resume, **kwargs)
    if args.many:
        np.savez(args.folder / "final.npz", *jax.tree.leaves(params))
    else:
        jaxmlp.save(args.folder / "final.npz", model, params)


if __name__ == "__main__":
    main(sys.argv[1:])
