"""The checks of plain values, shared by every layer: keys, integers, rates, arrays, finiteness.

Each raises a ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong value) whose
message starts with the argument's name, then what was expected and what was given:
``name: expected …, got …``. Nothing here knows about models (:mod:`jaxmlp.core.checks` does).
Three helpers that both modules' checks share come last: :func:`readable` (may a value check run
here), :func:`staged` (is it staged for ``checkify`` instead) and :func:`escape_braces`.
"""

from __future__ import annotations

import contextvars
import math
from numbers import Real
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from jaxmlp.core.memory import check_fits

__all__ = ["STAGE_VALUE_CHECKS", "as_array", "check_finite", "check_fraction", "check_int",
           "check_key", "check_rate", "check_rows", "escape_braces", "readable", "staged"]

Array = jax.Array
#: True while :func:`jaxmlp.checked` traces: value checks on tracers become checkify checks
STAGE_VALUE_CHECKS = contextvars.ContextVar("jaxmlp_stage_value_checks", default=False)


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
    """An integer ``>= low``.

    A ``TypeError`` for a non-integer or bool, a ``ValueError`` below ``low``.

    >>> check_int("epochs", 0, 1)
    Traceback (most recent call last):
    ValueError: epochs: expected an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{name}: expected an integer >= {low}, got {value!r} ({type(value).__name__})"
        )
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
        raise TypeError(
            f"{name}: expected a finite number >= 0, got {value!r} ({type(value).__name__})"
        )
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


def check_finite(name: str, array: Any) -> None:
    """A ``ValueError`` naming ``name`` and the first bad row when ``array`` holds NaN or ±inf.

    An array too large for the device is a ``MemoryError`` naming ``name`` and its size first
    (:func:`jaxmlp.core.memory.check_fits`), before anything is allocated. Skipped for a tracer
    (values are unknown under ``jax.jit``; staged as a ``checkify`` check inside
    :func:`jaxmlp.checked`) and for a global array spread over several processes (each process
    checks its own rows before building it).
    """
    if not readable(array):
        if staged(array):
            message = f"{escape_braces(name)}: contains NaN or infinity"
            checkify.check(jnp.all(jnp.isfinite(array)), message)
        return
    host = np.asarray(array)  # no copy for a NumPy array or a view of one
    # sized before anything is allocated: a zero-copy view of terabytes would fail in NumPy
    shape = " × ".join(f"{n:,}" for n in host.shape) or "one"
    check_fits(name, host.size * host.dtype.itemsize, f"its {shape} {host.dtype} values")
    finite = np.isfinite(host)
    if not finite.all():
        where = np.argwhere(~finite)[0]
        if finite.ndim > 1:
            at = f"row {int(where[0])}"
        elif finite.ndim:
            at = f"entry {int(where[0])}"
        else:
            at = ""
        raise ValueError(f"{name}: contains NaN or infinity{f' (first in {at})' if at else ''}")


def check_rows(name: str, shape: tuple, width: int, one: bool = False) -> None:
    """A ``ValueError`` unless ``shape`` is ``(B, width)`` (or ``(width,)`` with ``one``): rows of
    a network's inputs.

    >>> check_rows("x", (3, 5), 4)
    Traceback (most recent call last):
    ValueError: x: expected shape (B, 4) for a network of input size 4, got (3, 5)
    """
    if (len(shape) == 2 and shape[1] == width) or (one and tuple(shape) == (width,)):
        return
    single = f" or ({width},)" if one else ""
    raise ValueError(f"{name}: expected shape (B, {width}){single} for a network of input size "
                     f"{width}, got {tuple(shape)}")


def readable(array: Any) -> bool:
    """Whether ``array``'s values can be read here: not a tracer (under ``jax.jit``) and not a
    global array spread over several processes. A value check runs only on a readable array.

    >>> readable(jnp.zeros(2)), readable(np.zeros(2))
    (True, True)
    """
    return not isinstance(array, jax.core.Tracer) and not (
        isinstance(array, jax.Array) and not array.is_fully_addressable)


def staged(array: Any) -> bool:
    """Whether a value check on ``array`` is staged as a ``checkify`` check: ``array`` is a tracer
    and :func:`jaxmlp.checked` is tracing (:data:`STAGE_VALUE_CHECKS`).

    >>> staged(jnp.zeros(2))
    False
    """
    return isinstance(array, jax.core.Tracer) and STAGE_VALUE_CHECKS.get()


def escape_braces(text: str) -> str:
    """``text`` with its braces doubled, for a ``checkify`` message (formatted by ``str.format``).

    >>> escape_braces("validation_data[{0}]")
    'validation_data[{{0}}]'
    """
    return text.replace("{", "{{").replace("}", "}}")
