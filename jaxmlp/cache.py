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
refused: one warning, and the cache stays off.

The folder is the cache's own. jaxmlp marks a folder it creates or adopts with a file named
``.jaxmlp-cache.txt`` and removes nothing but JAX's entries (``NAME-HASH-cache``, with the
``NAME-HASH-atime`` companion JAX writes when ``jax_compilation_cache_max_size`` is set) from a
marked folder. A folder that holds anything else (``notes.txt``, a subfolder, a link) is refused,
and so is one that cannot be read or written: one warning naming it, and the cache stays off;
nothing in it is touched. The size bound is kept at each call: the least recently used entries
(by the files' access, else modification, times) are removed until the entries take at most
``max_size`` bytes; one run can add its own programs above it.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from pathlib import Path

from jaxmlp.core.values import check_int

__all__ = ["DEFAULT_MAX_SIZE", "MARKER", "compile_cache", "default_folder", "prune"]

#: the size bound of :func:`compile_cache` (bytes); a small network's programs take ~0.1 MB each
DEFAULT_MAX_SIZE = 1 << 30

#: the file that marks a folder as jaxmlp's compile cache (only a marked folder is pruned); not
#: named ``*-cache``, which JAX's own size bound would take for an entry
MARKER = ".jaxmlp-cache.txt"

#: JAX's entry names (``jax/_src/cache_key.py``, ``lru_cache.py``): the program's module name,
#: the SHA-256 of what shaped it, and ``-cache`` (the program) or ``-atime`` (its last use)
_ENTRY = re.compile(r"(?P<key>.+-[0-9a-f]{64})-(?P<kind>cache|atime)")
#: the lock JAX's own size bound takes (when ``jax_compilation_cache_max_size`` is set)
_JAX_LOCK = ".lockfile"
_MARKER_TEXT = (
    "This folder is jaxmlp's compilation cache: JAX's compiled programs, which jaxmlp removes\n"
    "to keep its size bound. jaxmlp refuses to use it once it holds any other file.\n"
)


def compile_cache(path: str | os.PathLike | None = None, max_size: int = DEFAULT_MAX_SIZE
                  ) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``path`` for the rest of this process.

    Arguments:
        path: the cache folder; default :func:`default_folder`. Created 0700 when missing,
            and marked with a :data:`MARKER` file.
        max_size: at most this many bytes of entries are kept (least recently used removed
            first, now); a bound, not a quota for this run.

    Returns:
        The folder in use, or None when it was refused, with a one-line ``UserWarning`` that
        says why: a group- or world-writable folder, one owned by another user, one that cannot
        be created, read or written (a read-only folder would make JAX warn at every program
        it cannot store), or one that holds a file jaxmlp did not write (the warning names the
        first). Nothing in a refused folder is touched, and no exception escapes but the
        ``TypeError`` / ``ValueError`` of a bad ``max_size``.

    A folder without the marker is adopted (marked, then pruned) when it is empty or every file
    in it is named as JAX names its entries: such a folder is a JAX cache (the one an older
    jaxmlp, which wrote no marker, kept in the default folder, or one of your own), and its
    entries are programs JAX can compile again. Any other file makes the folder someone else's.

    Every program compiled from now on is looked up in and written to the folder, whatever its
    compile time (JAX's default keeps only programs that took over a second). This sets JAX
    options for the whole process (``jax_compilation_cache_dir`` and
    ``jax_persistent_cache_min_compile_time_secs``), which is why it is a call of its own.

    >>> import tempfile, os, stat
    >>> folder = compile_cache(os.path.join(tempfile.mkdtemp(), "xla"))  # doctest: +SKIP
    >>> oct(stat.S_IMODE(folder.stat().st_mode)), sorted(os.listdir(folder))  # doctest: +SKIP
    ('0o700', ['.jaxmlp-cache.txt'])
    """
    max_size = check_int("max_size", max_size, 1)  # bytes
    folder = Path(default_folder() if path is None else path).expanduser()
    problem = _unsafe(folder) or _unowned(folder)
    if problem is None:
        try:
            prune(folder, max_size)
        except OSError as error:  # e.g. an entry JAX wrote that this user may not remove
            problem = f"cannot keep {folder} within {max_size} bytes ({_reason(error)})"
    if problem is not None:
        warnings.warn(f"compile cache off: {problem}", UserWarning, stacklevel=2)
        return None
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
    """Remove the least recently used JAX entries of ``folder`` until they take at most
    ``max_size`` bytes; return the removed files (each entry, then its ``-atime`` companion).

    Only a folder marked with :data:`MARKER` is pruned (a ``ValueError`` otherwise), and only
    regular files directly in it that are named as JAX names its entries are counted or removed;
    every other file stays as it is. An ``OSError`` (say, a ``PermissionError`` of a read-only
    folder) propagates; :func:`compile_cache` turns it into its warning.
    """
    max_size = check_int("max_size", max_size, 0)
    folder = Path(folder)
    if not (folder / MARKER).is_file():
        raise ValueError(f"folder: {str(folder)!r} has no {MARKER} file, expected a folder "
                         "that jaxmlp.compile_cache made its own; nothing was removed")
    entries, _ = _scan(folder)
    total, removed = sum(size for _, size, _ in entries), []
    for _, size, files in sorted(entries):
        if total <= max_size:
            break
        for file in files:
            try:
                os.unlink(file)
            except FileNotFoundError:  # another process pruned it first
                continue
            removed.append(file)
        total -= size
    return removed


def _scan(folder: Path) -> tuple[list[tuple[float, int, list[Path]]], list[str]]:
    """The folder's JAX entries as ``(last use, bytes, [entry, companion])``, and the names of
    its other contents (the marker and JAX's lock aside), sorted."""
    found, foreign = {}, []
    for item in os.scandir(folder):
        match = _ENTRY.fullmatch(item.name)
        try:
            info = item.stat(follow_symlinks=False)
        except FileNotFoundError:  # removed meanwhile (another process pruning)
            continue
        if item.name in (MARKER, _JAX_LOCK) and stat.S_ISREG(info.st_mode):
            continue
        if match is None or not stat.S_ISREG(info.st_mode):
            foreign.append(item.name)
            continue
        used = info.st_mtime if match["kind"] == "atime" else max(info.st_atime, info.st_mtime)
        entry = found.setdefault(match["key"], {"used": 0.0, "size": 0, "files": {}})
        entry["used"] = max(entry["used"], used)
        entry["size"] += info.st_size
        entry["files"][match["kind"]] = Path(item.path)
    entries = [
        (entry["used"], entry["size"], [entry["files"][kind] for kind in ("cache", "atime")
                                        if kind in entry["files"]])
        for entry in found.values()
    ]
    return entries, sorted(foreign)


def _unowned(folder: Path) -> str | None:
    """Why the safe ``folder`` is not the cache's own to use (None when it is), marking an empty
    folder or one of JAX entries only."""
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        return f"{folder} is read-only for you (or unreadable); the cache needs to write to it"
    try:
        _, foreign = _scan(folder)
        if foreign:
            more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
            return (f"{folder} holds {foreign[0]!r}{more}, which jaxmlp did not write; the cache "
                    "needs a folder of its own (a new or empty one)")
        if not (folder / MARKER).is_file():
            with open(folder / MARKER, "x") as marker:  # "x": a second process adopting is fine
                marker.write(_MARKER_TEXT)
    except FileExistsError:
        pass
    except OSError as error:
        return f"cannot use {folder} ({_reason(error)})"
    return None


def _reason(error: OSError) -> str:
    """The words of an ``OSError`` with its file, in one line."""
    where = f": {error.filename}" if error.filename else ""
    return f"{error.strerror or error}{where}"


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
