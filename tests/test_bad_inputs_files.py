"""Bad files: checkpoints, IDX files and named data sets give a ValueError / OSError naming the
file.

A table of hand-made faults (each from issue 13's list, plus those that already worked), then
Hypothesis flipping, truncating and overwriting bytes of a real checkpoint and IDX file: nothing
but ValueError / OSError may come out, and nothing is allocated beyond what the file holds.
"""

import gzip
import io
import json
import zipfile

import jax
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxmlp
from jaxmlp.data import load, read_idx, read_idx_bytes, write_idx

MODEL = jaxmlp.MLP((4, 3, 2), ("prelu", "softmax"))
PARAMS = MODEL.init(jax.random.key(0))
STATE = optax.adam(1e-3).init(PARAMS)


def members(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def rezip(path, out, **replace):
    with zipfile.ZipFile(out, "w") as z:
        for name, data in {**members(path), **replace}.items():
            if data is not None:
                z.writestr(name, data)
    return out


def npy(array=None, header=None, data=b""):
    """A .npy member: ``array`` saved, or a bare ``header`` dict followed by ``data``."""
    buffer = io.BytesIO()
    if array is not None:
        np.save(buffer, array)
    else:
        np.lib.format.write_array_header_1_0(buffer, header)
        buffer.write(data)
    return buffer.getvalue()


def meta(**changes):
    base = {
        "format": "jaxmlp-checkpoint",
        "version": 1,
        "step": 3,
        "history": {"loss": [0.5]},
        "run": {},
        "model": {"sizes": [4, 3, 2], "activations": ["prelu", "softmax"]},
        "opt_state_leaves": None,
    }
    return npy(np.array(json.dumps({**base, **changes})))


@pytest.fixture
def good(tmp_path):
    return jaxmlp.save(tmp_path / "good.npz", MODEL, PARAMS, STATE, step=3, history={"loss": [0.5]})


HUGE = {"descr": "<f4", "fortran_order": False, "shape": (100_000, 100_000)}  # 40 GB declared
CHECKPOINT_FAULTS = [  # (id, member changes, words)
    (
        "40GB-leaf",
        {"params/0/w.npy": npy(header=HUGE, data=b"\0" * 64)},
        ["params/0/w.npy", "(100000, 100000)"],
    ),
    ("40GB-opt-leaf", {"opt_state/1.npy": npy(header=HUGE)}, ["opt_state/1.npy"]),
    (
        "huge-meta",
        {"meta.npy": npy(header={"descr": "<U999999999", "fortran_order": False, "shape": ()})},
        ["meta.npy"],
    ),
    (
        "wrong-shape",
        {"params/0/w.npy": npy(np.zeros((4, 3), np.float32))},
        ["params[0]['w']", "(3, 4)"],
    ),
    ("int-leaf", {"params/1/b.npy": npy(np.zeros(2, np.int32))}, ["params[1]['b']", "float"]),
    (
        "nan-leaf",
        {"params/1/b.npy": npy(np.array([0, np.nan], np.float32))},
        ["params[1]['b']", "NaN"],
    ),
    ("missing-leaf", {"params/0/a.npy": None}, ["params/0/a"]),
    ("unexpected-member", {"evil.npy": npy(np.zeros(1))}, ["evil.npy"]),
    (
        "pickle",
        {"params/0/b.npy": npy(np.array([{"x": 1}, 2, 3], dtype=object))},
        ["Python objects"],
    ),
    ("no-meta", {"meta.npy": None}, ["no metadata"]),
    ("meta-not-string", {"meta.npy": npy(np.zeros(3))}, ["metadata"]),
    ("meta-not-json", {"meta.npy": npy(np.array("{step: 1"))}, ["unreadable metadata"]),
    ("meta-foreign", {"meta.npy": meta(format="other")}, ["not a jaxmlp checkpoint"]),
    ("meta-version", {"meta.npy": meta(version=99)}, ["version 99"]),
    ("step-true", {"meta.npy": meta(step=True)}, ["step", "True"]),
    ("step-negative", {"meta.npy": meta(step=-7)}, ["step", "-7"]),
    ("step-float", {"meta.npy": meta(step=1.5)}, ["step"]),
    ("step-missing", {"meta.npy": meta(step=None)}, ["step"]),
    ("history-string", {"meta.npy": meta(history="abcdef")}, ["history", "abcdef"]),
    ("history-strings", {"meta.npy": meta(history={"loss": ["a"]})}, ["history"]),
    ("history-bools", {"meta.npy": meta(history={"loss": [True]})}, ["history"]),
    ("history-flat", {"meta.npy": meta(history={"loss": 0.5})}, ["history"]),
    ("leaves-string", {"meta.npy": meta(opt_state_leaves="3")}, ["opt_state_leaves", "'3'"]),
    ("leaves-bool", {"meta.npy": meta(opt_state_leaves=True)}, ["opt_state_leaves"]),
    ("leaves-negative", {"meta.npy": meta(opt_state_leaves=-1)}, ["opt_state_leaves"]),
    ("leaves-count", {"meta.npy": meta(opt_state_leaves=2)}, ["2 optimizer state leaves"]),
    ("run-list", {"meta.npy": meta(run=[1, 2])}, ["run"]),
    ("model-missing", {"meta.npy": meta(model=None)}, ["model"]),
    (
        "model-activation",
        {"meta.npy": meta(model={"sizes": [4, 3, 2], "activations": ["x", "softmax"]})},
        ["bad model description"],
    ),
    (
        "model-sizes-str",
        {"meta.npy": meta(model={"sizes": "432", "activations": ["prelu", "softmax"]})},
        ["bad model description"],
    ),
    (
        "model-other",
        {"meta.npy": meta(model={"sizes": [4, 5, 2], "activations": ["prelu", "softmax"]})},
        ["does not fit its model"],
    ),
]


@pytest.mark.parametrize(
    "changes, words", [pytest.param(c, w, id=i) for i, c, w in CHECKPOINT_FAULTS]
)
def test_damaged_checkpoint_names_the_file(good, tmp_path, changes, words):
    bad = rezip(good, tmp_path / "bad.npz", **changes)
    with pytest.raises(ValueError) as info:
        jaxmlp.load(bad, optimizer=optax.adam(1e-3))
    for word in ["bad.npz", *words]:
        assert word in str(info.value), (word, str(info.value))


def test_optimizer_mismatch_and_folder_and_missing(good, tmp_path):
    with pytest.raises(ValueError, match="good.npz.*optimizer state has"):
        jaxmlp.load(good, optimizer=optax.sgd(0.1))
    with pytest.raises(IsADirectoryError, match="is a directory"):
        jaxmlp.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="nothere.npz.*does not exist"):
        jaxmlp.load(tmp_path / "nothere.npz")
    with pytest.raises(TypeError, match="path"):
        jaxmlp.load(3)


