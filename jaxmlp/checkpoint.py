"""Checkpoints: the model description, parameters, optimizer state, step and history in one ``.npz``.

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
import os
import zipfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.atomic import write_atomic
from jaxmlp.inputs import check_params
from jaxmlp.model import MLP, Params

__all__ = ["FORMAT_VERSION", "Checkpoint", "fingerprint", "load", "run_key", "save"]

FORMAT = "jaxmlp-checkpoint"
FORMAT_VERSION = 1


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

    >>> import jax, tempfile, os
    >>> model = MLP((3, 2), ("softmax",))
    >>> path = save(os.path.join(tempfile.mkdtemp(), "run.npz"), model, model.init(jax.random.key(0)))
    >>> load(path).model == model
    True
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model: expected a jaxmlp.MLP, got {type(model).__name__}")
    check_params(model, params)
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step: expected an integer >= 0, got {step!r}")
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path: a checkpoint is a .npz file, got {str(path)!r}")
    meta = {
        "format": FORMAT, "version": FORMAT_VERSION, "step": int(step),
        "model": {"sizes": list(model.sizes), "activations": list(model.activations)},
        "history": {str(k): [float(v) for v in vs] for k, vs in (history or {}).items()},
        "run": run or {},
        "opt_state_leaves": None if opt_state is None else len(jax.tree.leaves(opt_state)),
    }
    arrays = {"meta": np.array(json.dumps(meta))}
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

    Arguments:
        path: the ``.npz`` file written by :func:`save`.
        optimizer: the Optax transformation that made the saved state; when given, the state's
            structure is rebuilt from ``optimizer.init(params)`` and every leaf's shape checked.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError) as error:
        raise ValueError(f"checkpoint {str(path)!r} is corrupt or not a jaxmlp checkpoint: {error}") from None
    meta = _meta(path, arrays)
    try:
        model = MLP(tuple(meta["model"]["sizes"]), tuple(meta["model"]["activations"]))
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"checkpoint {str(path)!r}: bad model description: {error}") from None
    params = []
    for i in range(model.num_layers):
        layer = {k.split("/")[2]: jnp.asarray(v) for k, v in arrays.items() if k.startswith(f"params/{i}/")}
        params.append(layer)
    try:
        check_params(model, params)
    except (TypeError, ValueError) as error:
        raise ValueError(f"checkpoint {str(path)!r} does not fit its model: {error}") from None
    opt_state = None
    count = meta.get("opt_state_leaves")
    if count is not None:
        leaves = []
        for i in range(count):
            if f"opt_state/{i}" not in arrays:
                raise ValueError(f"checkpoint {str(path)!r}: optimizer state leaf {i} is missing")
            leaves.append(jnp.asarray(arrays[f"opt_state/{i}"]))
        opt_state = tuple(leaves)
        if optimizer is not None:
            opt_state = _rebuild(path, optimizer.init(params), leaves)
    history = meta.get("history") or {}
    if not isinstance(history, dict):
        raise ValueError(f"checkpoint {str(path)!r}: history must be a mapping")
    run = meta.get("run") or {}
    if not isinstance(run, dict):
        raise ValueError(f"checkpoint {str(path)!r}: run settings must be a mapping")
    return Checkpoint(model, params, opt_state, int(meta["step"]), {k: list(v) for k, v in history.items()},
                      run)


def run_key(key: jax.Array) -> list[int]:
    """A key's data as plain integers (how a checkpoint records the shuffle key of its run)."""
    return [int(v) for v in np.asarray(jax.random.key_data(key)).ravel()]


def fingerprint(x: jax.Array, t: jax.Array) -> str:
    """A short digest of a training set: shapes, dtypes, every row's sums and a sample of rows.

    Recorded in checkpoints so that ``fit(resume=...)`` refuses other data; it reads each row
    once on the device and hashes ~1,000 rows on the host.
    """
    h = hashlib.sha256(f"{x.shape}{x.dtype}{t.shape}{t.dtype}".encode())
    stride = max(1, x.shape[0] // 1024)
    sums = jnp.concatenate([jnp.sum(x, axis=1), jnp.sum(t, axis=1)])
    for part in (sums, x[::stride], t[::stride]):
        h.update(np.ascontiguousarray(jax.device_get(part)).tobytes())
    return h.hexdigest()[:16]


def _meta(path: Path, arrays: dict[str, np.ndarray]) -> dict:
    if "meta" not in arrays:
        raise ValueError(f"checkpoint {str(path)!r} is not a jaxmlp checkpoint (no metadata)")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as error:
        raise ValueError(f"checkpoint {str(path)!r}: unreadable metadata: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint {str(path)!r} is not a jaxmlp checkpoint")
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"checkpoint {str(path)!r}: format version {meta.get('version')!r} is not "
                         f"supported (this jaxmlp reads version {FORMAT_VERSION})")
    if not isinstance(meta.get("step"), int) or not isinstance(meta.get("model"), dict):
        raise ValueError(f"checkpoint {str(path)!r}: metadata lacks a step or model")
    return meta


def _rebuild(path: Path, template: Any, leaves: list) -> Any:
    expected, tree = jax.tree.flatten(template)
    if len(expected) != len(leaves):
        raise ValueError(f"checkpoint {str(path)!r}: the optimizer state has {len(leaves)} leaves, "
                         f"but this optimizer's has {len(expected)}")
    for i, (want, got) in enumerate(zip(expected, leaves)):
        if jnp.shape(want) != got.shape:
            raise ValueError(f"checkpoint {str(path)!r}: optimizer state leaf {i} has shape "
                             f"{got.shape}, expected {jnp.shape(want)}")
        leaves[i] = got.astype(jnp.result_type(want))
    return jax.tree.unflatten(tree, leaves)
