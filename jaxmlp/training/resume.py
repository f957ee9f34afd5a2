"""A run's checkpoints: what they record, starting from them, and writing them after each epoch.

One model writes ``run.npz``; N stacked models write one file each, ``run.0.npz``, ``run.1.npz``,
... (each as one model's checkpoint, with that model's history column), committed as one unit by
the manifest ``run.npz`` (:mod:`~jaxmlp.training.checkpoint_set`). Every file records the run
(:func:`record`): the batch size, the shuffle key, a digest of every byte of the training data, the
loss, the optimizer, the validation, the folds, the penalty rates, the metrics and the model count;
and its state: how the model stopped, and its early stopping (the best value, its epoch, the wait,
and the best parameters under ``restore_best``). ``resume`` refuses a call that differs in any
setting, by name, and a set of files that is not whole (a file missing or changed since its
manifest; in a set written before manifests, a file of a larger set or files of different
lengths).
"""

from __future__ import annotations

import functools
import operator
import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.atomic import remove_stale
from jaxmlp.core.memory import check_fits
from jaxmlp.core.programs import PROGRAMS
from jaxmlp.training import checkpoint_set
from jaxmlp.training.checkpoint import checkpoint_bytes, load, save
from jaxmlp.training.checkpoint_set import checkpoint_paths
from jaxmlp.training.stopping import EarlyStopping, Tracker

__all__ = ["checkpoint_paths", "record", "remove_temporaries", "save_run", "start"]

#: entries of a checkpoint's run record that describe its state, not the run (never compared)
STATE = ("stopped", "stopping")
#: recorded, not refused: another layout gives the same run to float rounding, not bit for bit
LAYOUT = ("devices",)


def record(**settings: Any) -> dict[str, Any]:
    """A run record: JSON values only (arrays become lists)."""
    def plain(v):
        if isinstance(v, (np.ndarray, jax.Array)):
            return np.asarray(v).tolist()
        return list(v) if isinstance(v, tuple) else v

    return {k: plain(v) for k, v in settings.items()}


def start(resume: Any, model: Any, opt: Any, params: Any, models: int | None, run: dict,
          rule: EarlyStopping | None = None):
    """``(params, opt_state, history, stopped, trackers)``: fresh, or from the checkpoints
    ``resume``.

    ``history`` maps names to per-epoch lists of ``(N,)`` arrays (``(1,)`` for one model);
    ``stopped`` lists, per model, ``None`` or how it stopped, and ``trackers`` each model's early
    stopping under ``rule`` (both restored from the checkpoints).
    """
    count = 1 if models is None else models
    trackers = [Tracker(rule) for _ in range(count)]
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
        return params, opt_state, {}, [None] * count, trackers
    ckpts = [_read(file, model, opt, run) for file in _files(resume, models)]
    lengths = sorted({len(c.history.get("loss", [])) for c in ckpts})
    if len(lengths) != 1:
        raise ValueError(
            f"resume: the {count} checkpoints hold different numbers of epochs {lengths}"
        )
    names = ckpts[0].history
    history = {name: [np.array([c.history[name][e] for c in ckpts]) for e in range(lengths[0])]
               for name in names}
    stopped = [c.run.get("stopped") for c in ckpts]
    for tracker, c in zip(trackers, ckpts):
        tracker.restore(c.run.get("stopping"), c.best_params)
    if models is None:
        return ckpts[0].params, ckpts[0].opt_state, history, stopped, trackers
    stack = functools.partial(jax.tree.map, lambda *leaves: jnp.stack(leaves))
    return (stack(*(c.params for c in ckpts)), stack(*(c.opt_state for c in ckpts)), history,
            stopped, trackers)


