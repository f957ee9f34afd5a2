"""Reading ``.npz`` archives defensively: every header first, then only the data asked for.

``numpy.load`` trusts a file: a 1 KB archive whose ``.npy`` header declares a 40 GB array makes it
allocate 40 GB, and a flipped byte can surface as ``NotImplementedError`` or ``struct.error``.
:class:`NpzFile` reads each member's header (magic, version, shape, dtype) without its data,
checks it against the archive's own sizes (the declared array must be exactly the member's bytes,
the member no larger than the file allows), refuses pickled objects, and turns every way a damaged
file can fail into one ``ValueError`` naming the file. Callers compare the headers with what they
expect (a checkpoint: its model's shapes) before they :meth:`NpzFile.read` anything.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["NpzFile"]

_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
_DEFLATE_RATIO = 1100  # deflate never expands data more than ~1032 times
_ERRORS = (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, OverflowError,
           MemoryError, NotImplementedError, RuntimeError, SyntaxError, UnicodeError,
           struct.error, zlib.error, zipfile.BadZipFile, zipfile.LargeZipFile)


class NpzFile:
    """An ``.npz`` archive opened for reading, with ``headers``: name -> ``(shape, dtype)``.

    Arguments:
        path: the archive.
        what: what the file should be, for messages (``"a jaxmlp checkpoint"``).
        members: a regular expression every member name (``NAME.npy``) must match fully.

    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(p, x=np.arange(3.0))
    >>> with NpzFile(p) as z:
    ...     z.headers["x"], z.read("x")
    (((3,), dtype('float64')), array([0., 1., 2.]))
    """

    def __init__(self, path: str | os.PathLike, what: str = "an .npz "
                                                            "archive", members: str = r".+\.npy"):
        self.path, self.what = Path(path), what
        self.label = f"{str(self.path)!r}"
        with self._reading("the zip archive"):
            self._zip = zipfile.ZipFile(self.path)
        try:
            self.headers = self._headers(re.compile(members))
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> NpzFile:
        return self

    def __exit__(self, *exc) -> None:
        self._zip.close()

    def refuse(self, reason: str) -> ValueError:
        """The error for a fault inside the file.

        It reads ``'<path>' is corrupt or not <what> (<reason>)``.
        """
        return ValueError(f"{self.label} is corrupt or not {self.what} ({reason})")

    def read(self, name: str) -> np.ndarray:
        """Member ``name``'s array (its CRC checked), read only now; its header passed already."""
        if name not in self.headers:
            raise self.refuse(f"no member {name!r}")
        with self._reading(name):
            member = io.BytesIO(self._zip.read(f"{name}.npy"))
            return np.lib.format.read_array(member, allow_pickle=False)

    @contextlib.contextmanager
    def _reading(self, what: str):
        try:
            yield
        except _ERRORS as error:
            raise self.refuse(f"{what}: {type(error).__name__}: {error}") from None

    def _headers(self, members: re.Pattern) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        size, headers = self.path.stat().st_size, {}
        with self._reading("the member list"):
            infos = self._zip.infolist()
        for info in infos:
            name = info.filename.removesuffix(".npy")
            if not members.fullmatch(info.filename) or name in headers:
                raise self.refuse(f"unexpected member {info.filename!r}")
            known = info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            if not known or info.flag_bits & 1:
                raise self.refuse(f"{info.filename}: compression {info.compress_type}, "
                                  f"flags {info.flag_bits}")
            stored = info.compress_type == zipfile.ZIP_STORED
            bound = info.compress_size if stored else _DEFLATE_RATIO * info.compress_size + 64
            if info.compress_size > size or info.file_size > bound:
                raise self.refuse(f"{info.filename}: declares {info.file_size} bytes in a "
                                  f"{size}-byte file")
            with self._reading(info.filename), self._zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version not in _HEADER_READERS:
                    raise ValueError(f"unsupported .npy version {version}")
                read = _HEADER_READERS[version]
                shape, _, dtype = read(f)
                offset = f.tell()
            if dtype.hasobject:
                raise self.refuse(f"{info.filename} holds Python objects, which are never "
                                  "unpickled")
            if offset + math.prod(shape) * dtype.itemsize != info.file_size:
                raise self.refuse(f"{info.filename} declares shape {shape} of {dtype}, which its "
                                  f"{info.file_size} bytes do not hold")
            headers[name] = (tuple(shape), dtype)
        return headers
