"""Every argument check, once: models, parameters, arrays, labels, keys, integers and rates.

The public functions of jaxmlp call these before any tracing, so that a bad argument raises a
``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong value) whose message
starts with the argument's name and states what was expected and what was given. Values cannot
be checked on a tracer (under ``jax.jit``): there the checks of shapes and dtypes still run and
those of values (NaN, label ranges) are skipped; the docstrings of the public functions say so.
"""

from __future__ import annotations

import contextvars
import math
import os
from numbers import Real
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from jaxmlp.core.activations import get_activation
from jaxmlp.core.losses import REDUCTIONS, get_loss
from jaxmlp.core.model import MLP, Params

__all__ = [
    "as_array", "check_finite", "check_fraction", "check_int", "check_key", "check_metrics", "check_model",
    "check_options", "check_output", "check_params", "check_rate", "check_reduction", "check_x", "prepare"]

Array = jax.Array
METRICS = ("accuracy",)
#: True while :func:`jaxmlp.backprop.checked` traces: value checks on tracers become checkify checks
STAGE_VALUE_CHECKS = contextvars.ContextVar("jaxmlp_stage_value_checks", default=False)


def check_model(model: Any, name: str = "model") -> MLP:
    """``model`` itself, if it is a :class:`jaxmlp.MLP`; else a ``TypeError``."""
    if not isinstance(model, MLP):
        raise TypeError(f"{name}: expected a jaxmlp.MLP, got {type(model).__name__}")
    return model


def check_key(key: Any, name: str = "key", batch: bool = False) -> Array:
    """One ``jax.random`` key (typed ``jax.random.key(s)`` or legacy ``uint32`` ``PRNGKey(s)``).

    With ``batch=True``, a 1-D batch of typed keys (``jax.random.split(key, N)``) or a ``(N, 2)``
    array of legacy ones. Returns ``key`` unchanged.

    >>> check_key(jax.random.key(0)).shape
    ()
    >>> check_key(0)
    Traceback (most recent call last):
    TypeError: key: expected one jax.random key such as jax.random.key(0), got int
    """
    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    typed = isinstance(key, jax.Array) and jnp.issubdtype(dtype, jax.dtypes.prng_key)
    legacy = isinstance(key, (jax.Array, np.ndarray)) and dtype == np.uint32
    if batch:
        ok = (typed and len(shape) == 1) or (legacy and len(shape) == 2 and shape[1] in (2, 4))
        if ok and shape[0] >= 1:
            return key
        want = "a batch of jax.random keys such as jax.random.split(jax.random.key(0), N)"
    else:
        if (typed and shape == ()) or (legacy and shape in ((2,), (4,))):
            return key
        want = "one jax.random key such as jax.random.key(0)"
    got = type(key).__name__ + (f" of shape {shape}" if shape is not None else "")
    raise TypeError(f"{name}: expected {want}, got {got}")


def check_int(name: str, value: Any, low: int) -> int:
    """An integer ``>= low`` (``TypeError`` for a non-integer or bool, ``ValueError`` below ``low``).

    >>> check_int("epochs", 0, 1)
    Traceback (most recent call last):
    ValueError: epochs: expected an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer >= {low}, got {value!r} ({type(value).__name__})")
    if value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def check_rate(name: str, value: Any) -> float:
    """A finite number ``>= 0`` (a penalty rate such as ``l2``); a tracer passes unchecked.

    >>> check_rate("l2", float("inf"))
    Traceback (most recent call last):
    ValueError: l2: expected a finite number >= 0, got inf
    """
    if isinstance(value, jax.core.Tracer):
        return value
    if isinstance(value, (jax.Array, np.ndarray)) and np.ndim(value) == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}: expected a finite number >= 0, got {value!r} ({type(value).__name__})")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return float(value)


def check_fraction(name: str, value: Any) -> float:
    """A number strictly between 0 and 1 (a validation share, say)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}: expected a fraction strictly between 0 and 1, got {value!r} "
                        f"({type(value).__name__})")
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name}: expected a fraction strictly between 0 and 1, got {value!r}")
    return float(value)


def as_array(name: str, value: Any, xp: Any = jnp) -> Array:
    """``xp.asarray(value)`` (``xp`` is ``jnp`` or ``np``), or a ``TypeError`` naming ``name`` when
    it is not numeric."""
    try:
        array = xp.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: expected a numeric array, got {type(value).__name__} "
                        f"({' '.join(str(error).split())[:120]})") from None
    if not (jnp.issubdtype(array.dtype, jnp.number) or array.dtype == jnp.bool_):
        raise TypeError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    return array


def check_x(model: MLP, x: Any, name: str = "x") -> Array:
    """Inputs ``(n, n_in)`` for ``model``: floating point, the right width, finite (as an array)."""
    x = as_array(name, x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name}: expected floating-point inputs, got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[1] != model.sizes[0]:
        raise ValueError(f"{name}: expected shape (n, {model.sizes[0]}), got {x.shape}")
    check_finite(name, x)
    return x


