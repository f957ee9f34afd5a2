"""A run described once: the one builder behind ``fit``, ``fit_many`` and their process doors.

:func:`fit` (one model), :func:`fit_many` (N stacked models) and ``fit_as_processes`` /
``fit_many_as_processes`` (P processes simulated in one) are thin doors: each passes the user's
keywords to :func:`train_run`, which checks them, places the data, agrees with the other
processes, describes the :class:`~jaxmlp.training.loop.Run` by keyword, trains it and returns the
parameters and the :class:`~jaxmlp.History`. ``models=None`` is one unstacked model; N is N
stacked models (per-model rates, folds).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.core.checks import prepare
from jaxmlp.core.params import check_params
from jaxmlp.core.values import check_int, check_rate
from jaxmlp.data.folds import fold_rows
from jaxmlp.parallel import processes
from jaxmlp.parallel.devices import make_mesh
from jaxmlp.parallel.layout import Layout, models_mesh
from jaxmlp.training.history import History, run_history
from jaxmlp.training.loop import Run, train
from jaxmlp.training.optimizer_record import optimizer_settings
from jaxmlp.training.optimizers import get_optimizer, init_state, many_optimizer
from jaxmlp.training.resume import record
from jaxmlp.training.setup import agreed_settings, check_peak, key_data, options, split_data
from jaxmlp.training.step import make_config

__all__ = ["door_keywords", "model_rates", "train_run"]


def door_keywords(door: Callable, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every keyword of ``door`` (``fit`` or ``fit_many``), ``kwargs`` over its defaults.

    The ``*_as_processes`` doors take the same keywords as their door; an unknown one is a
    ``TypeError`` naming it, as the door itself would raise.
    """
    signature = inspect.signature(door)
    keywords = {name: p.default for name, p in signature.parameters.items()
                if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(kwargs) - set(keywords))
    if unknown:
        raise TypeError(f"{door.__name__}() got an unexpected keyword argument {unknown[0]!r}")
    return {**keywords, **kwargs}


