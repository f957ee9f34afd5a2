"""The parameters' structure rule: what a model's parameter pytree must look like.

``params`` for a model of sizes ``(n_0, ..., n_L)`` is a list of ``L`` layer dicts, layer ``l``
holding ``"w"`` of shape ``(n_{l+1}, n_l)`` (fan_out, fan_in), ``"b"`` of shape ``(n_{l+1},)``
and, for a PReLU layer, its slopes ``"a"`` of shape ``(n_{l+1},)``; every leaf a float array.
:meth:`jaxmlp.MLP.init` draws such a list and :meth:`jaxmlp.MLP.apply` checks it with
:func:`check_params`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.core.activations import get_activation
from jaxmlp.core.memory import check_fits
from jaxmlp.core.values import as_array, check_finite

__all__ = ["check_params"]


def check_params(model: Any, params: Any, name: str = "params", finite: bool = True) -> Any:
    """Check that ``params`` fits ``model``; return the parameters' float dtype.

    Checked: one dict per layer, the right shapes, float leaves, and finite values unless
    ``finite=False`` (:meth:`jaxmlp.MLP.apply` checks the structure alone). A ``ValueError`` or
    ``TypeError`` names the entry, such as ``params[0]['w']``. Host (NumPy) arrays are sized
    before anything is copied to the device: a :class:`MemoryError` names ``name`` when they
    cannot fit (:func:`jaxmlp.core.memory.check_fits`).

    Arguments:
        model: a :class:`jaxmlp.MLP`, whose type the caller checks
            (:func:`jaxmlp.core.checks.check_model`): the model's module imports this one, so
            this one cannot import it.
        params: the parameter pytree, ``[{"w": (fan_out, fan_in), "b": (fan_out,)}, ...]``.
        name: the argument's name in messages.
        finite: whether to check that every value is finite (NaN or infinity).

    >>> import jax
    >>> from jaxmlp.core.model import MLP
    >>> model = MLP((3, 2), ("softmax",))
    >>> params = model.init(jax.random.key(0))
    >>> check_params(model, params) == params[0]["w"].dtype
    True
    >>> check_params(model, [])
    Traceback (most recent call last):
    ValueError: params: expected a list of 1 layer dicts (one per layer of (3, 2)), got 0 entries
    """
    if not isinstance(params, (list, tuple)) or len(params) != model.num_layers:
        if isinstance(params, (list, tuple)):
            got = f"{len(params)} entries"
        else:
            got = type(params).__name__
        raise ValueError(
            f"{name}: expected a list of {model.num_layers} layer dicts "
            f"(one per layer of {model.sizes}), got {got}"
        )
    _check_host_fits(params, name)
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
                raise ValueError(
                    f"{name}[{i}][{leaf!r}]: expected shape {shape} (fan_out, fan_in) "
                    f"of layer {i}, got {tuple(value.shape)}"
                )
            if not jnp.issubdtype(value.dtype, jnp.floating):
                raise TypeError(
                    f"{name}[{i}][{leaf!r}]: expected a float dtype, got {value.dtype}"
                )
            if finite:
                check_finite(f"{name}[{i}][{leaf!r}]", layer[leaf])
            dtype = dtype or value.dtype
    return dtype


def _check_host_fits(params: Any, name: str) -> None:
    """Size the NumPy leaves of ``params`` as the device will hold them (float64 becomes float32
    unless x64 is on), from their shapes: nothing is copied or allocated."""
    host = [a for layer in params if isinstance(layer, dict) for a in layer.values()
            if isinstance(a, np.ndarray) and a.dtype.kind in "fiub"]
    if host:
        dtypes = [jax.dtypes.canonicalize_dtype(a.dtype) for a in host]
        count = sum(a.size for a in host)
        nbytes = sum(a.size * d.itemsize for a, d in zip(host, dtypes))
        kinds = ", ".join(sorted({str(d) for d in dtypes}))
        check_fits(name, nbytes, f"{count:,} parameters ({kinds}) in host (NumPy) arrays, "
                   "copied to the device,")