def remove_temporaries(path, models: int | None, alone: bool = True) -> None:
    """As a run starts, remove what killed saves of these checkpoints left behind: stale,
    unlocked temporary files (:func:`jaxmlp.atomic.remove_stale`) and, for N models, the pending
    files of a set never committed (after finishing a committed one when this process is
    ``alone``: :func:`~jaxmlp.training.checkpoint_set.tidy`). A run resumed at its last epoch
    saves nothing, and must not keep them."""
    if models is None:
        remove_stale(path)
    else:
        checkpoint_set.tidy(path, models, finish=alone)


def save_run(path, model, params, opt_state, step: int, history: dict, run: dict,
             models: int | None, stopped: list, trackers: list[Tracker]) -> None:
    """Write every model's checkpoint: its parameters, optimizer state, history column and
    early stopping; N models as one set (:func:`jaxmlp.training.checkpoint_set.save`)."""
    def payload(i):
        own = {name: [float(row[i]) for row in rows] for name, rows in history.items()}
        if models is None:
            mine = (params, opt_state)
        else:
            mine = jax.tree.map(operator.itemgetter(i), (params, opt_state))
        state = run | {"stopped": stopped[i], "stopping": trackers[i].state()}
        return dict(step=step, history=own, run=state, best_params=trackers[i].best_params,
                    model=model, params=mine[0], opt_state=mine[1])

    if models is None:
        save(path, **payload(0))
    else:
        epochs = len(history.get("loss", []))
        checkpoint_set.save(path, epochs, (checkpoint_bytes(**payload(i)) for i in range(models)))


def _files(resume: Any, models: int | None) -> list[Path]:
    """The checkpoint files to resume from: the one file, the members of the set the manifest
    ``resume`` commits, or a set written before manifests (``run.0.npz``, ... alone)."""
    if models is None:
        return checkpoint_paths(resume, None)
    try:
        members = checkpoint_set.members(resume, models)
    except (OSError, ValueError) as error:
        raise type(error)(f"resume: {error}") from None
    if members is not None:
        return members
    beyond = checkpoint_paths(resume, models + 1)[-1]
    if beyond.is_file():
        raise ValueError(
            f"resume: {beyond} exists: the checkpoints hold more than the {models} "
            "models of this call"
        )
    return checkpoint_paths(resume, models)


def compare_record(file, saved: dict, run: dict) -> None:
    """Refuse a resume whose run record differs from the checkpoint's (``ValueError`` naming the
    setting); warn when only the layout differs (:data:`LAYOUT`: the devices the arrays were
    split over), since the resumed result then equals the uninterrupted one within rounding.

    >>> compare_record("run.npz", {"loss": "sse"}, {"loss": "mse"})
    Traceback (most recent call last):
    ValueError: resume: checkpoint 'run.npz' was trained with loss='sse'; this call has ...
    """
    for name, value in run.items():
        was = saved.get(name, "(not recorded)")
        if name in STATE or was == value:
            continue
        if name == "optimizer_updates":  # a checkpoint from before the fingerprint: not compared
            if name not in saved or was is None or value is None:
                continue
            raise ValueError(f"resume: checkpoint {str(file)!r} was trained with another "
                             "optimizer: the optimizer's updates differ from the checkpoint's "
                             "(its first steps on a fixed gradient; a rate, β, ε, weight decay or "
                             "schedule differs); resuming would change the run")
        if name in LAYOUT:
            if name in saved:
                warnings.warn(f"resume: checkpoint {str(file)!r} was trained on {was} device(s), "
                              f"this call on {value}: the result equals the uninterrupted run to "
                              "float rounding, not bit for bit", UserWarning, stacklevel=2)
            continue
        what = "other training data" if name == "data" else f"{name}={was!r}"
        raise ValueError(f"resume: checkpoint {str(file)!r} was trained with {what}; this call "
                         f"has {name}={value!r}: resuming would change the run")


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
    compare_record(file, ckpt.run, run)
    try:
        return load(file, optimizer=opt)
    except (OSError, ValueError) as error:
        raise type(error)(f"resume: {error}") from None
