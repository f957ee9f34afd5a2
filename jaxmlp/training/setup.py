"""What ``fit`` and ``fit_many`` share before training: the checked options, the training and
validation rows on their layout, the digests of the training and validation rows a checkpoint
records, the settings every process of one run must share (:func:`agreed_settings`), and the
memory a training step needs at its peak (:func:`check_peak`)."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import jax
import numpy as np

from jaxmlp.core.checks import check_metrics, check_output, prepare
from jaxmlp.core.memory import check_fits, format_bytes, training_peak
from jaxmlp.core.values import check_int, check_key
from jaxmlp.data.split import split_index
from jaxmlp.parallel import processes
from jaxmlp.parallel.layout import Layout
from jaxmlp.training.stopping import EarlyStopping

__all__ = ["Data", "agreed_settings", "check_peak", "digest", "key_data", "options",
           "params_digest", "split_data"]


def options(epochs, batch_size, metrics, key, checkpoint, verbose, on_epoch_end,
            early_stopping) -> dict[str, Any]:
    """Check the options every run shares (errors name the argument): the checked ``epochs``,
    ``batch_size``, ``metrics``, ``key`` and ``checkpoint`` path, by name."""
    epochs, batch_size = check_int("epochs", epochs, 0), check_int("batch_size", batch_size, 1)
    metrics = check_metrics(metrics)
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose: expected 0, 1 or 2, got {verbose!r}")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(f"on_epoch_end: expected a callable (epoch, logs), got {on_epoch_end!r}")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping: expected a jaxmlp.EarlyStopping, got {early_stopping!r}")
    key = jax.random.key(0) if key is None else check_key(key)
    checkpoint = None if checkpoint is None else check_output("checkpoint", checkpoint, ".npz")
    return {"epochs": epochs, "batch_size": batch_size, "metrics": metrics, "key": key,
            "checkpoint": checkpoint}


@dataclasses.dataclass
class Data:
    """Training and validation rows placed on their layout."""

    x: Any  # (P m, n_in) on the layout
    t: Any
    validation: tuple  # (x_val, t_val) or ()
    m: int  # training rows per shard
    n_val: int | None  # validation rows (all shards)
    digest: str  # every byte of the training rows
    described: str | None  # the validation, as a checkpoint records it

    def names(self, metrics: tuple[str, ...]) -> list[str]:
        """The history's columns."""
        val = ["val_loss", *(f"val_{m}" for m in metrics)] if self.validation else []
        return ["loss", *metrics, *val]


def split_data(layout: Layout, model, params, x, t, c, validation_split, validation_data,
               hold: bool = True) -> Data:
    """Check ``x, t`` and hold out the validation rows: the LAST ``validation_split`` of each
    shard (Keras's rule; one shard in a plain run), or ``validation_data`` (each process's own).
    ``hold=False`` (folds) keeps every row for training."""
    x, t = prepare(model, params, x, t, c.loss, c.reduction, c.l2, c.l1)
    if validation_split and validation_data is not None:
        raise ValueError("validation_split and validation_data: expected one of them, got both")
    processes.same_rows(layout, "x", len(x))
    xs, ts = layout.local_shards(np.asarray(x)), layout.local_shards(np.asarray(t))
    validation, described = (), None
    if validation_split and hold:
        at = split_index(xs.shape[1], validation_split)
        validation = (_join(xs[:, at:]), _join(ts[:, at:]))
        described = f"validation_split={validation_split!r} " + digest(layout, xs[:, at:],
                                                                         ts[:, at:])
        xs, ts = xs[:, :at], ts[:, :at]
    elif validation_data is not None and hold:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise TypeError(f"validation_data: expected a pair (x_val, t_val), got "
                            f"{type(validation_data).__name__}")
        names = ("validation_data[0] (x_val)", "validation_data[1] (t_val)")
        validation = tuple(np.asarray(a) for a in prepare(
            model, params, *validation_data, c.loss, c.reduction, c.l2, c.l1, names=names))
        described = "validation_data " + digest(layout, validation[0][None], validation[1][None])
    n_val = None
    if validation:
        n_val = processes.same_rows(layout, "validation_data", len(validation[0]))
    check_fits("x", xs.nbytes + ts.nbytes + sum(a.nbytes for a in validation),
               f"{xs.shape[0] * xs.shape[1]:,} training rows and their targets on the device")
    data_digest = digest(layout, xs, ts)
    return Data(*layout.put_rows((_join(xs), _join(ts))), layout.put_rows(validation),
                xs.shape[1], n_val, data_digest, described)


