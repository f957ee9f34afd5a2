"""The host loop of every training run, for one model or N, on one device or many processes.

:func:`train` runs named steps: start (fresh or :mod:`resume <jaxmlp.training.resume>`), then per
epoch: run the compiled epoch, stop a diverged model at its last finite parameters (replay),
record the history, report, checkpoint, stop early. :func:`jaxmlp.fit` is the one-model case,
:func:`jaxmlp.fit_many` the N-model case; both describe their run as a :class:`Run` first.

One model is an unstacked pytree (``models=None``); its statistics are read as one-model
arrays, so the loop has one path. A diverging model among N stops alone: it is frozen at its
last finite parameters (an epoch replayed up to the failed step), marked in ``stopped``, and the
others train on; :class:`~jaxmlp.TrainingError` ends the run when no model is left (or with one
model, or ``strict``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.parallel.layout import Layout
from jaxmlp.training import resume as checkpoints
from jaxmlp.training.epoch import Plan, epoch_program, shuffle_order
from jaxmlp.training.history import hyperparameters
from jaxmlp.training.progress import Progress
from jaxmlp.training.step import Config
from jaxmlp.training.stopping import EarlyStopping, TrainingError
from jaxmlp.training.writer import writing

__all__ = ["Run", "train"]


@dataclasses.dataclass
class Run:
    """Everything a training run is, checked and placed (built by ``fit`` and ``fit_many``)."""

    config: Config
    opt: Any  # the optax transformation (stacked states for N models)
    layout: Layout
    x: Any  # training rows on the layout, (P m, n_in); t likewise
    t: Any
    validation: tuple  # (x_val, t_val), (val_rows,) per model with folds, or ()
    rows: np.ndarray | None  # (N, n) each model's own training rows (folds), or None
    m: int  # rows per shard in the epoch's order
    n: int | np.ndarray  # training rows per model (all shards); (N,) for folds of unequal size
    n_val: int | np.ndarray | None  # validation rows per model; (N,) likewise
    batch_size: int
    epochs: int
    shuffle: bool
    key: jax.Array
    names: list[str]  # the history's columns
    models: int | None = None  # None: one unstacked model
    hyper: dict = dataclasses.field(default_factory=dict)  # per-model Config fields, (N,) each
    early_stopping: EarlyStopping | None = None
    verbose: int = 1
    on_epoch_end: Callable | None = None
    checkpoint: Path | None = None
    resume: Any = None
    record: dict = dataclasses.field(default_factory=dict)  # what checkpoints record
    strict: bool = False  # N models: a diverging model ends the run

    @property
    def ragged(self) -> bool:
        """Folds of unequal size: ``rows`` and the validation rows padded with -1 to the longest,
        ``n`` and ``n_val`` each model's own count."""
        return np.ndim(self.n) == 1

    def plan(self, masked: bool) -> Plan:
        return Plan(self.m * self.layout.shards, self.batch_size, bool(self.validation),
                    self.verbose == 1 and self.layout.writes, masked, self.models,
                    self.rows is not None, self.ragged, tuple(self.hyper), self.layout.batches)

    def steps(self) -> np.ndarray:
        """Each model's steps per epoch, ``(N,)`` (``(1,)`` for one model): the plan's, or with
        ragged folds ``ceil(n_i / batch_size)``, so a model whose batch is all padding stops."""
        if self.ragged:
            return -(-self.n // self.batch_size)
        return np.full(self.models or 1, self.plan(False).steps)


def train(run: Run, params: Any, prepare_state: Callable = lambda s: s):
    """Train; ``(params, history, per_epoch, stopped)``: the final parameters (the best epoch's
    under ``restore_best``), ``{name: [(N,) per epoch]}``, the optimizer's per-epoch
    hyperparameters and, per model, ``None`` or how it stopped. The process that writes the
    checkpoints holds their path for the whole run (:mod:`jaxmlp.training.writer`): a second
    run given it meanwhile is refused before it starts."""
    with writing(run.checkpoint if run.layout.writes else None):
        return _train(run, params, prepare_state)


def _train(run: Run, params: Any, prepare_state: Callable):
    c, lay, count = run.config, run.layout, run.models or 1
    params, opt_state, history, stopped, trackers = checkpoints.start(
        run.resume, c.model, run.opt, params, run.models, run.record, run.early_stopping)
    if run.checkpoint is not None and lay.writes:
        checkpoints.remove_temporaries(run.checkpoint, run.models, alone=not lay.processes)
    params, opt_state = lay.put_state((params, prepare_state(opt_state)))
    history = {name: list(history.get(name, [])) for name in run.names}
    active = np.array([s is None for s in stopped])
    steps, own_steps = run.plan(False).steps, run.steps()
    progress = Progress(steps, run.verbose if lay.writes else 0)
    changing = []  # per epoch: the optimizer's injected hyperparameters
    for epoch in range(len(history["loss"]), run.epochs):
        if not active.any():
            break
        progress.start(epoch, run.epochs)
        order = _order(run, epoch)
        start = (params, opt_state)  # for a replay (the epoch keeps its inputs)
        limit = np.where(active, own_steps, 0).astype(np.int32)
        params, opt_state, stats = _epoch(run, params, opt_state, limit, order, progress,
                                          masked=bool((limit < steps).any()))
        failed = np.flatnonzero((stats["bad_step"] >= 0) & active)
        if failed.size:
            params, opt_state, stats = _stop_diverged(run, start, limit, order, progress, stats,
                                                      failed, epoch, stopped, active)
        row = _history_row(run, stats, active)
        for name in run.names:
            history[name].append(row[name])
        changing.append(hyperparameters(opt_state))
        logs = {k: (v[0] if run.models is None else v) for k, v in row.items()}
        progress.end({k: float(np.nanmean(v)) for k, v in row.items()})
        if run.on_epoch_end is not None:
            run.on_epoch_end(epoch, logs)
        if run.early_stopping is not None:
            for i in np.flatnonzero(active):
                own = {k: [row[k][i]] for k in run.names}
                if trackers[i].update(own, _take(run, params, i), epoch + 1):
                    active[i] = False
                    stopped[i] = {"epoch": epoch + 1, "step": None, "reason": "early stopping"}
        if run.checkpoint is not None and lay.writes:  # process 0 only; the same files for all
            checkpoints.save_run(run.checkpoint, c.model, *lay.local((params, opt_state)),
                                 (epoch + 1) * steps, history, run.record, run.models, stopped,
                                 trackers)
    params = lay.local(params)
    if run.early_stopping is not None and run.early_stopping.restore_best:
        finals = [trackers[i].final(_take(run, params, i)) for i in range(count)]
        params = finals[0] if run.models is None else _stack(finals)
    return params, history, changing, stopped


def _order(run: Run, epoch: int):
    if run.ragged:
        return run.layout.put_shared(_ragged_order(run, epoch))
    order = run.layout.order(run.key, epoch, run.m, run.shuffle, run.batch_size, shuffle_order)
    if run.rows is not None:
        order = run.rows[:, order]
    return run.layout.put_shared(order)


def _ragged_order(run: Run, epoch: int) -> np.ndarray:
    """``(N, m)``: model i's own rows in ``shuffle_order(key, epoch, n_i)`` (as ``fit`` on those
    rows visits them), then its padding (-1)."""
    order = np.full(run.rows.shape, -1, np.int32)
    draws = {n: shuffle_order(run.key, epoch, n, run.shuffle) for n in set(run.n.tolist())}
    for i, n in enumerate(run.n.tolist()):
        order[i, :n] = run.rows[i, draws[n]]
    return order


def _epoch(run, params, opt_state, limit, order, progress, masked):
    program = epoch_program(run.config, run.plan(masked))
    limit = limit[0] if run.models is None else limit
    params, opt_state, stats = program(params, opt_state, run.hyper, run.layout.put_shared(limit),
                                       run.x, run.t, order, np.int32(progress.id), run.validation)
    stats = jax.device_get(stats)
    return params, opt_state, {k: np.atleast_1d(np.asarray(v)) for k, v in stats.items()}


def _stop_diverged(run, start, limit, order, progress, stats, failed, epoch, stopped, active):
    """Replay the epoch from its start with each failed model stopped before its bad step; freeze
    them there (or raise :class:`TrainingError` when no model is left, one model, or strict)."""
    bad = stats["bad_step"]
    while True:  # a replay that finds another model failing replays again
        limit = np.where(np.isin(np.arange(limit.size), failed), bad, limit).astype(np.int32)
        params, opt_state, stats = _epoch(run, *start, limit, order, progress,
                                          masked=True)
        more = np.flatnonzero((stats["bad_step"] >= 0) & active & (limit > 0))
        if not more.size:
            break
        failed = np.union1d(failed, more)
        bad = np.where(stats["bad_step"] >= 0, stats["bad_step"], bad)
    for i in failed:
        active[i] = False
        stopped[i] = {"epoch": epoch + 1, "step": int(bad[i]) + 1, "reason": "non-finite loss"}
    if run.models is None or run.strict or not active.any():
        first = min(int(bad[i]) for i in failed)
        where = f"at epoch {epoch + 1}, step {first + 1}"
        if run.models is not None:  # every diverged model (all of them, or strict's failures)
            which = failed if run.strict else [i for i, s in enumerate(stopped)
                                               if s and s["reason"] == "non-finite loss"]
            where = f"in models {[int(i) for i in which]} (" + "; ".join(
                f"model {i} at epoch {stopped[i]['epoch']}, step {stopped[i]['step']}"
                for i in which) + ")"
        last = jax.device_get(run.layout.local(params))
        message = f"non-finite loss {where}; the last finite parameters are in this error's .params"
        raise TrainingError(message, last, epoch + 1, first + 1)
    return params, opt_state, stats


def _history_row(run: Run, stats: dict, active: np.ndarray) -> dict[str, np.ndarray]:
    """One epoch's entries, ``(N,)`` each; NaN for the models that had stopped or diverged."""
    row = {"loss": stats["loss"] / run.n, "accuracy": stats["correct"] / run.n}
    if run.validation:
        row |= {"val_loss": stats["val_loss"], "val_accuracy": stats["val_correct"] / run.n_val}
    return {k: np.where(active, np.asarray(row[k], np.float64), np.nan) for k in run.names}


def _take(run: Run, params: Any, i: int) -> Any:
    return params if run.models is None else jax.tree.map(lambda a: a[i], params)


def _stack(trees: list) -> Any:
    return jax.tree.map(lambda *leaves: jnp.stack([jnp.asarray(a) for a in leaves]), *trees)
