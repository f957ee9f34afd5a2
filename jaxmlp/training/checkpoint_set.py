"""A set of checkpoint files that must agree, committed as one unit by a manifest written last.

``fit_many(checkpoint="run.npz")`` with N models keeps one checkpoint per model, ``run.0.npz``, ...,
``run.{N-1}.npz`` (each one model's, as :func:`jaxmlp.fit` writes it). Writing N files is not one
atomic step, so an epoch's set is written in three:

1. each model's new checkpoint goes to a *pending* file beside its final name,
   ``.run.0.npz.XXXXXXXX.pending`` (``XXXXXXXX``: eight random characters), written and synced;
2. the *manifest* ``run.npz`` is written atomically (:func:`jaxmlp.atomic.write_atomic`): the epoch,
   and each model's pending file name and the SHA-256 digest of its bytes. This is the commit;
3. each pending file is renamed onto its final name.

A kill before step 2 leaves the previous manifest, which names the previous files (untouched);
a kill during step 3 leaves the new manifest, whose files are each either at the final name or
still pending, with the digest telling which. :func:`members` reads the committed set that way.
As the next run starts, :func:`tidy` finishes an interrupted step 3 (in one process; across
processes, where the others may be reading the set, the next commit replaces those files) and
removes the pending files no manifest names: only names this module makes, nothing else. A path
with no manifest but ``run.0.npz``, ... is a set written before manifests existed:
:func:`members` returns ``None`` for it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from jaxmlp.atomic import create_temporary, remove_stale, write_atomic
from jaxmlp.data.npz import NpzFile

__all__ = ["MANIFEST", "checkpoint_paths", "members", "read", "save", "tidy"]

#: the manifest's one member in its ``.npz``
MANIFEST = "manifest"
FORMAT = "jaxmlp-checkpoint-set"
VERSION = 1
_MAX_TEXT = 1 << 24  # bytes of manifest (4 per character): a million models


def checkpoint_paths(path: str | os.PathLike, models: int | None) -> list[Path]:
    """The files of a run: ``[run.npz]`` for one model, ``run.0.npz``, ... for N stacked models
    (whose set is committed by the manifest ``run.npz``)."""
    path = Path(path)
    if models is None:
        return [path]
    return [_member(path, i) for i in range(models)]


def save(path: str | os.PathLike, epoch: int, payloads: Iterable[bytes]) -> None:
    """Commit one epoch's set: model i's checkpoint bytes ``payloads[i]`` (consumed one at a time,
    so only one is held), its manifest ``path``, then the files at their final names."""
    path = Path(path)
    pending, digests = [], []
    try:
        for i, payload in enumerate(payloads):
            pending.append(_write_pending(_member(path, i), payload))
            digests.append(hashlib.sha256(payload).hexdigest())
        _sync_folder(path.parent)  # the pending names are durable before the commit
        manifest = {"format": FORMAT, "version": VERSION, "epoch": epoch,
                    "files": [{"pending": p.name, "sha256": d} for p, d in zip(pending, digests)]}
        write_atomic(path, _encode(manifest))
    except Exception:  # an error: nothing names them (a kill leaves them to tidy)
        for file in pending:
            file.unlink(missing_ok=True)
        raise
    for file, final in zip(pending, checkpoint_paths(path, len(pending))):
        os.replace(file, final)
    _remove_pending(path, keep=())


def members(path: str | os.PathLike, models: int) -> list[Path] | None:
    """The files of the set that ``path`` commits, one per model, each holding the bytes the
    manifest names (at its final name or still pending); ``None`` when ``path`` does not exist (a
    set written before manifests, or none). The manifest's epoch is each file's number of epochs.

    Raises ``ValueError`` for a manifest of another number of models, a file that is not a
    manifest, or a member whose bytes are lost or changed."""
    path = Path(path)
    if not path.exists():
        return None
    manifest = read(path)
    files = manifest["files"]
    if len(files) != models:
        raise ValueError(f"{str(path)!r} commits a set of {len(files)} checkpoints; this call has "
                         f"{models} models")
    found = []
    for final, entry in zip(checkpoint_paths(path, models), files):
        candidates = (final, path.parent / entry["pending"])
        match = next((c for c in candidates if _digest(c) == entry["sha256"]), None)
        if match is None:
            what = "holds other bytes (changed or damaged since)" if final.exists() else (
                "is missing")
            raise ValueError(f"{str(path)!r} commits epoch {manifest['epoch']} of {models} "
                             f"checkpoints, but {str(final)!r} {what}")
        found.append(match)
    return found


def read(path: str | os.PathLike) -> dict:
    """The manifest at ``path``, checked: ``{"format", "version", "epoch", "files"}``; a
    ``ValueError`` naming the file for anything else (a single model's checkpoint included)."""
    where = f"{str(path)!r}"
    with NpzFile(path, "a jaxmlp checkpoint", r"[a-z_/0-9]{1,40}\.npy") as archive:
        if MANIFEST not in archive.headers:
            raise ValueError(f"{where} is not the manifest of a set of fit_many checkpoints "
                             "(it holds one model's checkpoint, as fit writes it)")
        shape, dtype = archive.headers[MANIFEST]
        if shape != () or dtype.kind != "U" or dtype.itemsize > _MAX_TEXT:
            raise ValueError(f"{where}: the manifest is not one JSON string")
        text = str(archive.read(MANIFEST))
    try:
        manifest = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{where}: unreadable manifest: {error}") from None
    name = re.compile(r"\.[^/\\]+\.[a-z0-9_]{8}\.pending")
    if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
            or manifest.get("version") != VERSION
            or not isinstance(manifest.get("epoch"), int) or manifest["epoch"] < 0
            or not isinstance(manifest.get("files"), list)
            or not all(isinstance(e, dict) and isinstance(e.get("pending"), str)
                       and name.fullmatch(e["pending"]) and isinstance(e.get("sha256"), str)
                       for e in manifest["files"])):
        raise ValueError(f"{where} is not a manifest this jaxmlp reads (format {FORMAT} version "
                         f"{VERSION}): {text:.120}")
    return manifest


