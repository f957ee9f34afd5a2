"""JAX's persistent compilation cache, opted into: a second run loads its programs from disk.

JAX compiles every network's programs anew in each process; with the cache on, a compiled
program is written to a folder and the next process with the same program (same network,
settings, shapes, JAX version and machine) reads it back instead of compiling. The ``jaxmlp``
commands turn it on themselves (``--no-compile-cache`` or ``JAXMLP_NO_COMPILE_CACHE=1`` turn it
off); a script opts in with one call, since ``import jaxmlp`` changes no JAX setting::

    import jaxmlp
    jaxmlp.compile_cache()          # ~/.cache/jaxmlp/xla, at most 1 GiB

The folder is ``$XDG_CACHE_HOME/jaxmlp/xla`` (default ``~/.cache/jaxmlp/xla``). JAX warns that
whoever can write to the cache folder can make your process run their code, so the folder is
created owner-only (0700) and one that others may write to, or that belongs to someone else, is
refused: one warning, and the cache stays off. The size bound is kept at each call: the least
recently used entries (by the files' access, else modification, times) are removed until the
folder holds at most ``max_size`` bytes; one run can add its own programs above it.
"""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

from jaxmlp.core.values import check_int

__all__ = ["DEFAULT_MAX_SIZE", "compile_cache", "default_folder", "prune"]

#: the size bound of :func:`compile_cache` (bytes); a small network's programs take ~0.1 MB each
DEFAULT_MAX_SIZE = 1 << 30


def compile_cache(path: str | os.PathLike | None = None, max_size: int = DEFAULT_MAX_SIZE
                  ) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``path`` for the rest of this process.

    Arguments:
        path: the cache folder; default :func:`default_folder`. Created 0700 when missing.
        max_size: at most this many bytes of entries are kept (least recently used removed
            first, now); a bound, not a quota for this run.

    Returns:
        The folder in use, or None when it was refused: a group- or world-writable folder, one
        owned by another user, or one that cannot be created; a ``UserWarning`` says which.

    Every program compiled from now on is looked up in and written to the folder, whatever its
    compile time (JAX's default keeps only programs that took over a second). This sets JAX
    options for the whole process (``jax_compilation_cache_dir`` and
    ``jax_persistent_cache_min_compile_time_secs``), which is why it is a call of its own.

    >>> import tempfile, os, stat
    >>> folder = compile_cache(os.path.join(tempfile.mkdtemp(), "xla"))  # doctest: +SKIP
    >>> oct(stat.S_IMODE(folder.stat().st_mode))  # doctest: +SKIP
    '0o700'
    """
    max_size = check_int("max_size", max_size, 1)  # bytes
    folder = Path(default_folder() if path is None else path).expanduser()
    problem = _unsafe(folder)
    if problem is not None:
        warnings.warn(f"compile cache off: {problem}", UserWarning, stacklevel=2)
        return None
    prune(folder, max_size)
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    compilation_cache.reset_cache()  # effective even if this process compiled something already
    return folder


def default_folder() -> Path:
    """``$XDG_CACHE_HOME/jaxmlp/xla``, or ``~/.cache/jaxmlp/xla`` when it is unset or empty."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxmlp" / "xla"


def prune(folder: str | os.PathLike, max_size: int) -> list[Path]:
    """Remove the least recently used entries of ``folder`` until at most ``max_size`` bytes
    remain; return the removed files. Only regular files directly in the folder are counted."""
    entries = []
    for entry in os.scandir(folder):
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISREG(info.st_mode):
            entries.append((max(info.st_atime, info.st_mtime), info.st_size, Path(entry.path)))
    total, removed = sum(size for _, size, _ in entries), []
    for _, size, file in sorted(entries):
        if total <= max_size:
            break
        try:
            file.unlink()
        except FileNotFoundError:  # another process pruned it first
            pass
        total -= size
        removed.append(file)
    return removed


def _unsafe(folder: Path) -> str | None:
    """Why ``folder`` must not hold compiled programs (None when it may), creating it 0700."""
    try:
        if not folder.exists():
            folder.parent.mkdir(parents=True, exist_ok=True)
            try:
                folder.mkdir(mode=0o700)
                os.chmod(folder, 0o700)  # whatever the umask took away, the owner keeps rwx
            except FileExistsError:  # made meanwhile by another process: checked below
                pass
        info = os.stat(folder)
    except OSError as error:
        return f"cannot create {folder} ({error.strerror or error})"
    if not stat.S_ISDIR(info.st_mode):
        return f"{folder} is not a folder"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return (f"{folder} belongs to another user (uid {info.st_uid}); whoever can write to a "
                "compilation cache can run code as you")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (f"{folder} is writable by others (mode {stat.S_IMODE(info.st_mode):04o}); whoever "
                f"can write to a compilation cache can run code as you: chmod 700 {folder}")
    return None
