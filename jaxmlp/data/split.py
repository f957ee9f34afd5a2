"""Splitting a data set: train / validation / test, and an epoch's mini-batches.

Deck 004 splits the data into training (60-80 %), validation (10-20 %) and test (10-20 %)
sets, estimates generalisation by k-fold cross-validation, and trains on random mini-batches.
Every random choice here takes an explicit `jax.random` key, so a split is a pure function of
its arguments. Index sets come back as sorted numpy int64 arrays (the order inside a set
carries no information; `batches` gives an epoch's mini-batches in `shuffle_order`, the
order `jaxmlp.fit` trains in).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from jaxmlp.core.values import check_fraction, check_int, check_key

__all__ = [
    "batches",
    "shuffle_order",
    "split_index",
    "train_val_test_split",
    "validation_split",
]


def validation_split(x: Any, t: Any, fraction: float) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Hold out the LAST ``fraction`` of the rows for validation, as Keras's ``validation_split``.

    Exactly Keras's rule: the rows are split before any shuffling, at
    ``split_at = floor(n * (1 - fraction))``; rows ``[:split_at]`` train, ``[split_at:]``
    validate. Shuffle the data first yourself if its order is meaningful (e.g. sorted by class).

    Arguments:
        x: inputs, ``(n, ...)`` (numpy or jax array).
        t: targets, ``(n, ...)``.
        fraction: the validation share, strictly between 0 and 1.

    Returns:
        ``((x_train, t_train), (x_val, t_val))``, slices of the inputs.

    >>> import numpy as np
    >>> (xt, tt), (xv, tv) = validation_split(np.zeros((60000, 2)), np.zeros(60000), 0.2)
    >>> len(xt), len(xv)
    (48000, 12000)
    """
    n = _num_rows("x", x)
    if _num_rows("t", t) != n:
        raise ValueError(f"x and t: expected the same number of rows, got {n} and {len(t)}")
    split_at = split_index(n, fraction)
    return (x[:split_at], t[:split_at]), (x[split_at:], t[split_at:])


def split_index(n: int, fraction: float, name: str = "validation_split") -> int:
    """Keras's cut for a held-out LAST fraction: ``floor(n * (1 - fraction))`` training rows.

    The one place this rule lives (``validation_split``, the command line and the benchmarks call
    it). Raises ``ValueError`` naming ``name`` when either side would be empty.

    >>> split_index(60000, 0.2), split_index(1797, 0.2)
    (48000, 1437)
    """
    n = check_int("n", n, 1)
    fraction = check_fraction(name, fraction)
    split_at = math.floor(n * (1.0 - fraction))
    if split_at == 0 or split_at == n:
        empty = "training" if split_at == 0 else "validation"
        raise ValueError(f"{name}: expected a fraction of n={n} rows that leaves both sets "
                         f"non-empty, got {fraction}, which leaves an empty {empty} set")
    return split_at


