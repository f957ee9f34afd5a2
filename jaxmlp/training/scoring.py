"""Scoring trained models: the objective, accuracy and outputs of one model or N, one path.

The programs are written for one model; N stacked models are their ``jax.vmap`` (shared rows),
as in the epoch. Across processes each process scores its own rows and the sums are added up
(:func:`jaxmlp.parallel.processes.global_sums`).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from jaxmlp.core.backprop import objective_and_output
from jaxmlp.core.losses import penalty
from jaxmlp.core.programs import PROGRAMS
from jaxmlp.parallel import processes
from jaxmlp.parallel.layout import Layout
from jaxmlp.training.step import Config, count_correct

__all__ = ["outputs", "score"]


def score(c: Config, params, hyper: dict, x, t, models: int | None, metrics: tuple[str, ...],
          local: bool = True) -> dict:
    """``{"loss": ..., "accuracy": ...}``: floats for one model, ``(N,)`` arrays for N.

    ``hyper`` holds per-model penalty rates (``"l2"``, ``"l1"``, each ``(N,)``); without
    ``local``, the rows of every process count (a collective across processes)."""
    program = PROGRAMS.get(c.model, ("score", c, models, tuple(hyper)), lambda: _score(c, models))
    value, total, extra, correct = jax.device_get(program(params, hyper, x, t))
    rows = x.shape[0]
    lay = Layout()
    if not local and lay.processes:
        total, correct, rows = processes.global_sums(lay, float(total), int(correct), rows)
        value = (total / rows if c.reduction == "mean" else total) + float(extra)
    out = {"loss": np.asarray(value, np.float64)}
    if "accuracy" in metrics:
        out["accuracy"] = np.asarray(correct, np.float64) / rows
    return {k: float(v) for k, v in out.items()} if models is None else out


def outputs(model, params, x, models: int | None):
    """The network outputs ``(n, n_out)``, or ``(N, n, n_out)`` for N stacked models."""
    def build():
        def one(params, x):
            return jax.vmap(lambda xn: model.forward(params, xn)[1][-1])(x)

        return jax.jit(one if models is None else jax.vmap(one, in_axes=(0, None)))

    return PROGRAMS.get(model, ("outputs", models), build)(params, x)


def _score(c: Config, models: int | None):
    def one(params, hyper, x, t):
        h = dataclasses.replace(c, **hyper)
        value, out = objective_and_output(c.model, c.loss, c.reduction, params, x, t, h.l2, h.l1)
        total, _ = objective_and_output(c.model, c.loss, "sum", params, x, t)
        return value, total, penalty(params, h.l2, h.l1), count_correct(out, t)

    return jax.jit(one if models is None else jax.vmap(one, in_axes=(0, 0, None, None)))
