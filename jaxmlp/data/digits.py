"""The 8×8 digits that ship inside jaxmlp: read with NumPy from ``digits.npz`` beside this file.

Provenance: E. Alpaydin and C. Kaynak, *Optical Recognition of Handwritten Digits*, UCI Machine
Learning Repository (1998, CC BY 4.0), as scikit-learn ships it (``sklearn.datasets.load_digits``,
a copy of UCI's test part ``optdigits.tes``): 1,797 images of 8×8 blocks, each pixel the count
(0..16) of set pixels in a 4×4 block of a 32×32 bitmap, written by 43 people; labels 0..9. The
file was written once with scikit-learn 1.9.1 and is not regenerated at run time::

    d = sklearn.datasets.load_digits()
    numpy.savez_compressed("digits.npz", images=d.data.astype(numpy.uint8),
                           labels=d.target.astype(numpy.uint8))

``tests/test_data_datasets.py`` checks it equal to scikit-learn's copy whenever scikit-learn is
installed. Reading it needs only NumPy (about 10 ms); scikit-learn is never imported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .npz import NpzFile

__all__ = ["DIGITS_FILE", "read_digits"]

#: the bundled archive: ``images`` uint8 ``(1797, 64)`` in 0..16, ``labels`` uint8 ``(1797,)``
DIGITS_FILE = Path(__file__).with_name("digits.npz")

_LEVELS = 16  # the largest pixel count
_HEADERS = {"images": ((1797, 64), np.dtype(np.uint8)), "labels": ((1797,), np.dtype(np.uint8))}


def read_digits(path: str | Path = DIGITS_FILE) -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits in the file's order: ``x`` float32 ``(1797, 64)`` = pixel / 16 in [0, 1],
    ``t`` int32 ``(1797,)`` in 0..9. A damaged file is a ``ValueError`` naming it.

    >>> x, t = read_digits()
    >>> x.shape, x.dtype, float(x.max()), t[:5].tolist()
    ((1797, 64), dtype('float32'), 1.0, [0, 1, 2, 3, 4])
    """
    with NpzFile(path, "jaxmlp's bundled digits") as archive:
        if archive.headers != _HEADERS:
            raise ValueError(f"{path}: expected {_HEADERS}, got {archive.headers}; reinstall "
                             "jaxmlp")
        images, labels = archive.read("images"), archive.read("labels")
    if images.max() > _LEVELS or labels.max() > 9:
        raise ValueError(f"{path}: pixel counts must lie in 0..{_LEVELS} and labels in 0..9; "
                         "reinstall jaxmlp")
    return images.astype(np.float32) / np.float32(_LEVELS), labels.astype(np.int32)