def train_val_test_split(
    key: jax.Array,
    n: int,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    stratify: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Randomly split ``range(n)`` into training, validation and test indices.

    The three fractions must each lie in (0, 1) and sum to 1 (within 1e-6), so that no row is
    silently dropped. The cut points are ``round(n * f_train)`` and
    ``round(n * (f_train + f_val))`` (halves round up) of a random permutation. With
    ``stratify=labels`` the same cut is made inside every class, so each part keeps the class
    proportions (up to rounding).

    Arguments:
        key: a `jax.random` key.
        n: number of rows, >= 3.
        fractions: ``(f_train, f_val, f_test)``.
        stratify: optional labels ``(n,)``, any values `numpy.unique` can sort.

    Returns:
        ``(train_idx, val_idx, test_idx)``: disjoint, sorted int64 arrays covering ``range(n)``.

    >>> import jax
    >>> tr, va, te = train_val_test_split(jax.random.key(0), 100)
    >>> len(tr), len(va), len(te)
    (70, 15, 15)
    """
    check_key(key)
    n = check_int("n", n, 3)
    cuts = _check_fractions(fractions)
    if stratify is None:
        groups = [permutation(key, n)]
    else:
        labels = check_labels("stratify", stratify, n)
        _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        groups = np.split(shuffle_within_classes(key, inverse), np.cumsum(counts)[:-1])
    parts: list[list[np.ndarray]] = [[], [], []]
    for group in groups:
        bounds = [0, *(math.floor(len(group) * c + 0.5) for c in cuts), len(group)]
        for i in range(3):
            parts[i].append(group[bounds[i]:bounds[i + 1]])
    result = tuple(np.sort(np.concatenate(p)) for p in parts)
    for name, part in zip(("training", "validation", "test"), result, strict=True):
        if len(part) == 0:
            raise ValueError(f"fractions: expected shares of n={n} rows that leave every set "
                             f"non-empty, got {tuple(fractions)}, which leaves an empty {name} "
                             f"set")
    return result


def batches(
    key: jax.Array | None, n: int, batch_size: int, drop_last: bool = False, epoch: int = 0
) -> list[np.ndarray]:
    """The mini-batch index arrays of one epoch, in a random order (deck 004).

    Exactly the batches :func:`jaxmlp.fit` trains on in epoch ``epoch`` of ``n`` training rows
    with the same ``key`` and ``batch_size`` (its last batch is the partial one): the order is
    :func:`shuffle_order`, the library's one shuffle.

    Arguments:
        key: a `jax.random` key; None keeps the rows in order (e.g. for evaluation).
        n: number of rows.
        batch_size: rows per batch, >= 1; a batch larger than n gives one batch of n rows.
        drop_last: drop the final batch when it is shorter than ``batch_size``.
        epoch: the epoch number (each epoch has its own order), >= 0.

    Returns:
        A list of int64 arrays; together they hold each of ``range(n)`` once (minus the
        dropped remainder when ``drop_last``).

    >>> [b.tolist() for b in batches(None, 5, 2)]
    [[0, 1], [2, 3], [4]]
    """
    n = check_int("n", n, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    epoch = check_int("epoch", epoch, 0)
    if drop_last and batch_size > n:
        raise ValueError(f"batch_size: expected at most n={n} with drop_last=True, "
                         f"got {batch_size}, which leaves no batch")
    if key is None:
        order = np.arange(n, dtype=np.int64)
    else:
        check_key(key)
        order = shuffle_order(key, epoch, n).astype(np.int64)
    stop = n - n % batch_size if drop_last else n
    return [order[i:min(i + batch_size, stop)] for i in range(0, stop, batch_size)]


def shuffle_order(key: jax.Array, epoch: int, n: int, shuffle: bool = True) -> np.ndarray:
    """The row order of epoch ``epoch`` (int32): a uniform random permutation of ``range(n)``.

    The one shuffle of jaxmlp: :func:`jaxmlp.fit`, :func:`jaxmlp.fit_many` and :func:`batches`
    visit rows in this order. A function of ``(key, epoch)`` alone, so a resumed run repeats an
    uninterrupted one: NumPy's PCG64 generator, seeded with the key's data and the epoch number,
    shuffles by Fisher-Yates (on the host, far cheaper than the sort behind
    ``jax.random.permutation``). With ``shuffle=False`` the rows keep their order.

    >>> a, b = (shuffle_order(jax.random.key(0), 3, 5).tolist() for _ in range(2))
    >>> a == b, sorted(a)
    (True, [0, 1, 2, 3, 4])
    """
    if not shuffle:
        return np.arange(n, dtype=np.int32)
    words = np.asarray(jax.random.key_data(key), dtype=np.uint32).ravel().tolist()
    return np.random.default_rng([*words, int(epoch)]).permutation(n).astype(np.int32)


# --- helpers ------------------------------------------------------------------------------


def permutation(key: jax.Array, n: int) -> np.ndarray:
    return np.asarray(jax.random.permutation(key, int(n)), dtype=np.int64)


def shuffle_within_classes(key: jax.Array, inverse: np.ndarray) -> np.ndarray:
    """Row indices grouped by class (in class order), randomly ordered inside each class."""
    u = np.asarray(jax.random.uniform(key, (len(inverse),)))
    return np.lexsort((u, inverse)).astype(np.int64)





def _check_fractions(fractions: Any) -> tuple[float, float]:
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, Sequence):
        raise TypeError(f"fractions: expected a sequence (train, val, test), got {fractions!r}")
    if len(fractions) != 3:
        raise ValueError(f"fractions: expected 3 entries (train, val, test), got {fractions!r}")
    f = [check_fraction(f"fractions[{i}]", v) for i, v in enumerate(fractions)]
    if abs(sum(f) - 1.0) > 1e-6:
        raise ValueError(f"fractions: expected three fractions that sum to 1, "
                         f"got {tuple(fractions)} (sum {sum(f):.6g})")
    return f[0], f[0] + f[1]


def check_labels(name: str, labels: Any, n: int | None) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name}: expected one-dimensional labels (n,), got shape {labels.shape}")
    if n is not None and len(labels) != n:
        raise ValueError(f"{name}: expected n={n} entries, got {len(labels)}")
    if len(labels) == 0:
        raise ValueError(f"{name}: expected at least one label, got none")
    return labels


def _num_rows(name: str, a: Any) -> int:
    shape = getattr(a, "shape", None)
    if shape is None or len(shape) == 0:
        raise TypeError(f"{name}: expected an array with a leading row axis, "
                        f"got {type(a).__name__}")
    return int(shape[0])
