"""The argument checks that know a model: inputs, targets and labels, metrics, output paths.

(Plain values, keys, integers and rates: :mod:`jaxmlp.core.values`; a model's parameters:
:func:`jaxmlp.core.params.check_params`.) The public functions of jaxmlp call these before any
tracing, so that a bad argument raises a
``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong value) whose message
starts with the argument's name and states what was expected and what was given. Values cannot
be checked on a tracer (under ``jax.jit``): there the checks of shapes and dtypes still run and
those of values (NaN, label ranges) are skipped; the docstrings of the public functions say so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from jaxmlp.core.losses import REDUCTIONS, get_loss
from jaxmlp.core.model import MLP
from jaxmlp.core.params import check_params
from jaxmlp.core.values import (
    as_array,
    check_finite,
    check_rate,
    check_rows,
    escape_braces,
    readable,
    staged,
)

__all__ = ["METRICS", "check_metrics", "check_model", "check_output", "check_reduction", "check_x",
           "prepare"]

Array = jax.Array
METRICS = ("accuracy",)


def check_model(model: Any, name: str = "model") -> MLP:
    """``model`` itself, if it is a :class:`jaxmlp.MLP`; else a ``TypeError``."""
    if not isinstance(model, MLP):
        raise TypeError(f"{name}: expected a jaxmlp.MLP, got {type(model).__name__}")
    return model


def check_x(model: MLP, x: Any, name: str = "x") -> Array:
    """Inputs ``(n, n_in)`` for ``model``: floating point, the right width, finite (as an array)."""
    x = as_array(name, x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name}: expected floating-point inputs, got dtype {x.dtype}")
    check_rows(name, x.shape, model.sizes[0])
    check_finite(name, x)
    return x


def check_output(name: str, path: Any, suffix: str | None = None) -> Path:
    """A path a file can be written to, checked before any work: its suffix, its folder (created
    if missing) writable, and not itself a folder. Returns it as a ``Path``."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"{name}: expected a file path, got {path!r}")
    path = Path(path)
    if suffix is not None and path.suffix != suffix:
        raise ValueError(f"{name}: expected a {suffix} file, got {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"{name}: {str(path)!r} is a folder, expected a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"{name}: cannot create the folder {str(path.parent)!r}: "
                         f"{error.strerror or error}") from None
    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"{name}: the folder {str(path.parent)!r} is not writable")
    return path


def check_reduction(reduction: Any) -> str:
    """``"mean"`` or ``"sum"`` (how a batch's per-example losses are reduced)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def check_metrics(metrics: Any) -> tuple[str, ...]:
    """The metric names as a tuple (a single name is accepted); each one of :data:`METRICS`."""
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"metrics: expected names from {METRICS}, got {m!r}")
    return metrics


def prepare(model, params, x, t, loss="categorical_crossentropy", reduction="mean", l2=0.0, l1=0.0,
            names=("x", "t")):
    """Check every argument and return ``(x (B, n_in), t (B, n_out))`` in the parameters' dtype.

    Integer (or bool) labels ``(B,)`` become one-hot rows (or a column when ``n_out == 1``).
    ``names`` are the names the errors use for ``x`` and ``t`` (``validation_data`` passes its own).
    Raises ``TypeError`` / ``ValueError`` naming the argument, the expected and the actual value.
    """
    check_model(model)
    get_loss(loss)
    check_reduction(reduction)
    check_rate("l2", l2)
    check_rate("l1", l1)
    dtype = check_params(model, params)
    xname, tname = names
    # on the host with NumPy where the values are readable: no compilation per new shape
    xp = np if readable(x) and readable(t) else jnp
    x, t = as_array(xname, x, xp), as_array(tname, t, xp)
    n_in, n_out = model.sizes[0], model.sizes[-1]
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"{xname}: expected floating-point inputs, got dtype {x.dtype} (scale to [0, 1])"
        )
    if x.ndim == 1 and x.shape == (n_in,):
        x, t = x[None], t[None]
    check_rows(xname, x.shape, n_in)
    batch = x.shape[0]
    if batch == 0:
        raise ValueError(f"{xname}: the batch is empty")
    if jnp.issubdtype(t.dtype, jnp.integer) or t.dtype == jnp.bool_:
        if t.shape == (batch,):
            t = t.astype(np.int32)
            _check_labels(tname, t, 2 if n_out == 1 else n_out)
            t = t[:, None] if n_out == 1 else (t[:, None] == xp.arange(n_out)[None, :])
    if t.shape == (batch,) and n_out == 1:
        t = t[:, None]
    if t.shape != (batch, n_out):
        raise ValueError(
            f"{tname}: expected shape ({batch}, {n_out}) or integer labels ({batch},), "
            f"got {t.shape}"
        )
    check_finite(xname, x)
    check_finite(tname, t)
    return jnp.asarray(x.astype(dtype)), jnp.asarray(t.astype(dtype))


def _check_labels(name, t, num_classes):
    if not readable(t):
        if staged(t):
            bad = (t < 0) | (t >= num_classes)
            message = (
                f"{escape_braces(name)}: labels must lie in [0, {num_classes - 1}] for "
                f"{num_classes} classes, got {{}}"
            )
            checkify.check(~jnp.any(bad), message, t[jnp.argmax(bad)])
        return
    tn = np.asarray(t)
    if tn.size and (tn.min() < 0 or tn.max() >= num_classes):
        bad = tn[(tn < 0) | (tn >= num_classes)][0]
        raise ValueError(
            f"{name}: labels must lie in [0, {num_classes - 1}] for {num_classes} classes, "
            f"got {bad}"
        )
