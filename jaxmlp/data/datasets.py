"""Named data sets: MNIST, Fashion-MNIST and scikit-learn's 8×8 digits, found on disk or fetched.

`load` returns ``((x_train, t_train), (x_test, t_test))`` with inputs float32 in [0, 1], one
flattened image per row, and int32 class labels. MNIST and Fashion-MNIST are read from their IDX
files (gz or raw) or from a Keras ``NAME.npz``, searched in this order:

1. ``data_dir``, then ``$JAXMLP_DATA`` (each: the ``NAME/`` subfolder, then the folder itself);
2. jaxmlp's download cache ``$XDG_CACHE_HOME/jaxmlp/NAME`` (default ``~/.cache/jaxmlp``),
   where `download` puts the files when neither of the above is given;
3. Keras's cache, ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``): ``mnist.npz``,
   ``fashion-mnist/*.gz``;
4. for Fashion-MNIST, the Debian package ``dataset-fashion-mnist`` (``dpkg -L``, then its
   usual folder ``/usr/share/datasets/fashion-mnist``).

Nothing is downloaded unless `download` is called (the CLI: ``jaxmlp data download NAME``).
"digits" ships inside jaxmlp (``jaxmlp/data/digits.npz``, see :mod:`jaxmlp.data.digits`).
"""

from __future__ import annotations

import math
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from jaxmlp.core.values import check_int

from .digits import DIGITS_FILE, read_digits
from .idx import read_idx
from .npz import NpzFile

__all__ = [
    "DATASETS",
    "IDX_FILES",
    "DatasetNotFoundError",
    "as_images",
    "check_name",
    "download_dir",
    "load",
    "locate",
    "one_hot",
]

#: name -> short description (inputs, classes, sizes, source).
DATASETS: dict[str, str] = {
    "mnist": "handwritten digits, 28x28 = 784 inputs, 10 classes, 60,000 train / 10,000 test "
             "(LeCun, Cortes & Burges; IDX files)",
    "fashion-mnist": "clothing images, 28x28 = 784 inputs, 10 classes, 60,000 train / 10,000 "
                     "test (Zalando Research; IDX files)",
    "digits": "handwritten digits, 8x8 = 64 inputs, 10 classes, 1,500 train / 297 test "
              "(UCI optdigits as scikit-learn ships it; bundled with jaxmlp)",
}

#: The four IDX files of MNIST and Fashion-MNIST (train images, train labels, test ...).
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

_DEBIAN = {"fashion-mnist": ("dataset-fashion-mnist", Path("/usr/share/datasets/fashion-mnist"))}
_DIGITS_TRAIN = 1500
_CLASSES = 10  # MNIST and Fashion-MNIST alike


class DatasetNotFoundError(FileNotFoundError):
    """A named data set is not on this machine; the message says where it was looked for."""