SAVE_FAULTS = [
    ("history-list", dict(history=[np.float32(0.5)]), TypeError, ["history", "dict"]),
    ("history-str-values", dict(history={"loss": "abc"}), TypeError, ["history['loss']"]),
    ("history-nested", dict(history={"loss": [[1.0]]}), TypeError, ["history['loss']"]),
    ("run-list", dict(run=[1]), TypeError, ["run"]),
    ("run-not-json", dict(run={"key": object()}), TypeError, ["run", "JSON"]),
    ("step-bool", dict(step=True), TypeError, ["step"]),
    ("step-negative", dict(step=-1), ValueError, ["step"]),
    ("step-float", dict(step=2.0), TypeError, ["step"]),
    ("path-suffix", dict(path="ck.pkl"), ValueError, ["path", ".npz"]),
    ("path-int", dict(path=7), TypeError, ["path"]),
    (
        "params-nan",
        dict(params=[{**PARAMS[0], "b": np.full(3, np.nan, np.float32)}, PARAMS[1]]),
        ValueError,
        ["params[0]['b']"],
    ),
    ("params-short", dict(params=PARAMS[:1]), ValueError, ["params"]),
    ("model", dict(model="mlp"), TypeError, ["model"]),
]


@pytest.mark.parametrize(
    "changes, error, words", [pytest.param(c, e, w, id=i) for i, c, e, w in SAVE_FAULTS]
)
def test_save_refuses(tmp_path, changes, error, words):
    args = {"path": tmp_path / "ck.npz", "model": MODEL, "params": PARAMS, **changes}
    with pytest.raises(error) as info:
        jaxmlp.save(**args)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert not list(tmp_path.iterdir())


def test_save_takes_numpy_and_jax_scalars(tmp_path):
    history = {
        "loss": [np.float32(0.5), jax.numpy.float32(0.25), 1],
        "val_loss": np.array([0.1, np.nan]),
    }
    loaded = jaxmlp.load(jaxmlp.save(tmp_path / "ck.npz", MODEL, PARAMS, history=history))
    assert loaded.history["loss"] == [0.5, 0.25, 1.0] and np.isnan(loaded.history["val_loss"][1])


# --- IDX files and named data sets ---------------------------------------------------------


def mnist_folder(folder, images=None, labels=None):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 4, 4), dtype=np.uint8) if images is None else images
    labels = np.arange(len(images), dtype=np.uint8) if labels is None else labels
    for prefix in ("train", "t10k"):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


DATA_FAULTS = [  # (id, images, labels, file named, words)
    (
        "label-200",
        None,
        np.array([0, 1, 200, 3, 4], np.uint8),
        "train-labels",
        ["0..9", "200", "row 2"],
    ),
    ("label-negative", None, np.array([0, -1, 2, 3, 4], np.int8), "train-labels", ["-1"]),
    ("label-nan", None, np.array([0, np.nan, 2, 3, 4], np.float32), "train-labels", ["nan"]),
    ("label-fraction", None, np.array([0, 1.5, 2, 3, 4], np.float64), "train-labels", ["1.5"]),
    (
        "zero-rows",
        np.zeros((0, 4, 4), np.uint8),
        np.zeros(0, np.uint8),
        "train-images",
        ["no images"],
    ),
    ("rows-mismatch", None, np.zeros(4, np.uint8), "train-images", ["(n,)"]),
    ("float-images", np.zeros((5, 4, 4), np.float32), None, "train-images", ["uint8"]),
    ("flat-images", np.zeros((5, 16), np.uint8), None, "train-images", ["(n, rows, cols)"]),
]


