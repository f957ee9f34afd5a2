"""Named data sets: search order, real files when present, not-found message, downloads."""

import hashlib
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from jaxmlp.data import datasets, fetch
from jaxmlp.data.datasets import (
    DATASETS,
    IDX_FILES,
    DatasetNotFoundError,
    as_images,
    load,
    locate,
    one_hot,
)
from jaxmlp.data.digits import read_digits
from jaxmlp.data.fetch import ChecksumError, DownloadError, download
from jaxmlp.data.idx import write_idx


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty home folder, no data-related environment, no Debian package."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("JAXMLP_DATA", "KERAS_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(
        datasets,
        "_DEBIAN",
        {"fashion-mnist": ("dataset-fashion-mnist", tmp_path / "usr-share-fashion-mnist")},
    )
    monkeypatch.setattr(datasets, "_dpkg_folders", lambda package: [])
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def write_set(folder: Path, n_train: int, n_test: int = 3, gz: bool = True, seed: int = 0):
    """Four small IDX files; pixel values and labels drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    arrays = [
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    ]
    for stem, array in zip(IDX_FILES, arrays, strict=True):
        write_idx(folder / f"{stem}{suffix}", array)
    return arrays


# --- real data (skipped where absent) ----------------------------------------------------


@pytest.fixture(scope="module", params=["fashion-mnist", "mnist"])
def real(request):
    found, searched = locate(request.param)
    if found is None:
        pytest.skip(
            f"{request.param} is not on this machine; get it with "
            f"`jaxmlp data download {request.param}` (looked in: {searched})"
        )
    return load(request.param)


def test_real_idx_sets_have_the_published_shapes_and_counts(real):
    (x, t), (x_test, t_test) = real
    assert x.shape == (60_000, 784) and x_test.shape == (10_000, 784)
    assert x.dtype == np.float32 and t.dtype == np.int32 and t_test.dtype == np.int32
    assert 0.0 == x.min() and x.max() == 1.0 and 0.0 <= x_test.min() and x_test.max() <= 1.0
    assert len(np.unique(x[:100])) > 100  # pixel / 255, not thresholded
    if len(np.unique(np.bincount(t))) == 1:  # Fashion-MNIST: exactly balanced
        assert np.bincount(t).tolist() == [6000] * 10
        assert np.bincount(t_test).tolist() == [1000] * 10
    else:  # MNIST: the well-known class counts
        assert np.bincount(t)[1] == 6742 and np.bincount(t_test)[1] == 1135
    assert as_images(x).shape == (60_000, 28, 28)


def test_digits_is_split_deterministically():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    (x, t), (x_test, t_test) = load("digits")
    assert x.shape == (1500, 64) and x_test.shape == (297, 64)
    assert x.dtype == np.float32 and t.dtype == np.int32
    assert x.min() == 0.0 and x.max() == 1.0
    digits = sklearn_datasets.load_digits()
    np.testing.assert_array_equal(np.concatenate([x, x_test]), digits.data / 16)
    np.testing.assert_array_equal(np.concatenate([t, t_test]), digits.target)
    assert set(t_test.tolist()) == set(range(10))
    assert as_images(x_test).shape == (297, 8, 8)
    found, searched = locate("digits")
    assert found.name == "digits.npz" and "bundled with jaxmlp" in searched[0]


def test_digits_load_without_scikit_learn():
    code = (
        "import sys; from jaxmlp.data import load; (x, t), _ = load('digits'); "
        "assert 'sklearn' not in sys.modules, 'scikit-learn imported'; print(x.shape, t[:3])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(1500,", "64)", "[0", "1", "2]"]


def test_damaged_digits_file_is_named(tmp_path):
    bad = tmp_path / "digits.npz"
    np.savez(bad, images=np.zeros((3, 64), np.uint8), labels=np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match=r"digits\.npz: expected .*reinstall jaxmlp"):
        read_digits(bad)


# --- search order ------------------------------------------------------------------------


def test_keras_cache_npz_and_idx_folder(home):
    rng = np.random.default_rng(1)
    keras = home / ".keras" / "datasets"
    keras.mkdir(parents=True)
    arrays = {
        "x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "y_train": np.array([0, 1, 2, 3, 9], np.uint8),
        "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "y_test": np.array([4, 5], np.uint8),
    }
    np.savez(keras / "mnist.npz", **arrays)
    (x, t), (x_test, _) = load("mnist")
    np.testing.assert_array_equal(x, arrays["x_train"].reshape(5, 784) / np.float32(255))
    assert t.tolist() == [0, 1, 2, 3, 9] and t.dtype == np.int32 and x_test.shape == (2, 784)
    assert locate("mnist")[0] == keras / "mnist.npz"

    written = write_set(keras / "fashion-mnist", 4)
    (x, t), _ = load("fashion-mnist")
    assert x.shape == (4, 784) and t.tolist() == written[1].tolist()


def test_keras_home_is_honoured(home, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    write_set(tmp_path / "kh" / "datasets" / "mnist", 6)
    assert load("mnist")[0][0].shape == (6, 784)


def test_search_order_data_dir_env_cache_keras_debian(home, tmp_path, monkeypatch):
    places = {
        "debian": tmp_path / "usr-share-fashion-mnist",
        "keras": home / ".keras" / "datasets" / "fashion-mnist",
        "cache": home / ".cache" / "jaxmlp" / "fashion-mnist",
        "env": tmp_path / "env",  # files directly in the folder
        "data_dir": tmp_path / "dd" / "fashion-mnist",
    }
    monkeypatch.setenv("JAXMLP_DATA", str(places["env"]))
    for n, (what, folder) in enumerate(places.items(), start=1):
        write_set(folder, n, gz=n % 2 == 0)
        found, _ = locate("fashion-mnist", tmp_path / "dd")
        assert found == folder, what
        assert load("fashion-mnist", tmp_path / "dd")[0][0].shape == (n, 784)


def test_dpkg_listing_is_used(home, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    write_set(elsewhere, 2)
    monkeypatch.setattr(datasets, "_dpkg_folders", lambda package: [elsewhere])
    assert locate("fashion-mnist")[0] == elsewhere


def test_dpkg_missing_is_skipped(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert datasets._dpkg_folders("dataset-fashion-mnist") == []


def test_incomplete_folder_is_reported(home, tmp_path):
    write_set(tmp_path / "dd", 2)
    (tmp_path / "dd" / "t10k-labels-idx1-ubyte.gz").unlink()
    found, searched = locate("mnist", tmp_path / "dd")
    assert found is None
    assert any("missing t10k-labels-idx1-ubyte" in s for s in searched)


def test_mismatched_files_raise_value_error(home, tmp_path):
    write_set(tmp_path / "dd", 3)
    write_idx(tmp_path / "dd" / "train-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte"):
        load("mnist", tmp_path / "dd")


# --- not found, unknown names ------------------------------------------------------------


def test_not_found_lists_every_place_and_how_to_get_it(home, tmp_path, monkeypatch):
    monkeypatch.setenv("JAXMLP_DATA", str(tmp_path / "env"))
    with pytest.raises(DatasetNotFoundError) as info:
        load("fashion-mnist", tmp_path / "dd")
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    _, searched = locate("fashion-mnist", tmp_path / "dd")
    for place in [
        tmp_path / "dd" / "fashion-mnist",
        tmp_path / "dd",
        tmp_path / "env",
        home / ".cache" / "jaxmlp" / "fashion-mnist",
        home / ".keras" / "datasets" / "fashion-mnist",
        tmp_path / "usr-share-fashion-mnist",
    ]:
        assert str(place) in message
        assert any(s.startswith(f"{place} (") for s in searched)
    assert "jaxmlp data download fashion-mnist" in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_not_found_mentions_unset_environment(home):
    with pytest.raises(DatasetNotFoundError, match=r"\$JAXMLP_DATA: not set"):
        load("mnist")


@pytest.mark.parametrize("call", [load, locate, download])
def test_unknown_name(call):
    with pytest.raises(
        ValueError, match=r"name: expected a data set name, one of mnist.*got 'cifar'"
    ):
        call("cifar")


def test_datasets_table():
    assert set(DATASETS) == {"mnist", "fashion-mnist", "digits"}
    assert "784" in DATASETS["mnist"] and "64" in DATASETS["digits"]


# --- download (no network here: file:// mirrors and failing openers) ----------------------


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A file:// mirror serving four small gz files, with the hash table patched to match."""
    folder = tmp_path / "mirror"
    write_set(folder, 5)
    digests = tuple(
        hashlib.sha256((folder / f"{s}.gz").read_bytes()).hexdigest() for s in IDX_FILES
    )
    monkeypatch.setitem(fetch.SHA256, "mnist", digests)
    monkeypatch.setitem(fetch.MIRRORS, "mnist", (folder.as_uri() + "/",))
    return folder