def load(name: str, data_dir: str | os.PathLike | None = None
         ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load a named data set from disk (see the module docstring for where it looks).

    Arguments:
        name: a key of `DATASETS`: ``"mnist"``, ``"fashion-mnist"`` or ``"digits"``.
        data_dir: a folder searched first.

    Returns:
        ``((x_train, t_train), (x_test, t_test))``: x float32 ``(n, 784)`` in [0, 1] (pixel
        / 255), or ``(n, 64)`` for digits (pixel / 16); t int32 ``(n,)`` in 0..9. "digits" is
        split without randomness: its first 1,500 rows train, the last 297 test.

    Raises:
        DatasetNotFoundError: not found; the message lists every place searched and how to
            get the files.

    >>> (x, t), (x_test, t_test) = load("digits")
    >>> x.shape, x.dtype, t.dtype, x_test.shape
    ((1500, 64), dtype('float32'), dtype('int32'), (297, 64))
    """
    found, searched = locate(name, data_dir)
    if found is None:
        raise DatasetNotFoundError(_not_found_message(name, searched))
    if name == "digits":
        x, t = read_digits(found)
        return (x[:_DIGITS_TRAIN], t[:_DIGITS_TRAIN]), (x[_DIGITS_TRAIN:], t[_DIGITS_TRAIN:])
    if found.suffix == ".npz":
        with NpzFile(found, "a Keras data set archive") as z:
            if not {"x_train", "y_train", "x_test", "y_test"} <= set(z.headers):
                raise ValueError(f"{found}: expected arrays x_train, y_train, x_test, y_test; "
                                 f"found {', '.join(z.headers)}")
            arrays = [(z.read(f"x_{s}"), z.read(f"y_{s}"), f"{found}[x_{s}]", f"{found}[y_{s}]")
                      for s in ("train", "test")]
    else:
        paths = [_idx_path(found, stem) for stem in IDX_FILES]
        arrays = [(read_idx(paths[i]), read_idx(paths[i + 1]), str(paths[i]), str(paths[i + 1]))
                  for i in (0, 2)]
    return tuple(_images_and_labels(*a) for a in arrays)


def locate(name: str, data_dir: str | os.PathLike | None = None) -> tuple[Path | None, list[str]]:
    """Where `load` would read ``name`` from, and every place it searches.

    Returns:
        ``(found, searched)``: ``found`` is a folder holding the four IDX files, a Keras
        ``.npz`` file, jaxmlp's bundled digits file, or None; ``searched`` has one line per
        place, ``"<path> (<what>): <outcome>"``, in search order.

    >>> found, searched = locate("mnist", "/nonexistent")
    >>> searched[0]
    '/nonexistent/mnist (data_dir): no such folder'
    """
    check_name(name)
    if name == "digits":
        if not DIGITS_FILE.is_file():
            return None, [f"{DIGITS_FILE} (bundled with jaxmlp): missing"]
        return DIGITS_FILE, [f"{DIGITS_FILE} (bundled with jaxmlp): found"]
    found, searched = None, []
    for folder, what in _places(name, data_dir):
        if folder is None:
            searched.append(f"{what}: not set")
            continue
        hit, outcome = _look_in(folder, name)
        searched.append(f"{folder} ({what}): {outcome}")
        found = found or hit
    return found, searched


def one_hot(t: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer class labels: ``t (...,)`` -> float32 ``(..., num_classes)``.

    Arguments:
        t: integer labels in ``0 .. num_classes - 1``.
        num_classes: number of classes; default ``max(t) + 1``.

    >>> one_hot([2, 0], 3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    t = np.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(f"t: expected integer class labels, got dtype {t.dtype}")
    if num_classes is None:
        if t.size == 0:
            raise ValueError("num_classes: expected an integer >= 1 when t is empty, got None")
        num_classes = int(t.max()) + 1
    num_classes = check_int("num_classes", num_classes, 1)
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        bad = t[(t < 0) | (t >= num_classes)].flat[0]
        raise ValueError(f"t: expected labels in 0..{num_classes - 1} "
                         f"(num_classes={num_classes}), got label {bad}")
    return np.eye(num_classes, dtype=np.float32)[t]


def as_images(x: Any) -> Any:
    """Square view of flattened images: ``(n, s*s)`` -> ``(n, s, s)``, ``(s*s,)`` -> ``(s, s)``.

    >>> import numpy as np
    >>> as_images(np.zeros((5, 784))).shape, as_images(np.zeros(64)).shape
    ((5, 28, 28), (8, 8))
    """
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) not in (1, 2):
        raise ValueError(f"x: expected shape (n, d) or (d,), got {shape}")
    side = math.isqrt(shape[-1])
    if side * side != shape[-1]:
        raise ValueError(f"x: expected a square number of pixels on the last axis, "
                         f"got {shape[-1]}")
    return x.reshape(*shape[:-1], side, side)


def check_name(name: Any) -> None:
    """A ``ValueError`` unless ``name`` is one of :data:`DATASETS`.

    >>> check_name("cifar")
    Traceback (most recent call last):
    ValueError: name: expected a data set name, one of mnist, fashion-mnist, digits, got 'cifar'
    """
    if name not in DATASETS:
        raise ValueError(f"name: expected a data set name, one of {', '.join(DATASETS)}, "
                         f"got {name!r}")


def download_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The folder a download of ``name`` goes to: ``<dir>/NAME``, where ``<dir>`` is ``data_dir``,
    else ``$JAXMLP_DATA``, else jaxmlp's cache (``$XDG_CACHE_HOME/jaxmlp`` or ``~/.cache/jaxmlp``).

    >>> download_dir("mnist", "/data").as_posix()
    '/data/mnist'
    """
    return Path(data_dir or os.environ.get("JAXMLP_DATA") or _cache_dir()).expanduser() / name


# --- helpers ------------------------------------------------------------------------------


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jaxmlp"


def _places(name: str, data_dir: str | os.PathLike | None) -> list[tuple[Path | None, str]]:
    places: list[tuple[Path | None, str]] = []
    for base, what in ((data_dir, "data_dir"), (os.environ.get("JAXMLP_DATA"), "$JAXMLP_DATA")):
        if base:
            base = Path(base).expanduser()
            places += [(base / name, what), (base, what)]
        elif what == "$JAXMLP_DATA":
            places.append((None, what))
    places.append((_cache_dir() / name, "jaxmlp download cache"))
    keras = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"
    places += [(keras / name, "Keras cache"), (keras, "Keras cache")]
    if name in _DEBIAN:
        package, usual = _DEBIAN[name]
        folders = _dpkg_folders(package)
        places += [(f, f"Debian package {package}") for f in folders if f != usual]
        places.append((usual, f"Debian package {package}"))
    return places


def _dpkg_folders(package: str) -> list[Path]:
    try:
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True,
                                 timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({Path(line).parent for line in listing.splitlines()
                   if line.endswith(f"{IDX_FILES[0]}.gz") or line.endswith(IDX_FILES[0])})


def _look_in(folder: Path, name: str) -> tuple[Path | None, str]:
    if not folder.is_dir():
        return None, "no such folder"
    if all(_idx_path(folder, stem) for stem in IDX_FILES):
        return folder, "found IDX files"
    npz = folder / f"{name}.npz"
    if npz.is_file():
        return npz, f"found {npz.name}"
    missing = [s for s in IDX_FILES if _idx_path(folder, s) is None]
    return None, f"missing {', '.join(s + '[.gz]' for s in missing)}"


def _idx_path(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _images_and_labels(images: np.ndarray, labels: np.ndarray, source: str, label_source: str
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Check a pair of image and label arrays and scale them; errors name the faulty file."""
    if images.dtype != np.uint8 or images.ndim != 3 or labels.ndim != 1 or (
            len(images) != len(labels)):
        raise ValueError(f"{source}: expected uint8 images (n, rows, cols) and labels (n,), got "
                         f"{images.dtype} {images.shape} and {labels.shape}")
    if images.size == 0:
        raise ValueError(f"{source}: holds no images (shape {images.shape})")
    if labels.dtype.kind not in "iuf":
        raise ValueError(f"{label_source}: expected integer class labels, got dtype {labels.dtype}")
    bad = ~np.isin(labels, np.arange(_CLASSES))  # NaN, fractions and out-of-range labels alike
    if bad.any():
        at = int(np.argmax(bad))
        raise ValueError(f"{label_source}: labels must be integers 0..{_CLASSES - 1}, got "
                         f"{labels[at]} at row {at}")
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    return x, labels.astype(np.int32)


def _not_found_message(name: str, searched: list[str]) -> str:
    if name == "digits":
        return (f"data set 'digits' ships with jaxmlp, but {DIGITS_FILE} is missing: "
                "reinstall jaxmlp")
    lines = [f"data set {name!r} not found. Looked in:", *(f"  {s}" for s in searched),
             "Get it with:", f"  jaxmlp data download {name}   (into {download_dir(name, None)})"]
    if name in _DEBIAN:
        lines.append(f"  apt-get install {_DEBIAN[name][0]}   (Debian / Ubuntu)")
    lines.append(f"or put {', '.join(f + '.gz' for f in IDX_FILES)} (gz or raw) in a folder and "
                 "pass data_dir= or set JAXMLP_DATA.")
    return "\n".join(lines)