@pytest.mark.parametrize(
    "images, labels, named, words",
    [pytest.param(i, lab, n, w, id=k) for k, i, lab, n, w in DATA_FAULTS],
)
def test_bad_data_set_files_name_the_file(tmp_path, images, labels, named, words):
    mnist_folder(tmp_path / "mnist", images, labels)
    with pytest.raises(ValueError) as info:
        load("mnist", tmp_path)
    for word in [named, *words]:
        assert word in str(info.value), (word, str(info.value))


IDX_FAULTS = [
    ("empty", b"", "shorter than the magic"),
    ("magic", b"\x01\x00\x08\x01" + b"\0" * 8, "magic"),
    ("type", b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "type code"),
    ("ndim-0", b"\x00\x00\x08\x00", "dimensions"),
    ("header-cut", b"\x00\x00\x08\x03\x00\x00", "truncated header"),
    ("data-cut", b"\x00\x00\x08\x01\x00\x00\x00\x05\x01", "truncated"),
    ("trailing", b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "trailing data"),
    ("4GB-declared", b"\x00\x00\x0e\x02\xff\xff\xff\xff\xff\xff\xff\xff", "truncated"),
    ("gzip-corrupt", b"\x1f\x8b\x08\x00garbage", "gzip"),
]


@pytest.mark.parametrize("blob, words", [pytest.param(b, w, id=i) for i, b, w in IDX_FAULTS])
def test_bad_idx_files_name_the_file(tmp_path, blob, words):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match="bad-idx1-ubyte") as info:
        read_idx(path)
    assert words in str(info.value)


def test_idx_paths_and_argument_types(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "none-idx1-ubyte")
    with pytest.raises(IsADirectoryError):
        read_idx(tmp_path)
    with pytest.raises(TypeError, match="data"):
        read_idx_bytes("a string")
    with pytest.raises(ValueError, match="name: expected a data set name, .*got 'mnits'"):
        load("mnits")


# --- Hypothesis: any damage to the bytes is a ValueError or an OSError, never anything else -------


def _damaged(blob):
    """Where and how to damage ``blob``: half the positions in the zip headers and .npy headers,
    where a flip changes a compression method, a size or a declared shape."""
    hot = sorted(
        {
            i + k
            for sig in (b"PK\x03\x04", b"PK\x01\x02", b"\x93NUMPY")
            for i in _find(blob, sig)
            for k in range(48)
            if i + k < len(blob)
        }
    )
    at = st.one_of(st.integers(0, len(blob) - 1), st.sampled_from(hot or [0]))
    return st.one_of(
        st.tuples(st.just("flip"), at, st.integers(1, 255)),
        st.tuples(st.just("cut"), at, st.just(0)),
        st.tuples(st.just("splat"), at, st.integers(0, 2**32 - 1)),
    )


def _find(blob, sig):
    at, found = blob.find(sig), []
    while at >= 0:
        found.append(at)
        at = blob.find(sig, at + 1)
    return found


def _damage(blob, how):
    kind, at, value = how
    if kind == "cut":
        return blob[:at]
    out = bytearray(blob)
    if kind == "flip":
        out[at] ^= value
    else:
        out[at : at + 4] = value.to_bytes(4, "little")
    return bytes(out)


_TMP = {}  # one real checkpoint, written once for all examples


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_checkpoint_bytes_fail_only_with_value_or_os_errors(tmp_path_factory, data):
    if "ckpt" not in _TMP:
        folder = tmp_path_factory.mktemp("hyp")
        _TMP["ckpt"] = jaxmlp.save(
            folder / "c.npz", MODEL, PARAMS, STATE, 3, {"loss": [0.5]}
        ).read_bytes()
        _TMP["path"] = folder / "d.npz"
    blob = _TMP["ckpt"]
    how = data.draw(_damaged(blob))
    _TMP["path"].write_bytes(_damage(blob, how))
    try:
        jaxmlp.load(_TMP["path"], optimizer=optax.adam(1e-3) if how[1] % 2 else None)
    except (ValueError, OSError) as error:
        assert "d.npz" in str(error)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.booleans())
def test_idx_bytes_fail_only_with_value_errors(data, compressed):
    buffer = io.BytesIO()
    array = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    header = bytes([0, 0, 0x0B, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4])
    blob = header + array.astype(">i2").tobytes()
    if compressed:
        buffer.write(gzip.compress(blob, mtime=0))
        blob = buffer.getvalue()
    damaged = _damage(blob, data.draw(_damaged(blob)))
    try:
        out = read_idx_bytes(damaged, name="file-idx3")
    except ValueError as error:
        assert "file-idx3" in str(error)
    else:
        assert out.nbytes <= len(damaged) * 2000  # never more than the file (gzip: its ratio) holds