def check_finite(name: str, array: Any) -> None:
    """A ``ValueError`` naming ``name`` and the first bad row when ``array`` holds NaN or ±inf.

    Skipped for a tracer (values are unknown under ``jax.jit``; staged as a ``checkify`` check
    inside :func:`jaxmlp.backprop.checked`) and for a global array spread over several processes
    (each process checks its own rows before building it).
    """
    if _unreadable(array):
        if _staged(array):
            checkify.check(jnp.all(jnp.isfinite(array)), f"{_braces(name)}: contains NaN or infinity")
        return
    finite = np.isfinite(np.asarray(array))
    if not finite.all():
        where = np.argwhere(~finite)[0]
        at = f"row {int(where[0])}" if finite.ndim > 1 else f"entry {int(where[0])}" if finite.ndim else ""
        raise ValueError(f"{name}: contains NaN or infinity{f' (first in {at})' if at else ''}")


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


def check_options(verbose: Any, on_epoch_end: Any, early_stopping: Any) -> None:
    """``fit``'s plain options: ``verbose`` 0/1/2, a callable ``on_epoch_end``, an ``EarlyStopping``."""
    from jaxmlp.training.stopping import EarlyStopping  # stopping sits above this module
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose: expected 0, 1 or 2, got {verbose!r}")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(f"on_epoch_end: expected a callable (epoch, logs), got {on_epoch_end!r}")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping: expected a jaxmlp.EarlyStopping, got {early_stopping!r}")


def check_params(model: MLP, params: Params, name: str = "params", finite: bool = True) -> Any:
    """Check that ``params`` fits ``model`` (one dict per layer, right shapes, float leaves, and
    finite values unless ``finite=False``: :meth:`MLP.apply` checks the structure alone).

    Returns the parameters' float dtype.
    """
    check_model(model)
    if not isinstance(params, (list, tuple)) or len(params) != model.num_layers:
        got = f"{len(params)} entries" if isinstance(params, (list, tuple)) else type(params).__name__
        raise ValueError(f"{name}: expected a list of {model.num_layers} layer dicts "
                         f"(one per layer of {model.sizes}), got {got}")
    dtype = None
    for i, layer in enumerate(params):
        fan_in, fan_out = model.sizes[i], model.sizes[i + 1]
        expected = {"w": (fan_out, fan_in), "b": (fan_out,)}
        if get_activation(model.activations[i]).parametric:
            expected["a"] = (fan_out,)
        if not isinstance(layer, dict) or set(layer) != set(expected):
            keys = sorted(layer) if isinstance(layer, dict) else type(layer).__name__
            raise ValueError(f"{name}[{i}]: expected keys {sorted(expected)}, got {keys}")
        for leaf, shape in expected.items():
            value = as_array(f"{name}[{i}][{leaf!r}]", layer[leaf])
            if tuple(value.shape) != shape:
                raise ValueError(f"{name}[{i}][{leaf!r}]: expected shape {shape} (fan_out, fan_in) "
                                 f"of layer {i}, got {tuple(value.shape)}")
            if not jnp.issubdtype(value.dtype, jnp.floating):
                raise TypeError(f"{name}[{i}][{leaf!r}]: expected a float dtype, got {value.dtype}")
            if finite:
                check_finite(f"{name}[{i}][{leaf!r}]", layer[leaf])
            dtype = dtype or value.dtype
    return dtype


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
    xp = jnp if _unreadable(x) or _unreadable(t) else np
    x, t = as_array(xname, x, xp), as_array(tname, t, xp)
    n_in, n_out = model.sizes[0], model.sizes[-1]
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{xname}: expected floating-point inputs, got dtype {x.dtype} (scale to [0, 1])")
    if x.ndim == 1 and x.shape == (n_in,):
        x, t = x[None], t[None]
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ValueError(f"{xname}: expected shape (B, {n_in}) for a network of input size {n_in}, "
                         f"got {x.shape}")
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
        raise ValueError(f"{tname}: expected shape ({batch}, {n_out}) or integer labels ({batch},), "
                         f"got {t.shape}")
    check_finite(xname, x)
    check_finite(tname, t)
    return jnp.asarray(x.astype(dtype)), jnp.asarray(t.astype(dtype))


def _unreadable(array) -> bool:
    return isinstance(array, jax.core.Tracer) or (
        isinstance(array, jax.Array) and not array.is_fully_addressable)


def _staged(array) -> bool:
    return isinstance(array, jax.core.Tracer) and STAGE_VALUE_CHECKS.get()


def _braces(text: str) -> str:  # checkify formats its message with str.format
    return text.replace("{", "{{").replace("}", "}}")


def _check_labels(name, t, num_classes):
    if _unreadable(t):
        if _staged(t):
            bad = (t < 0) | (t >= num_classes)
            checkify.check(~jnp.any(bad), f"{_braces(name)}: labels must lie in [0, {num_classes - 1}] for "
                           f"{num_classes} classes, got {{}}", t[jnp.argmax(bad)])
        return
    tn = np.asarray(t)
    if tn.size and (tn.min() < 0 or tn.max() >= num_classes):
        bad = tn[(tn < 0) | (tn >= num_classes)][0]
        raise ValueError(f"{name}: labels must lie in [0, {num_classes - 1}] for {num_classes} classes, "
                         f"got {bad}")
