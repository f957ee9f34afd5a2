"""A run's checkpoints: what they record, starting from them, and writing them after each epoch.

One model writes ``run.npz``; N stacked models write one file each, ``run.0.npz``, ``run.1.npz``,
... (each as one model's checkpoint, with that model's history column). Every file records the
run (:func:`record`): the batch size, the shuffle key, a digest of every byte of the training
data, the loss, the optimizer, the validation, the folds, the penalty rates, the metrics and the
model count. ``resume`` refuses a call that differs in any of them, by name, and a set of files
that is not whole (a missing file, a file of a larger set, files of different lengths).
"""

from __future__ import annotations

import functools
import operator
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.atomic import remove_stale
from jaxmlp.core.memory import check_fits
from jaxmlp.core.programs import PROGRAMS
from jaxmlp.training.checkpoint import load, save

__all__ = ["checkpoint_paths", "record", "save_run", "start"]

#: entries of a checkpoint's run record that describe its state, not the run (never compared)
STATE = ("stopped",)


def record(**settings: Any) -> dict[str, Any]:
    """A run record: JSON values only (arrays become lists)."""
    def plain(v):
        if isinstance(v, (np.ndarray, jax.Array)):
            return np.asarray(v).tolist()
        return list(v) if isinstance(v, tuple) else v

    return {k: plain(v) for k, v in settings.items()}


def checkpoint_paths(path: str | os.PathLike, models: int | None) -> list[Path]:
    """The files of a run: ``[run.npz]`` for one model, ``run.0.npz``, ... for N stacked models."""
    path = Path(path)
    if models is None:
        return [path]
    return [path.with_suffix(f".{i}.npz") for i in range(models)]


def start(resume: Any, model: Any, opt: Any, params: Any, models: int | None, run: dict):
    """``(params, opt_state, history, stopped)``: fresh, or from the checkpoints ``resume``.

    ``history`` maps names to per-epoch lists of ``(N,)`` arrays (``(1,)`` for one model);
    ``stopped`` lists, per model, ``None`` or how it stopped (restored from the checkpoints).
    """
    count = 1 if models is None else models
    if resume is None:
        def build():
            def fresh(params):  # our own buffers: the caller's are never donated
                init = opt.init if models is None else jax.vmap(opt.init)
                return jax.tree.map(jnp.copy, params), init(params)

            return jax.jit(fresh)

        state = jax.eval_shape(opt.init if models is None else jax.vmap(opt.init), params)
        nbytes = sum(a.size * a.dtype.itemsize for a in jax.tree.leaves((params, state)))
        check_fits("params", 2 * nbytes, "the parameters and the optimizer state (each kept twice "
                   "for a replay)")
        params, opt_state = PROGRAMS.get(model, ("start", opt, models), build)(params)
        return params, opt_state, {}, [None] * count
    files = checkpoint_paths(resume, models)
    if models is not None:
        beyond = checkpoint_paths(resume, models + 1)[-1]
        if beyond.is_file():
            raise ValueError(
                f"resume: {beyond} exists: the checkpoints hold more than the {models} "
                "models of this call"
            )
    ckpts = [_read(file, model, opt, run) for file in files]
    lengths = sorted({len(c.history.get("loss", [])) for c in ckpts})
    if len(lengths) != 1:
        raise ValueError(
            f"resume: the {count} checkpoints hold different numbers of epochs {lengths}"
        )
    names = ckpts[0].history
    history = {name: [np.array([c.history[name][e] for c in ckpts]) for e in range(lengths[0])]
               for name in names}
    stopped = [c.run.get("stopped") for c in ckpts]
    if models is None:
        return ckpts[0].params, ckpts[0].opt_state, history, stopped
    stack = functools.partial(jax.tree.map, lambda *leaves: jnp.stack(leaves))
    return stack(*(c.params for c in ckpts)), stack(*(c.opt_state for c in ckpts)), history, stopped


def remove_temporaries(path, models: int | None) -> None:
    """Remove the temporary files that killed saves of these checkpoints left behind (only stale,
    unlocked ones: :func:`jaxmlp.atomic.remove_stale`), as a run starts: a run resumed at its
    last epoch saves nothing, and must not keep them."""
    for file in checkpoint_paths(path, models):
        remove_stale(file)


def save_run(path, model, params, opt_state, step: int, history: dict, run: dict,
             models: int | None, stopped: list) -> None:
    """Write every model's checkpoint: its parameters, optimizer state and history column."""
    for i, file in enumerate(checkpoint_paths(path, models)):
        own = {name: [float(row[i]) for row in rows] for name, rows in history.items()}
        if models is None:
            mine = (params, opt_state)
        else:
            mine = jax.tree.map(operator.itemgetter(i), (params, opt_state))
        save(file, model, *mine, step=step, history=own, run=run | {"stopped": stopped[i]})


def _read(file: Path, model, opt, run: dict):
    """The checkpoint ``file``, once its model and run record match this call (read first without
    the optimizer, so that another optimizer is named, not reported as a state mismatch)."""
    try:
        ckpt = load(file)
    except (OSError, ValueError) as error:
        raise type(error)(f"resume: {error}") from None
    if ckpt.model != model:
        raise ValueError(f"resume: checkpoint {str(file)!r} holds {ckpt.model}, not {model}")
    if ckpt.opt_state is None:
        raise ValueError(f"resume: checkpoint {str(file)!r} holds no optimizer state (it was not "
                         "written by fit or fit_many)")
    for name, value in run.items():
        saved = ckpt.run.get(name, "(not recorded)")
        if name not in STATE and saved != value:
            what = "other training data" if name == "data" else f"{name}={saved!r}"
            raise ValueError(f"resume: checkpoint {str(file)!r} was trained with {what}; this call "
                             f"has {name}={value!r}: resuming would change the run")
    try:
        return load(file, optimizer=opt)
    except (OSError, ValueError) as error:
        raise type(error)(f"resume: {error}") from None
