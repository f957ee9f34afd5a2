"""Checkpoints: the model description, parameters, optimizer state, step and history in one
``.npz``.

Written with ``allow_pickle=False`` to a temporary file beside the target and renamed into place,
so a crash never leaves half a checkpoint; read back with every shape checked against the model.
The optimizer state is stored as its list of leaves; :func:`load` rebuilds its structure from the
optimizer (``optimizer.init(params)``) when one is given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.atomic import write_atomic
from jaxmlp.core.activations import get_activation
from jaxmlp.core.checks import check_model
from jaxmlp.core.model import MLP, Params
from jaxmlp.core.params import check_params
from jaxmlp.core.values import check_int
from jaxmlp.data.npz import NpzFile

__all__ = ["FORMAT_VERSION", "Checkpoint", "fingerprint", "load", "run_key", "save"]

FORMAT = "jaxmlp-checkpoint"
FORMAT_VERSION = 1
_MEMBERS = r"(meta|params/\d{1,6}/[wba]|opt_state/\d{1,6})\.npy"
_MAX_META = 1 << 28  # bytes of metadata (4 per character): years of history


@dataclasses.dataclass
class Checkpoint:
    """What :func:`load` returns.

    ``opt_state`` is the optimizer's state pytree when ``load`` was given the optimizer, else the
    tuple of its leaves (or ``None`` when none was saved).
    """

    model: MLP
    params: Params
    opt_state: Any
    step: int
    history: dict[str, list[float]]
    run: dict[str, Any] = dataclasses.field(default_factory=dict)


def save(
    path: str | os.PathLike, model: MLP, params: Params, opt_state: Any = None, step: int = 0,
    history: dict[str, list[float]] | None = None, run: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically to ``path`` (a ``.npz`` file) and return its path.

    ``history`` maps names to lists of numbers (NumPy or JAX scalars too); ``run`` is a dict of
    JSON values (the settings a resume must repeat). Stale temporary files of an earlier save
    killed mid-write are removed (:func:`jaxmlp.atomic.write_atomic`).

    >>> import jax, tempfile, os
    >>> model = MLP((3, 2), ("softmax",))
    >>> path = os.path.join(tempfile.mkdtemp(), "run.npz")
    >>> path = save(path, model, model.init(jax.random.key(0)))
    >>> load(path).model == model
    True
    """
    check_model(model)
    check_params(model, params)
    step = check_int("step", step, 0)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a .npz file path, got {type(path).__name__}")
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path: a checkpoint is a .npz file, got {str(path)!r}")
    if run is not None and not isinstance(run, dict):
        raise TypeError(f"run: expected a dict of settings, got {type(run).__name__}")
    meta = {
        "format": FORMAT, "version": FORMAT_VERSION, "step": step,
        "model": {"sizes": list(model.sizes), "activations": list(model.activations)},
        "history": _history(history), "run": run or {},
        "opt_state_leaves": None if opt_state is None else len(jax.tree.leaves(opt_state)),
    }
    try:
        text = json.dumps(meta)
    except (TypeError, ValueError) as error:
        raise TypeError(f"run: expected JSON values (str, int, float, bool, None, lists, dicts): "
                        f"{error}") from None
    arrays = {"meta": np.array(text)}
    for i, layer in enumerate(params):
        for name, value in layer.items():
            arrays[f"params/{i}/{name}"] = np.asarray(value)
    if opt_state is not None:
        for i, leaf in enumerate(jax.tree.leaves(opt_state)):
            arrays[f"opt_state/{i}"] = np.asarray(leaf)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write_atomic(path, buffer.getvalue())