def test_download_then_load(mirror, tmp_path, monkeypatch):
    target = download("mnist", tmp_path / "data")
    assert target == tmp_path / "data" / "mnist"
    assert sorted(os.listdir(target)) == sorted(f"{s}.gz" for s in IDX_FILES)
    assert load("mnist", tmp_path / "data")[0][0].shape == (5, 784)

    def offline(*args, **kwargs):
        raise AssertionError("files already present must not be fetched again")

    monkeypatch.setattr(fetch, "_urlopen", offline)
    assert download("mnist", tmp_path / "data") == target


def test_download_uses_environment_folder(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("JAXMLP_DATA", str(tmp_path / "env"))
    assert download("mnist") == tmp_path / "env" / "mnist"


def test_download_falls_back_to_the_next_mirror(mirror, tmp_path, monkeypatch):
    monkeypatch.setitem(
        fetch.MIRRORS, "mnist", ((tmp_path / "nowhere").as_uri() + "/", mirror.as_uri() + "/")
    )
    assert len(os.listdir(download("mnist", tmp_path / "data"))) == 4


def test_download_offline_is_a_clean_connection_error(tmp_path, monkeypatch):
    def no_network(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(fetch, "_urlopen", no_network)
    with pytest.raises(DownloadError) as info:
        download("fashion-mnist", tmp_path)
    assert isinstance(info.value, ConnectionError) and isinstance(info.value, OSError)
    assert not isinstance(info.value, ChecksumError)
    message = str(info.value)
    assert "name resolution" in message and "internet" in message
    assert "fashion-mnist.s3-website" in message
    assert os.listdir(tmp_path / "fashion-mnist") == []


def test_checksum_mismatch_keeps_nothing(mirror, tmp_path, monkeypatch):
    monkeypatch.setitem(fetch.SHA256, "mnist", ("0" * 64,) * 4)
    with pytest.raises(ChecksumError, match=r"SHA-256 .* not the expected 0000"):
        download("mnist", tmp_path / "data")
    assert os.listdir(tmp_path / "data" / "mnist") == []


def test_real_hash_table_rejects_debian_recompressed_files(tmp_path, monkeypatch):
    debian = Path("/usr/share/datasets/fashion-mnist")
    if not (debian / "train-labels-idx1-ubyte.gz").is_file():
        pytest.skip("dataset-fashion-mnist is not installed")
    monkeypatch.setitem(fetch.MIRRORS, "fashion-mnist", (debian.as_uri() + "/",))
    with pytest.raises(ChecksumError):
        download("fashion-mnist", tmp_path)
    assert os.listdir(tmp_path / "fashion-mnist") == []


def test_hash_table_is_complete():
    for name, digests in fetch.SHA256.items():
        assert name in fetch.MIRRORS and len(digests) == len(IDX_FILES)
        assert all(len(d) == 64 and int(d, 16) >= 0 for d in digests)


def test_download_digits_is_refused(tmp_path):
    with pytest.raises(ValueError, match="ships with jaxmlp"):
        download("digits", tmp_path)


# --- one_hot, as_images ------------------------------------------------------------------


def test_one_hot_values():
    out = one_hot(np.array([2, 0, 1], np.int32))
    assert out.dtype == np.float32 and out.shape == (3, 3)
    np.testing.assert_array_equal(out, np.eye(3)[[2, 0, 1]])
    assert one_hot([1], num_classes=4).tolist() == [[0, 1, 0, 0]]
    assert one_hot(np.zeros(0, np.int64), 3).shape == (0, 3)


@pytest.mark.parametrize(
    ("t", "num_classes", "error", "message"),
    [
        ([0.0, 1.0], None, TypeError, "t: expected integer"),
        ([True], None, TypeError, "t: expected integer"),
        ([0, -1], 3, ValueError, "got label -1"),
        ([0, 3], 3, ValueError, r"0\.\.2 \(num_classes=3\), got label 3"),
        ([0], 0, ValueError, "num_classes: expected an integer >= 1, got 0"),
        ([0], 2.0, TypeError, "num_classes: expected an integer"),
        (
            np.zeros(0, int),
            None,
            ValueError,
            "num_classes: expected an integer >= 1 when t is empty",
        ),
    ],
)
def test_one_hot_errors(t, num_classes, error, message):
    with pytest.raises(error, match=message):
        one_hot(t, num_classes)


def test_as_images_errors():
    with pytest.raises(ValueError, match="square"):
        as_images(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="shape"):
        as_images(np.zeros((2, 2, 4)))
