"""IDX files: the format MNIST and Fashion-MNIST are distributed in.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the values
in C order, big-endian::

    byte 0, 1   zero
    byte 2      type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                           0x0D float32, 0x0E float64
    byte 3      number of dimensions d
    4 * d       the sizes, uint32 big-endian
    ...         prod(sizes) values

Files are often gzip-compressed; the reader recognises gzip by its magic bytes ``1f 8b``, not by
the file name. A file that does not follow the layout exactly raises ``ValueError`` naming the
file and the fault, and the declared size is checked against the data actually present before
anything is allocated.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from math import prod
from pathlib import Path

import numpy as np

from jaxmlp.atomic import write_atomic

__all__ = ["DTYPES", "read_idx", "read_idx_bytes", "write_idx"]

#: IDX type code -> big-endian numpy dtype.
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_MAX_NDIM = 32  # numpy's limit is 32 or 64 depending on the version; MNIST uses 1 and 3


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw, into a native-endian numpy array.

    Arguments:
        path: the file. Compression is detected from the content (gzip magic ``1f 8b``).

    Returns:
        An array of the file's shape ``(d0, ..., d_{k-1})`` and dtype (uint8, int8, int16,
        int32, float32 or float64), writable, in native byte order.

    Raises:
        ValueError: the file is not a well-formed IDX file (bad magic, unknown type code,
            truncated or oversized data, corrupt gzip stream); the message names the file.
        FileNotFoundError / PermissionError: the file cannot be opened.

    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "a-idx2-ubyte.gz")
    >>> _ = write_idx(p, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(p)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    path = Path(path)
    return read_idx_bytes(path.read_bytes(), name=str(path))


def read_idx_bytes(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an IDX file (gzip-compressed or raw); see `read_idx`.

    Arguments:
        data: the whole file content.
        name: how the error messages refer to it.

    >>> read_idx_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]))
    array([7, 9], dtype=uint8)
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:2] == _GZIP_MAGIC:
        return _parse(_Gunzip(data, name), name)
    return _parse(_Raw(data), name)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file, atomically (temporary file + ``os.replace``).

    Arguments:
        path: the destination; its directory must exist.
        array: 1 to 32 dimensions, each below 2**32, dtype uint8, int8, int16, int32,
            float32 or float64 (any byte order).
        compress: gzip the file; ``None`` (default) compresses when ``path`` ends in ``.gz``.

    Returns:
        ``path`` as a `Path`.

    >>> import tempfile, os, numpy as np
    >>> p = write_idx(os.path.join(tempfile.mkdtemp(), "x.idx"), np.float32([1.5, -2]))
    >>> p.read_bytes()[:8].hex()
    '00000d0100000002'
    """
    path = Path(path)
    array = np.asarray(array)
    code = _type_code(array.dtype)
    if not 1 <= array.ndim <= _MAX_NDIM:
        raise ValueError(f"array: expected 1 to {_MAX_NDIM} dimensions, got shape {array.shape}")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"array: expected dimensions below 2**32, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    payload = header + np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()
    if compress is None:
        compress = path.name.endswith(".gz")
    if compress:
        payload = gzip.compress(payload, mtime=0)
    write_atomic(path, payload)
    return path


# --- helpers ------------------------------------------------------------------------------


def _type_code(dtype: np.dtype) -> int:
    for code, idx_dtype in DTYPES.items():
        if dtype.kind == idx_dtype.kind and dtype.itemsize == idx_dtype.itemsize:
            return code
    allowed = ", ".join(str(d.newbyteorder("=")) for d in DTYPES.values())
    raise TypeError(f"array: expected a dtype of {allowed}, got dtype {dtype}")


def _parse(stream: _Raw | _Gunzip, name: str) -> np.ndarray:
    magic = stream.read(4)
    if len(magic) < 4:
        raise ValueError(f"{name}: not an IDX file: {len(magic)} bytes, shorter than the magic")
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(f"{name}: not an IDX file: magic starts {magic[:2].hex()}, not 0000")
    if magic[2] not in DTYPES:
        raise ValueError(f"{name}: unknown IDX type code 0x{magic[2]:02x}")
    ndim = magic[3]
    if not 1 <= ndim <= _MAX_NDIM:
        raise ValueError(f"{name}: IDX header declares {ndim} dimensions; 1 to {_MAX_NDIM} "
                         "are supported")
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise ValueError(f"{name}: truncated header: {ndim} dimensions declared, "
                         f"{len(raw_dims) // 4} present")
    shape = tuple(int.from_bytes(raw_dims[i:i + 4], "big") for i in range(0, 4 * ndim, 4))
    dtype = DTYPES[magic[2]]
    too_large = prod(d for d in shape if d) * dtype.itemsize > np.iinfo(np.intp).max
    if 0 in shape and too_large:  # no values, yet no array has that shape (else: truncated)
        raise ValueError(f"{name}: shape {shape} of {dtype.newbyteorder('=')} is larger than any "
                         "array can be")
    expected = prod(shape) * dtype.itemsize
    body = stream.read(expected + 1)  # one byte more reveals trailing garbage
    if len(body) != expected:
        kind = "truncated" if len(body) < expected else "trailing data"
        got = f"{len(body)}" if len(body) <= expected else "more"
        raise ValueError(f"{name}: {kind}: shape {shape} of {dtype.newbyteorder('=')} needs "
                         f"{expected} data bytes, found {got}")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


class _Raw:
    """Read an uncompressed byte string piece by piece."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int) -> bytes:
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out


class _Gunzip:
    """Decompress in bounded chunks, so that a size declared in a header costs nothing until
    the data is really there; every gzip failure becomes a ValueError naming the file."""

    def __init__(self, data: bytes, name: str) -> None:
        self._file = gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb")
        self._name = name

    def read(self, n: int) -> bytes:
        parts, got = [], 0
        while got < n:
            try:
                chunk = self._file.read(min(_CHUNK, n - got))
            except (OSError, EOFError, zlib.error, struct.error) as exc:
                raise ValueError(f"{self._name}: corrupt gzip stream: {exc}") from None
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)
