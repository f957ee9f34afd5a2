"""k-fold cross-validation (deck 004): the one fold rule of jaxmlp.

:func:`kfold` cuts the rows into k folds whose sizes differ by at most one (the first ``n % k``
folds hold one row more), so that every row validates exactly once. :func:`fold_rows` is the same
cut as index arrays, as :func:`jaxmlp.fit_many` (``folds=k``) trains model i on every row but fold
i's. :func:`stratified_kfold` keeps the class proportions in every fold.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import numpy as np

from jaxmlp.core.values import check_int, check_key

from .split import check_labels, permutation, shuffle_within_classes

__all__ = ["fold_rows", "fold_sizes", "kfold", "stratified_kfold"]


def kfold(
    key: jax.Array | None, n: int, k: int, shuffle: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """k-fold cross-validation: yield ``(train_idx, val_idx)`` k times (deck 004).

    ``range(n)`` (randomly permuted when ``shuffle``) is cut into k consecutive folds; the
    first ``n % k`` folds hold ``n // k + 1`` rows, the others ``n // k``. Each fold validates
    once while the other k - 1 train. Arguments are checked when `kfold` is called.

    Arguments:
        key: a `jax.random` key; may be None when ``shuffle=False``.
        n: number of rows.
        k: number of folds, 2 <= k <= n.
        shuffle: permute before cutting (default); otherwise the folds are contiguous.

    >>> [v.tolist() for _, v in kfold(None, 5, 2, shuffle=False)]
    [[0, 1, 2], [3, 4]]
    """
    n = check_int("n", n, 2)
    k = check_int("k", k, 2)
    if k > n:
        raise ValueError(f"k: expected at most n={n}, got k={k}")
    if shuffle:
        check_key(key)
        order = permutation(key, n)
    else:
        order = np.arange(n, dtype=np.int64)
    fold = np.empty(n, dtype=np.int64)
    fold[order] = np.repeat(np.arange(k), fold_sizes(n, k))
    return _folds(fold, k)


def stratified_kfold(
    key: jax.Array, labels: Any, k: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """k-fold cross-validation keeping the class proportions in every fold.

    Within each class the rows are permuted; the classes are then laid end to end and dealt to
    the folds in turn (0, 1, ..., k-1, 0, 1, ...), so every fold receives each class's count
    divided by k, give or take one, and fold sizes differ by at most one.

    Arguments:
        key: a `jax.random` key.
        labels: ``(n,)`` class labels.
        k: number of folds, 2 <= k <= the smallest class count.

    >>> import jax, numpy as np
    >>> folds = list(stratified_kfold(jax.random.key(0), np.repeat([0, 1], 6), 3))
    >>> [np.bincount(np.repeat([0, 1], 6)[v]).tolist() for _, v in folds]
    [[2, 2], [2, 2], [2, 2]]
    """
    check_key(key)
    labels = check_labels("labels", labels, None)
    k = check_int("k", k, 2)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if k > counts.min():
        raise ValueError(f"k: expected at most the smallest class count {counts.min()} "
                         f"(class {classes[counts.argmin()]!r}), got k={k}")
    fold = np.empty(len(labels), dtype=np.int64)
    fold[shuffle_within_classes(key, inverse)] = np.arange(len(labels)) % k
    return _folds(fold, k)


def fold_sizes(n: int, k: int) -> list[int]:
    """The sizes of the k consecutive folds of ``n`` rows: the first ``n % k`` hold one more.

    >>> fold_sizes(7, 3)
    [3, 2, 2]
    """
    return [n // k + (i < n % k) for i in range(k)]


def fold_rows(n: int, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(train, val)``: for each of the k contiguous folds of :func:`kfold` (``shuffle=False``),
    its training rows (every other row) and its validation rows, as int32 index arrays.

    >>> [v.tolist() for v in fold_rows(7, 3)[1]]
    [[0, 1, 2], [3, 4], [5, 6]]
    """
    pairs = list(kfold(None, n, k, shuffle=False))
    return [a.astype(np.int32) for a, _ in pairs], [b.astype(np.int32) for _, b in pairs]


def _folds(fold: np.ndarray, k: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for i in range(k):
        yield np.flatnonzero(fold != i), np.flatnonzero(fold == i)
