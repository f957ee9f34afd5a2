"""What a checkpoint file may hold, checked before any of it is read: its metadata (format,
version, step, model, history, run) and the shapes its arrays declare in their ``.npy`` headers,
against the model and the optimizer. :func:`jaxmlp.load` calls these; a file that fails any of
them is refused with a ``ValueError`` that names it.
"""

from __future__ import annotations

import json
import math
from typing import Any

import jax

from jaxmlp.core.activations import get_activation
from jaxmlp.core.model import MLP

__all__ = ["FORMAT", "FORMAT_VERSION", "VERSIONS", "expect", "layer_shapes", "meta_of", "model_of"]

FORMAT = "jaxmlp-checkpoint"
#: the newest format: version 2 adds the early-stopping best parameters (``best_params/...``); a
#: file without them is written as version 1, which every jaxmlp reads
FORMAT_VERSION = 2
VERSIONS = (1, 2)


def layer_shapes(model: MLP, i: int) -> dict[str, tuple[int, ...]]:
    fan_in, fan_out = model.sizes[i], model.sizes[i + 1]
    shapes = {"w": (fan_out, fan_in), "b": (fan_out,)}
    if get_activation(model.activations[i]).parametric:
        shapes["a"] = (fan_out,)
    return shapes


def expect(where: str, headers: dict, model: MLP, count: int | None, optimizer: Any) -> Any:
    """Check the declared parameter and optimizer-state shapes before reading any of them.

    Returns the optimizer state's abstract template (``None`` without an optimizer or a state).
    The early-stopping best parameters (``best_params/...``), when present, are checked as the
    parameters are."""
    _expect_params(where, headers, model, "params")
    if any(name.startswith("best_params/") for name in headers):
        _expect_params(where, headers, model, "best_params")
    leaves = sorted(name for name in headers if name.startswith("opt_state/"))
    numbered = all(f"opt_state/{i}" in headers for i in range(len(leaves)))
    if len(leaves) != (count or 0) or not numbered:
        raise ValueError(
            f"{where}: the metadata declares {count} optimizer state leaves, the file holds "
            f"{len(leaves)}"
        )
    for name in leaves:
        shape, dtype = headers[name]
        if dtype.kind not in "biuf" or math.prod(shape) > max(model.num_params, 1):
            raise ValueError(
                f"{where}: optimizer state leaf {name} is declared {dtype} {shape}, larger "
                "than the model or not numeric"
            )
    if optimizer is None or count is None:
        return None
    abstract = [
        {
            leaf: jax.ShapeDtypeStruct(shape, headers[f"params/{i}/{leaf}"][1])
            for leaf, shape in layer_shapes(model, i).items()
        }
        for i in range(model.num_layers)
    ]
    template = jax.eval_shape(optimizer.init, abstract)
    want = jax.tree.leaves(template)
    if len(want) != count:
        raise ValueError(
            f"{where}: the optimizer state has {count} leaves, but this optimizer's has "
            f"{len(want)}"
        )
    for i, leaf in enumerate(want):
        declared = headers[f"opt_state/{i}"][0]
        if tuple(leaf.shape) != declared:
            raise ValueError(
                f"{where}: optimizer state leaf {i} has shape {declared}, "
                f"expected {tuple(leaf.shape)}"
            )
    return template


_WHAT = {"params": "parameters", "best_params": "early-stopping best parameters"}


def _expect_params(where: str, headers: dict, model: MLP, prefix: str) -> None:
    """The members ``PREFIX/i/leaf`` are exactly the model's parameters, each a float array of
    its layer's shape."""
    expected = {f"{prefix}/{i}/{leaf}": shape for i in range(model.num_layers)
                for leaf, shape in layer_shapes(model, i).items()}
    found = {name for name in headers if name.startswith(f"{prefix}/")}
    if found != set(expected):
        missing, extra = sorted(set(expected) - found), sorted(found - set(expected))
        raise ValueError(
            f"{where} does not fit its model {model.sizes}: {_WHAT[prefix]} missing {missing}, "
            f"unexpected {extra}"
        )
    for name, shape in expected.items():
        got, dtype = headers[name]
        if got != shape or dtype.kind != "f":
            _, i, leaf = name.split("/")
            raise ValueError(
                f"{where} does not fit its model: {prefix}[{i}][{leaf!r}] is declared {dtype} "
                f"{got}, expected a float array of shape {shape}"
            )


def meta_of(where: str, text: str) -> dict:
    """The metadata, every field checked: format, version, step, model, history, run, leaves."""
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{where}: unreadable metadata: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{where} is not a jaxmlp checkpoint")
    if meta.get("version") not in VERSIONS:
        raise ValueError(f"{where}: format version {meta.get('version')!r} is not "
                         f"supported (this jaxmlp reads versions {', '.join(map(str, VERSIONS))})")
    step, leaves = meta.get("step"), meta.get("opt_state_leaves")
    if not _count(step):
        raise ValueError(f"{where}: metadata step must be an integer >= 0, got {step!r:.80}")
    if leaves is not None and not _count(leaves):
        raise ValueError(f"{where}: metadata opt_state_leaves must be an integer >= 0 or null, "
                         f"got {leaves!r:.80}")
    history = meta.get("history") or {}
    if not isinstance(history, dict) or not all(
            isinstance(v, list) and all(_number(x) for x in v) for v in history.values()):
        raise ValueError(
            f"{where}: metadata history must map names to lists of numbers, got {history!r:.80}"
        )
    run = meta.get("run")
    if run is not None and not isinstance(run, dict):
        raise ValueError(f"{where}: metadata run must be a mapping of settings, got {run!r:.80}")
    if not isinstance(meta.get("model"), dict):
        raise ValueError(f"{where}: metadata lacks a model description")
    return {**meta, "history": {str(k): v for k, v in history.items()}, "run": run or {},
            "opt_state_leaves": leaves}


def model_of(where: str, meta: dict) -> MLP:
    description = meta["model"]
    try:
        sizes, activations = description["sizes"], description["activations"]
        if not isinstance(sizes, list) or not isinstance(activations, list):
            raise TypeError("sizes and activations must be lists")
        return MLP(tuple(sizes), tuple(activations))
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"{where}: bad model description: {error}") from None


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: Any) -> bool:
    # NaN marks a model fit_many stopped; any float is a fact of the run
    return isinstance(value, (int, float)) and not isinstance(value, bool)
