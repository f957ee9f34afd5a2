"""Checkpoints: the model description, parameters, optimizer state, step and history in one
``.npz`` (and, for a run with early stopping, the best epoch's parameters).

Written with ``allow_pickle=False`` to a temporary file beside the target and renamed into place,
so a crash never leaves half a checkpoint; read back with every shape checked against the model.
The optimizer state is stored as its list of leaves; :func:`load` rebuilds its structure from the
optimizer (``optimizer.init(params)``) when one is given.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.atomic import write_atomic
from jaxmlp.core.checks import check_model
from jaxmlp.core.model import MLP, Params
from jaxmlp.core.params import check_params
from jaxmlp.core.values import check_int
from jaxmlp.data.npz import NpzFile
from jaxmlp.training.checkpoint_file import (
    FORMAT,
    FORMAT_VERSION,
    expect,
    layer_shapes,
    meta_of,
    model_of,
)
from jaxmlp.training.checkpoint_set import MANIFEST

__all__ = ["FORMAT_VERSION", "Checkpoint", "checkpoint_bytes", "load", "save"]

_MEMBERS = rf"(meta|{MANIFEST}|(best_)?params/\d{{1,6}}/[wba]|opt_state/\d{{1,6}})\.npy"
_MAX_META = 1 << 28  # bytes of metadata (4 per character): years of history


@dataclasses.dataclass
class Checkpoint:
    """What :func:`load` returns.

    ``opt_state`` is the optimizer's state pytree when ``load`` was given the optimizer, else the
    tuple of its leaves (or ``None`` when none was saved). ``best_params`` are the best epoch's
    parameters of a run with ``EarlyStopping(restore_best=True)``, else ``None``.
    """

    model: MLP
    params: Params
    opt_state: Any
    step: int
    history: dict[str, list[float]]
    run: dict[str, Any] = dataclasses.field(default_factory=dict)
    best_params: Params | None = None


def save(
    path: str | os.PathLike, model: MLP, params: Params, opt_state: Any = None, step: int = 0,
    history: dict[str, list[float]] | None = None, run: dict[str, Any] | None = None,
    best_params: Params | None = None,
) -> Path:
    """Write a checkpoint atomically to ``path`` (a ``.npz`` file) and return its path.

    ``history`` maps names to lists of numbers (NumPy or JAX scalars too); ``run`` is a dict of
    JSON values (the settings a resume must repeat); ``best_params`` the early-stopping best
    parameters, or ``None``. Stale temporary files of an earlier save killed mid-write are removed
    (:func:`jaxmlp.atomic.write_atomic`).

    >>> import jax, tempfile, os
    >>> model = MLP((3, 2), ("softmax",))
    >>> path = os.path.join(tempfile.mkdtemp(), "run.npz")
    >>> path = save(path, model, model.init(jax.random.key(0)))
    >>> load(path).model == model
    True
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a .npz file path, got {type(path).__name__}")
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path: a checkpoint is a .npz file, got {str(path)!r}")
    payload = checkpoint_bytes(model, params, opt_state, step, history, run, best_params)
    return write_atomic(path, payload)


def checkpoint_bytes(
    model: MLP, params: Params, opt_state: Any = None, step: int = 0,
    history: dict[str, list[float]] | None = None, run: dict[str, Any] | None = None,
    best_params: Params | None = None,
) -> bytes:
    """The bytes :func:`save` writes (the arguments are its own), for a writer of many files."""
    check_model(model)
    check_params(model, params)
    if best_params is not None:
        check_params(model, best_params, "best_params")
    step = check_int("step", step, 0)
    if run is not None and not isinstance(run, dict):
        raise TypeError(f"run: expected a dict of settings, got {type(run).__name__}")
    meta = {
        "format": FORMAT, "version": 1 if best_params is None else FORMAT_VERSION, "step": step,
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
    for prefix, tree in (("params", params), ("best_params", best_params or [])):
        for i, layer in enumerate(tree):
            for name, value in layer.items():
                arrays[f"{prefix}/{i}/{name}"] = np.asarray(value)
    if opt_state is not None:
        for i, leaf in enumerate(jax.tree.leaves(opt_state)):
            arrays[f"opt_state/{i}"] = np.asarray(leaf)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


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
        if MANIFEST in archive.headers:
            raise ValueError(
                f"{where} is the manifest of a set of fit_many checkpoints, one per model "
                f"({path.stem}.0.npz, {path.stem}.1.npz, ...): load one of those, or resume the "
                "set with fit_many"
            )
        if "meta" not in archive.headers:
            raise ValueError(f"{where} is not a jaxmlp checkpoint (no metadata)")
        shape, dtype = archive.headers["meta"]
        if shape != () or dtype.kind != "U" or dtype.itemsize > _MAX_META:
            raise ValueError(f"{where}: the metadata is not one JSON string")
        meta = meta_of(where, str(archive.read("meta")))
        model = model_of(where, meta)
        template = expect(where, archive.headers, model, meta["opt_state_leaves"], optimizer)
        params = _read_params(archive, model, "params")
        best = None
        if "best_params/0/w" in archive.headers:  # expect() saw all of them, or none
            best = _read_params(archive, model, "best_params")
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
    return Checkpoint(model, params, opt_state, meta["step"], meta["history"], meta["run"], best)


def _read_params(archive: NpzFile, model: MLP, prefix: str) -> Params:
    """The members ``PREFIX/i/leaf`` as a parameter list (their shapes checked by ``expect``)."""
    return [
        {leaf: jnp.asarray(archive.read(f"{prefix}/{i}/{leaf}")) for leaf in layer_shapes(model, i)}
        for i in range(model.num_layers)
    ]


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
