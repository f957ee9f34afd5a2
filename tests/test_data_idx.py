"""IDX reader and writer: round trips, exact header checks, and fuzzing for clean errors."""

import gzip
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaxmlp.data.idx import DTYPES, read_idx, read_idx_bytes, write_idx

FUZZ = settings(max_examples=200, deadline=None)


def header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)


VALID = header(0x08, (3, 4)) + bytes(range(12))
VALID_GZ = gzip.compress(VALID, mtime=0)


def parse_or_value_error(data: bytes) -> None:
    """The only outcomes allowed for arbitrary input: an array, or a ValueError."""
    try:
        out = read_idx_bytes(data, name="fuzz")
    except ValueError as exc:
        assert "fuzz" in str(exc)
    else:
        assert isinstance(out, np.ndarray)


# --- round trips ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from([d.newbyteorder("=") for d in DTYPES.values()]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5),
    ),
    compress=st.booleans(),
    big_endian=st.booleans(),
)
def test_round_trip_every_dtype_and_rank(array, compress, big_endian):
    if big_endian:
        array = array.astype(array.dtype.newbyteorder(">"))
    with tempfile.TemporaryDirectory() as tmp:
        path = write_idx(Path(tmp) / "a.idx", array, compress=compress)
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
        back = read_idx(path)
        assert os.listdir(tmp) == ["a.idx"]  # no temporary file left behind
    assert back.dtype == array.dtype.newbyteorder("=") and back.dtype.isnative
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    back[...] = 0  # writable


@pytest.mark.parametrize("code", sorted(DTYPES))
def test_header_bytes_and_type_codes(tmp_path, code):
    array = np.arange(6).reshape(2, 3).astype(DTYPES[code])
    raw = write_idx(tmp_path / "x", array).read_bytes()
    assert raw[:12] == header(code, (2, 3))
    assert raw[12:] == array.astype(DTYPES[code]).tobytes()  # big-endian values


def test_compression_follows_the_suffix_unless_told(tmp_path):
    a = np.arange(5, dtype=np.uint8)
    assert write_idx(tmp_path / "a.gz", a).read_bytes()[:2] == b"\x1f\x8b"
    assert write_idx(tmp_path / "b", a).read_bytes()[:2] == b"\x00\x00"
    assert write_idx(tmp_path / "c", a, compress=True).read_bytes()[:2] == b"\x1f\x8b"
    assert write_idx(tmp_path / "d.gz", a, compress=False).read_bytes()[:2] == b"\x00\x00"
    for name in ("a.gz", "b", "c", "d.gz"):  # gzip is detected by content, not by name
        np.testing.assert_array_equal(read_idx(tmp_path / name), a)
    same = [write_idx(tmp_path / f, a).read_bytes() for f in ("e.gz", "f.gz")]
    assert same[0] == same[1]  # reproducible bytes (no timestamp in the gzip header)


def test_write_replaces_atomically(tmp_path):
    path = tmp_path / "a.gz"
    write_idx(path, np.zeros(3, np.uint8))
    write_idx(path, np.ones(4, np.int16))
    np.testing.assert_array_equal(read_idx(path), np.ones(4, np.int16))
    assert sorted(os.listdir(tmp_path)) == ["a.gz"]


@pytest.mark.parametrize(
    "array",
    [np.zeros(3, np.int64), np.zeros(3, bool), np.zeros(3, np.uint16), np.zeros(3, np.complex64)],
)
def test_write_rejects_dtypes_idx_cannot_hold(tmp_path, array):
    with pytest.raises(TypeError, match="dtype"):
        write_idx(tmp_path / "x", array)
    assert os.listdir(tmp_path) == []


def test_write_rejects_scalars(tmp_path):
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))


# --- exact errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "shorter than the magic"),
        (b"\x00\x00\x08", "shorter than the magic"),
        (b"\x01\x00\x08\x01" + bytes(5), "not an IDX file"),
        (b"\x00\x00\x0a\x01\x00\x00\x00\x01\x00", "unknown IDX type code 0x0a"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x64" + bytes(400), "100 dimensions; 1 to 32"),
        (header(0x08, (3, 4))[:10], "truncated header"),
        (VALID[:-1], "truncated"),
        (VALID + b"\x00", "trailing data"),
        (header(0x0E, (2,)) + bytes(15), "needs 16 data bytes, found 15"),
        (VALID_GZ[:-9], "corrupt gzip stream"),
        (VALID_GZ[:10] + b"\xff" * 20, "corrupt gzip stream"),
        (gzip.compress(VALID[:-2], mtime=0), "truncated"),
        (VALID_GZ + b"garbage", "corrupt gzip stream"),
    ],
)
def test_malformed_input_raises_value_error_naming_the_fault(data, message):
    with pytest.raises(ValueError, match=message):
        read_idx_bytes(data, name="thing.idx")
    with pytest.raises(ValueError, match=r"thing\.idx"):
        read_idx_bytes(data, name="thing.idx")


def test_read_idx_names_the_file(tmp_path):
    path = tmp_path / "broken-idx1-ubyte.gz"
    path.write_bytes(VALID_GZ[:-9])
    with pytest.raises(ValueError, match=r"broken-idx1-ubyte\.gz"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_huge_declared_size_is_refused_without_allocating_it(compress):
    data = header(0x0E, (2**32 - 1, 2**32 - 1, 2**32 - 1)) + bytes(64)
    if compress:
        data = gzip.compress(data)
    with pytest.raises(ValueError, match="truncated"):
        read_idx_bytes(data)


def test_empty_dimension_is_a_valid_empty_array():
    out = read_idx_bytes(header(0x0D, (0, 2**32 - 1)))
    assert out.shape == (0, 2**32 - 1) and out.dtype == np.float32


def test_read_idx_bytes_rejects_non_bytes():
    with pytest.raises(TypeError, match="bytes"):
        read_idx_bytes("not bytes")


# --- fuzzing ----------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data):
    parse_or_value_error(data)


@FUZZ
@given(
    code=st.integers(0, 255),
    dims=st.lists(st.integers(0, 2**32 - 1), max_size=70),
    body=st.binary(max_size=64),
)
def test_fuzz_plausible_headers(code, dims, body):
    parse_or_value_error(
        bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + body
    )


@FUZZ
@given(
    compressed=st.booleans(),
    cut=st.integers(0, 200),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), max_size=4),
)
def test_fuzz_truncations_and_bit_flips_of_a_valid_file(compressed, cut, flips):
    data = bytearray(VALID_GZ if compressed else VALID)
    for position, bit in flips:
        data[position % len(data)] ^= 1 << bit
    parse_or_value_error(bytes(data[: len(data) - cut % (len(data) + 1)]))


@FUZZ
@given(st.binary(max_size=100))
def test_fuzz_random_gzip_payloads(payload):
    parse_or_value_error(gzip.compress(payload))


def test_a_zero_dimension_beside_huge_ones_is_named():
    """Hypothesis found it: [0, 130, 312, 5430334, 10469002] holds no values, yet no array of that
    shape exists; NumPy's own error did not name the file."""
    dims = [0, 130, 312, 5430334, 10469002]
    data = bytes([0, 0, 12, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    with pytest.raises(ValueError, match="^fuzz: shape .* is larger than any array can be"):
        read_idx_bytes(data, name="fuzz")
