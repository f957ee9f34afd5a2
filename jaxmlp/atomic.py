"""Writing a file so that a crash never leaves half of it: a temporary file beside it, a rename.

The temporary file is ``.NAME.XXXXXXXX.tmp`` in the target's folder (``XXXXXXXX``: eight random
characters), held under an exclusive ``flock`` from its creation until it has been renamed onto
``NAME``. A process killed mid-write (``kill -9``, power loss) leaves its
temporary file behind; the next write of the same target removes it.

The rule for removing another writer's temporary file, safe with concurrent writers: it must match
this target's pattern exactly (never another target's, never a link or folder), be older than
:data:`STALE_AFTER` seconds, and be unlocked. A live writer holds its lock until its rename, and the
kernel drops the lock when the writer dies, so a file that can be locked belongs to nobody. Where
``fcntl`` is missing (Windows) the age alone decides, with the longer :data:`STALE_WITHOUT_LOCKS`.

Permissions: the final file has the mode a plain ``open(path, "w")`` would give it, the one the
user's umask asks for (0644 under umask 022, 0600 under 077), and replacing a file keeps that
file's mode. The temporary file is created with that mode from the start (:func:`create_temporary`:
``os.open`` with 0666, which the kernel narrows by the umask, so the umask is never read or
changed), never wider than the file it replaces.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["STALE_AFTER", "STALE_WITHOUT_LOCKS", "create_temporary", "remove_stale", "write_atomic"]

STALE_AFTER = 5.0  # seconds since an unlocked temporary file was last written
STALE_WITHOUT_LOCKS = 3600.0
_NAME_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def write_atomic(path: str | os.PathLike, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    The folder is created if needed; stale temporary files of earlier, killed writes of ``path``
    are removed first (:func:`remove_stale`); on any failure our own temporary file is removed
    and ``path`` is left as it was.

    >>> import tempfile, os
    >>> p = write_atomic(os.path.join(tempfile.mkdtemp(), "a.txt"), b"hi")
    >>> p.read_bytes(), sorted(os.listdir(p.parent))
    (b'hi', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    fd, tmp = create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            if fcntl is not None:
                # ours alone: nobody removes it while we live
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)  # still locked while it carries the temporary name
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def create_temporary(path: str | os.PathLike, suffix: str = ".tmp") -> tuple[int, Path]:
    """Create ``.NAME.XXXXXXXX<suffix>`` beside ``path`` for writing: ``(descriptor, its path)``.

    Its mode is what ``open(path, "w")`` would give a new file (0666 less the umask), or the mode
    of the file ``path`` already names, so that renaming it onto ``path`` keeps the permissions.
    ``XXXXXXXX`` are eight random characters from ``a-z0-9_``.
    """
    path = Path(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode) & 0o777
    except OSError:
        mode = None
    while True:
        name = "".join(secrets.choice(_NAME_CHARACTERS) for _ in range(8))
        tmp = path.parent / f".{path.name}.{name}{suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                         0o666 if mode is None else 0o600)
        except FileExistsError:
            continue
        if mode is not None:  # an existing file's mode, which a umask must not narrow
            try:
                os.fchmod(fd, mode)
            except BaseException:
                os.close(fd)
                tmp.unlink(missing_ok=True)
                raise
        return fd, tmp


def remove_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that killed writes of ``path`` left behind; return them.

    Only regular files named ``.NAME.XXXXXXXX.tmp`` beside ``path``, unlocked and older than
    :data:`STALE_AFTER` seconds (see the module docstring); errors are ignored (another process
    may be removing the same file).
    """
    path = Path(path)
    pattern = re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}\.tmp")
    try:
        names = [name for name in os.listdir(path.parent) if pattern.fullmatch(name)]
    except OSError:
        return []
    removed = []
    for name in names:
        candidate = path.parent / name
        if _stale(candidate):
            removed.append(candidate)
    return removed


def _stale(candidate: Path) -> bool:
    """Remove ``candidate`` if it is an old, unlocked regular file; True when it was removed."""
    try:
        info = os.lstat(candidate)
        if not stat.S_ISREG(info.st_mode):
            return False
        age = time.time() - info.st_mtime
        if fcntl is None:
            if age < STALE_WITHOUT_LOCKS:
                return False
            candidate.unlink()
            return True
        if age < STALE_AFTER:
            return False
        fd = os.open(candidate, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while its writer lives
            if os.path.samestat(os.fstat(fd), os.lstat(candidate)):  # not replaced meanwhile
                candidate.unlink()
                return True
            return False
        finally:
            os.close(fd)
    except OSError:
        return False