def tidy(path: str | os.PathLike, models: int, finish: bool = True) -> None:
    """As a run that writes the set ``path`` starts: finish the renames a killed commit left
    (each pending file the manifest names whose bytes match; not with ``finish=False``, when other
    processes may still be reading the set: the next :func:`save` replaces them), then remove the
    pending files no manifest names and the stale temporary files of killed writes."""
    path = Path(path)
    finals = checkpoint_paths(path, models)
    for file in (path, *finals):
        remove_stale(file)
    try:
        files = read(path)["files"] if path.exists() else []
    except (OSError, ValueError):  # not ours to judge here: a resume says what is wrong
        files = []
    named = set()
    for final, entry in zip(checkpoint_paths(path, len(files)), files):
        pending = path.parent / entry["pending"]
        if finish and _digest(pending) == entry["sha256"]:
            os.replace(pending, final)
        named.add(entry["pending"])
    _remove_pending(path, keep=named)


def _member(path: Path, i: int) -> Path:
    return path.with_suffix(f".{i}.npz")


def _write_pending(final: Path, payload: bytes) -> Path:
    """``payload`` in a new pending file beside ``final``, synced; its path."""
    fd, pending = create_temporary(final, ".pending")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    except Exception:
        pending.unlink(missing_ok=True)
        raise
    return pending


def _remove_pending(path: Path, keep: Iterable[str]) -> None:
    """Remove the pending files of the set ``path`` (any model number) except those in ``keep``:
    regular files named ``.STEM.I.npz.XXXXXXXX.pending``, which only :func:`save` makes."""
    pattern = re.compile(re.escape(f".{path.stem}.") + r"\d{1,9}\.npz\.[a-z0-9_]{8}\.pending")
    try:
        names = [n for n in os.listdir(path.parent) if pattern.fullmatch(n) and n not in keep]
    except OSError:
        return
    for name in names:
        file = path.parent / name
        if file.is_file() and not file.is_symlink():
            file.unlink(missing_ok=True)


def _digest(file: Path) -> str | None:
    """The SHA-256 of ``file``'s bytes, or ``None`` when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(file, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _encode(manifest: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{MANIFEST: np.array(json.dumps(manifest))})
    return buffer.getvalue()


def _sync_folder(folder: Path) -> None:
    """Make the folder's new names durable (POSIX; elsewhere a no-op)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