@processes.agreed_first  # an error before the agreement reaches every process
def train_run(model, params, x, t, *, models: int | None, shards: int | None = None,
              optimizer, learning_rate=None, l2, l1, folds=None, loss, epochs, batch_size,
              validation_split, validation_data, metrics, key, grad, reduction, early_stopping,
              checkpoint, resume, verbose, shuffle, devices, mesh, on_epoch_end,
              strict: bool = False) -> tuple[Any, History]:
    """Check, place, agree, describe and train one run; ``(params, history)``.

    The arguments are :func:`jaxmlp.fit_many`'s (``fit``'s with ``models=None``); ``shards=P``
    trains in one process exactly as P processes would, each holding one of P equal consecutive
    parts of ``(x, t)`` (:mod:`jaxmlp.parallel.processes`).
    """
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves((params, x, t))):
        raise TypeError("fit: expected concrete arrays, got tracers (fit loops over epochs in "
                        "Python, prints and writes files); jit the step instead: "
                        "jaxmlp.make_train_step(model, ...)")
    if models is None:
        opt, rates = get_optimizer(optimizer), None
    else:
        opt, rates = many_optimizer(optimizer, learning_rate, models)
    l2, l1 = model_rates("l2", l2, models), model_rates("l1", l1, models)
    per_model = {k: v for k, v in (("l2", l2), ("l1", l1)) if np.ndim(v)}
    config = make_config(model, loss, opt, grad, reduction, 0.0 if np.ndim(l2) else l2,
                         0.0 if np.ndim(l1) else l1)
    checked = options(epochs, batch_size, metrics, key, checkpoint, verbose, on_epoch_end,
                      early_stopping)
    mesh = make_mesh(devices, mesh)
    if models is None or jax.process_count() > 1 or shards is not None:  # rows over devices
        layout = processes.layout(shards, mesh, checked["batch_size"])
    else:  # the models split over the devices
        layout = Layout(1, models_mesh(mesh, models))
    first = params if models is None else jax.tree.map(lambda a: a[0], params)
    if models is None:
        check_params(model, params)
    described = optimizer_settings(model, optimizer, opt, first, models, rates, resume)
    if layout.processes:  # every process's settings, compared before any collective
        agreed = agreed_settings(model, params, config, checked, validation_split, resume, shuffle,
                                 early_stopping, described)
        if models is not None:
            agreed |= {"folds": folds, "rates": [list(np.ravel(l2)), list(np.ravel(l1))]}
        processes.agree(layout, agreed, x, t, validation_data, lambda xs, ts, names: prepare(
            model, first, xs, ts, config.loss, config.reduction, config.l2, config.l1, names))
    if folds is not None:
        folds = _check_folds(folds, models, validation_split, validation_data)
    data = split_data(layout, model, first, x, t, config, validation_split, validation_data,
                      hold=folds is None)
    rows, n, own = None, data.m * layout.shards, None
    if folds is not None:
        if n < folds:
            raise ValueError(f"folds: expected at least {folds} rows for {folds} folds, got {n}")
        if layout.shards > 1:
            raise ValueError(f"folds: expected the rows of one process, got {layout.shards} "
                             "shards (k-fold models do not train across processes yet)")
        train_rows, val_rows = fold_rows(n, folds)
        if n % folds:  # folds of unequal size: each model's own counts (Run.ragged)
            own = tuple(np.array([len(r) for r in rs]) for rs in (train_rows, val_rows))
        rows, val_rows = _padded(train_rows), _padded(val_rows)
        data.validation, data.n_val = (layout.put_shared(val_rows),), val_rows.shape[1]
        data.described, n = f"folds={folds}", rows.shape[1]
    validation = "folds" if folds is not None else (
        "validation_data" if validation_data is not None else "validation_split")
    check_peak(layout, model, opt, first, checked["batch_size"], data, n, models, validation)
    names = data.names(checked["metrics"])
    if early_stopping is not None:
        early_stopping.check_monitor(names)
    settings = record(batch_size=checked["batch_size"], shuffle=bool(shuffle),
                      key=key_data(checked["key"]), data=data.digest, loss=loss,
                      reduction=reduction, l2=l2 if models else config.l2,
                      l1=l1 if models else config.l1, **described, validation=data.described,
                      metrics=list(checked["metrics"]), models=models, shards=layout.shards,
                      devices=1 if layout.mesh is None else int(layout.mesh.devices.size))
    hyper = {}
    if models is not None:
        hyper = layout.put_shared({k: jnp.asarray(v, data.x.dtype) for k, v in per_model.items()})
    run = Run(config=config, opt=opt, layout=layout, x=data.x, t=data.t,
              validation=data.validation, rows=rows, m=n if rows is not None else data.m,
              n=n if own is None else own[0], n_val=data.n_val if own is None else own[1],
              batch_size=checked["batch_size"], epochs=checked["epochs"],
              shuffle=bool(shuffle), key=checked["key"], names=names, models=models, hyper=hyper,
              early_stopping=early_stopping, verbose=verbose, on_epoch_end=on_epoch_end,
              checkpoint=checked["checkpoint"], resume=resume, record=settings, strict=strict)
    prepare_state = (lambda s: s) if models is None else (lambda s: init_state(opt, None, rates, s))
    with processes.together(checked["checkpoint"]):  # a peer that stops: one line
        params, history, changing, stopped = train(run, params, prepare_state)
    processes.finish(layout, checked["checkpoint"])
    kept = {k: settings[k] for k in ("batch_size", "shuffle", "key", "data")}
    steps = run.steps() if run.ragged else math.ceil(n / checked["batch_size"])
    if models is None:
        values = {name: [float(v[0]) for v in column] for name, column in history.items()}
        return params, run_history(values, changing, config, optimizer, epochs=checked["epochs"],
                                   steps=steps, rows=n, **kept)
    return params, run_history(history, changing, config, optimizer, stopped,
                               epochs=checked["epochs"], steps=steps, rows=run.n, models=models,
                               learning_rate=learning_rate, l2=l2, l1=l1, **kept, folds=folds)


def _check_folds(folds, models, validation_split, validation_data) -> int:
    folds = check_int("folds", folds, 2)
    if folds != models:
        raise ValueError(f"folds: expected one model per fold, {models} (the stacked models), "
                         f"got folds={folds}")
    if validation_split or validation_data is not None:
        raise ValueError("folds: each model validates on its own fold; expected no "
                         "validation_split or validation_data")
    return folds


def _padded(rows: list[np.ndarray]) -> np.ndarray:
    """``(k, longest)`` int32: each fold's row indices, padded with -1 to the longest."""
    out = np.full((len(rows), max(len(r) for r in rows)), -1, np.int32)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def model_rates(name: str, value: Any, models: int | None) -> float | np.ndarray:
    """One rate for every model (a float), or (N models) one rate per model, ``(N,)``."""
    if isinstance(value, (list, tuple, np.ndarray, jax.Array)) and np.ndim(value) == 1:
        if models is None:
            raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
        if len(value) != models:
            raise ValueError(f"{name}: expected a number or one rate per model ({models}), got "
                             f"{len(value)}")
        return np.array([check_rate(f"{name}[{i}]", v) for i, v in enumerate(value)])
    return check_rate(name, value)