def check_peak(layout: Layout, model, opt, params, batch_size: int, data: Data, rows: int,
               models: int | None = None, validation: str = "validation_split") -> None:
    """A :class:`MemoryError` before training when the device cannot hold a training step at its
    peak (:func:`jaxmlp.core.memory.training_peak`): the parameters and optimizer state, named
    ``params``; with a step's activations, δs and gradient, named ``batch_size``; with the
    validation pass, named ``validation``. ``params`` is one model's; ``rows`` the training rows
    per model; the sizes are per device (rows or models split over devices)."""
    n, devices = models or 1, 1 if layout.mesh is None else layout.mesh.devices.size
    if layout.over_models:
        n = -(-n // devices)
    batch = min(batch_size, rows)
    if layout.batches is not None:
        batch = -(-batch // devices)
    val = -(-data.n_val // jax.process_count()) if data.validation else 0
    state = jax.tree.leaves(jax.eval_shape(opt.init, params))
    state = sum(a.size * a.dtype.itemsize for a in state)
    dtype = data.x.dtype
    peak = training_peak(model.sizes, dtype.itemsize, batch, val, n, model.num_params, state)
    kept = peak["kept"]
    check_fits("params", kept, "the parameters and the optimizer state (each kept twice for a "
               "replay)")
    what = f"sizes {model.sizes}"
    if models:
        what = f"{n} models{' per device' * layout.over_models} of {what}"
    besides = f"and the parameters and optimizer state kept twice ({format_bytes(kept)})"
    every = " (every training row)" if batch_size > rows else ""
    split = " per device" if layout.batches is not None else ""
    check_fits("batch_size", kept + peak["step"],
               f"batches of {batch:,} rows{every}{split} through {what} ({dtype}): a step's "
               f"activations, δs and gradient ({format_bytes(peak['step'])}) {besides}")
    check_fits(validation, kept + peak["validation"],
               f"the validation pass over {val:,} rows at once through {what} ({dtype}): its "
               f"activations ({format_bytes(peak['validation'])}) {besides}")


def digest(layout: Layout, xs, ts) -> str:
    """A digest of every byte of the shards ``xs, ts`` (``(k, m, ...)`` each), joined in shard
    order over every process (the same in a run across processes and in its one-process equal)."""
    mine = []
    for x, t in zip(xs, ts):
        h = hashlib.blake2b(f"{x.shape}{x.dtype}{t.shape}{t.dtype}".encode(), digest_size=16)
        for a in (x, t):
            h.update(memoryview(np.ascontiguousarray(a)).cast("B"))
        mine.append(h.digest())
    return hashlib.blake2b(b"".join(processes.gather_bytes(layout, mine)),
                           digest_size=8).hexdigest()


def _join(shards: np.ndarray) -> np.ndarray:
    return shards.reshape(-1, *shards.shape[2:])


def params_digest(params) -> str:
    """A digest of every parameter's shape, dtype and bytes."""
    h = hashlib.blake2b(digest_size=8)
    for leaf in jax.tree.leaves(jax.device_get(params)):
        leaf = np.ascontiguousarray(leaf)
        h.update(f"{leaf.shape}{leaf.dtype}".encode())
        h.update(memoryview(leaf).cast("B"))
    return h.hexdigest()


def key_data(key) -> list[int]:
    return [int(v) for v in jax.device_get(jax.random.key_data(key)).ravel()]


def agreed_settings(model, params, config, o, validation_split, resume, shuffle, early_stopping,
                    optimizer: dict[str, Any]):
    """The settings every process of one run must share (compared before any collective);
    ``optimizer`` is :func:`jaxmlp.training.optimizer_record.optimizer_settings`."""
    return {
        "model": [list(model.sizes), list(model.activations)],
        "params": params_digest(params),
        "loss": config.loss,
        "reduction": config.reduction,
        "l2": config.l2,
        "l1": config.l1,
        "grad": config.grad,
        **optimizer,
        "epochs": o["epochs"],
        "batch_size": o["batch_size"],
        "metrics": list(o["metrics"]),
        "key": key_data(o["key"]),
        "validation_split": validation_split,
        "shuffle": bool(shuffle),
        "resume": None if resume is None else str(resume),
        "checkpoint": str(o["checkpoint"]),
        "early_stopping": repr(early_stopping),
    }
