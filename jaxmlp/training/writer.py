"""One writer per checkpoint: a run holds its checkpoint path from its first step to its end.

Two runs given the same ``checkpoint`` would overwrite each other's files epoch by epoch and leave
a set that belongs to neither. So the process that writes a run's checkpoints holds an exclusive
``flock`` on a lock file beside them, ``.NAME.lock`` (``NAME``: the checkpoint's file name), for
the whole run, and a second run given that path while the first lives is refused by name before
it trains. The kernel drops the lock when its holder dies (``kill -9``, a crash), so a killed run
never leaves the path stuck: the next run takes the lock over. The lock file is removed by the
run that holds it when it ends; a killed run's is left empty, unlocked, and reused.

Where ``fcntl`` is missing (Windows) nothing is locked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["lock_path", "writing"]


def lock_path(checkpoint: str | os.PathLike) -> Path:
    """The lock file of ``checkpoint``: ``.NAME.lock`` in its folder.

    >>> lock_path("runs/run.npz").as_posix()
    'runs/.run.npz.lock'
    """
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f".{checkpoint.name}.lock")


@contextlib.contextmanager
def writing(checkpoint: str | os.PathLike | None) -> Iterator[None]:
    """Hold ``checkpoint``'s lock while the block runs; ``ValueError`` when a live run holds it.

    ``None`` (no checkpoint) holds nothing.
    """
    if checkpoint is None or fcntl is None:
        yield
        return
    path = lock_path(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path, checkpoint)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if _same_file(path, fd):
                path.unlink()
        os.close(fd)


def _acquire(path: Path, checkpoint) -> int:
    """An open descriptor of ``path`` under our exclusive lock (the file at ``path`` now)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ValueError(f"checkpoint: {str(checkpoint)!r} is being written by another run "
                             f"that is still running (it holds {str(path)!r}); give this run "
                             "another checkpoint path, or wait for that one to end") from None
        if _same_file(path, fd):  # not a file its last holder removed while we opened it
            return fd
        os.close(fd)


def _same_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