def load(path: str | os.PathLike, optimizer: Any = None) -> Checkpoint:
    """Read a checkpoint, refusing a corrupt, foreign or mismatched file with a ``ValueError``.

    Every member's declared shape and dtype is read from its ``.npy`` header and checked against
    the model (and the optimizer) before any data is read, so a small file that declares a huge
    array costs nothing; pickled objects are never loaded.

    Arguments:
        path: the ``.npz`` file written by :func:`save`.
        optimizer: the Optax transformation that made the saved state; when given, the state's
            structure is rebuilt from ``optimizer.init`` and every leaf's shape checked.

    Raises ``FileNotFoundError`` / ``IsADirectoryError`` for a missing file or a folder, and
    ``ValueError`` naming the file for anything wrong inside it.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a .npz file path, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"checkpoint {str(path)!r} is a directory, not a .npz file")
    if not path.is_file():
        many = path.with_suffix(".0.npz")
        hint = (f"; {str(many)!r} exists: fit_many writes one checkpoint per model, "
                f"{path.stem}.0.npz, {path.stem}.1.npz, ...") if many.is_file() else ""
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist{hint}")
    with NpzFile(path, "a jaxmlp checkpoint", _MEMBERS) as archive:
        where = f"checkpoint {archive.label}"
        if "meta" not in archive.headers:
            raise ValueError(f"{where} is not a jaxmlp checkpoint (no metadata)")
        shape, dtype = archive.headers["meta"]
        if shape != () or dtype.kind != "U" or dtype.itemsize > _MAX_META:
            raise ValueError(f"{where}: the metadata is not one JSON string")
        meta = _meta(where, str(archive.read("meta")))
        model = _model(where, meta)
        template = _expect(where, archive.headers, model, meta["opt_state_leaves"], optimizer)
        params = [
            {
                leaf: jnp.asarray(archive.read(f"params/{i}/{leaf}"))
                for leaf in _layer_shapes(model, i)
            }
            for i in range(model.num_layers)
        ]
        try:
            check_params(model, params)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where} does not fit its model: {error}") from None
        opt_state = None
        if meta["opt_state_leaves"] is not None:
            leaves = [archive.read(f"opt_state/{i}") for i in range(meta["opt_state_leaves"])]
            opt_state = tuple(jnp.asarray(leaf) for leaf in leaves)
            if template is not None:
                want, tree = jax.tree.flatten(template)
                cast = [jnp.asarray(v, w.dtype) for w, v in zip(want, leaves)]
                opt_state = jax.tree.unflatten(tree, cast)
    return Checkpoint(model, params, opt_state, meta["step"], meta["history"], meta["run"])


def run_key(key: jax.Array) -> list[int]:
    """A key's data as plain integers (how a checkpoint records the shuffle key of its run)."""
    return [int(v) for v in np.asarray(jax.random.key_data(key)).ravel()]


def fingerprint(x: jax.Array, t: jax.Array) -> str:
    """A short digest of a training set: shapes, dtypes, every row's sums and a sample of rows.

    Recorded in checkpoints so that ``fit(resume=...)`` refuses other data. Computed with NumPy
    on the host (no compilation per data shape): every row's sum, and ~1,000 rows hashed whole.
    """
    x, t = np.asarray(x), np.asarray(t)
    h = hashlib.sha256(f"{x.shape}{x.dtype}{t.shape}{t.dtype}".encode())
    stride = max(1, x.shape[0] // 1024)
    for part in (x.sum(axis=1), t.sum(axis=1), x[::stride], t[::stride]):
        h.update(np.ascontiguousarray(part).tobytes())
    return h.hexdigest()[:16]


def _history(history: Any) -> dict[str, list[float]]:
    """``history`` for the metadata: names to lists of plain floats, or a ``TypeError``."""
    if history is None:
        return {}
    if not isinstance(history, dict):
        raise TypeError(
            "history: expected a dict of lists of numbers such as {'loss': [0.5, 0.3]}, "
            f"got {type(history).__name__}"
        )
    out = {}
    for name, values in history.items():
        if isinstance(values, (str, bytes, dict)):
            column = np.asarray(None)
        else:
            column = np.asarray(values)
        if not isinstance(name, str) or column.ndim != 1 or column.dtype.kind not in "iuf":
            raise TypeError(f"history[{name!r}]: expected a list of numbers, got {values!r:.80}")
        out[name] = [float(v) for v in column]
    return out


def _layer_shapes(model: MLP, i: int) -> dict[str, tuple[int, ...]]:
    fan_in, fan_out = model.sizes[i], model.sizes[i + 1]
    shapes = {"w": (fan_out, fan_in), "b": (fan_out,)}
    if get_activation(model.activations[i]).parametric:
        shapes["a"] = (fan_out,)
    return shapes


def _expect(where: str, headers: dict, model: MLP, count: int | None, optimizer: Any) -> Any:
    """Check the declared parameter and optimizer-state shapes before reading any of them.

    Returns the optimizer state's abstract template (``None`` without an optimizer or a state)."""
    expected = {f"params/{i}/{leaf}": shape for i in range(model.num_layers)
                for leaf, shape in _layer_shapes(model, i).items()}
    found = {name for name in headers if name.startswith("params/")}
    if found != set(expected):
        missing, extra = sorted(set(expected) - found), sorted(found - set(expected))
        raise ValueError(
            f"{where} does not fit its model {model.sizes}: parameters missing {missing}, "
            f"unexpected {extra}"
        )
    for name, shape in expected.items():
        got, dtype = headers[name]
        if got != shape or dtype.kind != "f":
            _, i, leaf = name.split("/")
            raise ValueError(
                f"{where} does not fit its model: params[{i}][{leaf!r}] is declared {dtype} "
                f"{got}, expected a float array of shape {shape}"
            )
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
            for leaf, shape in _layer_shapes(model, i).items()
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


def _meta(where: str, text: str) -> dict:
    """The metadata, every field checked: format, version, step, model, history, run, leaves."""
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{where}: unreadable metadata: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{where} is not a jaxmlp checkpoint")
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"{where}: format version {meta.get('version')!r} is not "
                         f"supported (this jaxmlp reads version {FORMAT_VERSION})")
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


def _model(where: str, meta: dict) -> MLP:
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
