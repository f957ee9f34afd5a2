"""Data for jaxmlp: IDX files, named data sets, splits and the TensorFlow Playground sets.

Nothing here imports from the rest of jaxmlp but its argument checks (:mod:`jaxmlp.core.values`)
and atomic writes (:mod:`jaxmlp.atomic`); arrays come back as numpy (float32 inputs, int32
labels), ready for `jax.numpy`.
"""

from .datasets import DATASETS, DatasetNotFoundError, as_images, load, locate, one_hot
from .fetch import ChecksumError, DownloadError, download
from .folds import fold_rows, kfold, stratified_kfold
from .idx import read_idx, read_idx_bytes, write_idx
from .playground import FEATURES, PLAYGROUND_DATASETS, features, playground_data, playground_points
from .split import batches, shuffle_order, train_val_test_split, validation_split

__all__ = [
    "DATASETS",
    "FEATURES",
    "PLAYGROUND_DATASETS",
    "ChecksumError",
    "DatasetNotFoundError",
    "DownloadError",
    "as_images",
    "batches",
    "download",
    "features",
    "fold_rows",
    "kfold",
    "load",
    "locate",
    "one_hot",
    "playground_data",
    "playground_points",
    "read_idx",
    "read_idx_bytes",
    "shuffle_order",
    "stratified_kfold",
    "train_val_test_split",
    "validation_split",
    "write_idx",
]
