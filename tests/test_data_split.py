"""Splits: sizes, disjointness, coverage, stratification, determinism, Keras semantics, errors."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxmlp.data import (
    batches,
    kfold,
    stratified_kfold,
    train_val_test_split,
    validation_split,
)

KEY = jax.random.key(0)
LABELS = np.repeat(np.arange(3), [50, 30, 20])  # 100 rows, unbalanced classes


def assert_partition(parts, n):
    joined = np.concatenate(parts)
    assert len(joined) == n and np.array_equal(np.sort(joined), np.arange(n))
    for p in parts:
        assert p.dtype == np.int64 and np.all(np.diff(p) > 0)  # sorted, no repeats


# --- validation_split (Keras) ------------------------------------------------------------


def test_validation_split_takes_the_last_rows_as_keras():
    x, t = np.arange(60_000 * 2).reshape(60_000, 2), np.arange(60_000)
    (xt, _), (xv, tv) = validation_split(x, t, 0.2)
    assert len(xt) == 48_000 and len(xv) == 12_000
    np.testing.assert_array_equal(tv, np.arange(48_000, 60_000))  # unshuffled tail
    np.testing.assert_array_equal(xt, x[:48_000])


@pytest.mark.parametrize(
    ("n", "fraction", "n_train"),
    [(10, 0.3, 7), (10, 0.25, 7), (7, 0.5, 3), (3, 0.1, 2), (100, 0.01, 99)],
)
def test_validation_split_size_is_floor_of_n_times_one_minus_fraction(n, fraction, n_train):
    (xt, _), (xv, _) = validation_split(np.zeros((n, 1)), np.zeros(n), fraction)
    assert (len(xt), len(xv)) == (n_train, n - n_train)


def test_validation_split_works_on_jax_arrays():
    (xt, _), (_, tv) = validation_split(jax.numpy.ones((5, 2)), jax.numpy.arange(5), 0.4)
    assert xt.shape == (3, 2) and tv.tolist() == [3, 4]


@pytest.mark.parametrize(
    ("n", "fraction", "error", "message"),
    [
        (10, 0.0, ValueError, "between 0 and 1"),
        (10, 1.0, ValueError, "between 0 and 1"),
        (10, -0.2, ValueError, "got -0.2"),
        (10, "0.2", TypeError, "validation_split: expected a fraction"),
        (10, True, TypeError, "fraction"),
        (3, 0.1, None, None),
        (2, 0.9, ValueError, "empty training set"),
        (10, 1e-17, ValueError, "empty validation"),
    ],
)
def test_validation_split_errors(n, fraction, error, message):
    x, t = np.zeros((n, 1)), np.zeros(n)
    if error is None:
        validation_split(x, t, fraction)
        return
    with pytest.raises(error, match=message):
        validation_split(x, t, fraction)


def test_validation_split_row_mismatch():
    with pytest.raises(ValueError, match="same number of rows, got 4 and 3"):
        validation_split(np.zeros((4, 2)), np.zeros(3), 0.5)
    with pytest.raises(TypeError, match="x: expected an array"):
        validation_split([1, 2], np.zeros(2), 0.5)


# --- train_val_test_split ----------------------------------------------------------------


def test_three_way_split_sizes_and_partition():
    parts = train_val_test_split(KEY, 1000, (0.6, 0.2, 0.2))
    assert [len(p) for p in parts] == [600, 200, 200]
    assert_partition(parts, 1000)
    assert [len(p) for p in train_val_test_split(KEY, 1797)] == [1258, 269, 270]


def test_three_way_split_is_deterministic_under_the_key():
    a = train_val_test_split(KEY, 200)
    b = train_val_test_split(KEY, 200)
    c = train_val_test_split(jax.random.key(1), 200)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])
    assert train_val_test_split(jax.random.PRNGKey(0), 10)  # raw uint32 keys work too


def test_stratified_split_keeps_class_proportions():
    parts = train_val_test_split(KEY, 100, (0.6, 0.2, 0.2), stratify=LABELS)
    assert_partition(parts, 100)
    counts = [np.bincount(LABELS[p], minlength=3).tolist() for p in parts]
    assert counts == [[30, 18, 12], [10, 6, 4], [10, 6, 4]]
    labels = np.array(["b", "a"] * 10)  # any sortable labels
    assert [len(p) for p in train_val_test_split(KEY, 20, stratify=labels)] == [14, 4, 2]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(n=100, fractions=(0.7, 0.2, 0.2)), ValueError, "sum to 1"),
        (dict(n=100, fractions=(0.5, 0.5)), ValueError, "3 entries"),
        (
            dict(n=100, fractions=(1.0, 0.0, 0.0)),
            ValueError,
            r"fractions\[0\]: expected a fraction strictly",
        ),
        (dict(n=100, fractions=0.7), TypeError, "sequence"),
        (dict(n=2), ValueError, "n: expected an integer >= 3"),
        (dict(n=10.0), TypeError, "n: expected an integer"),
        (dict(n=4, fractions=(0.5, 0.1, 0.4)), ValueError, "empty validation set"),
        (dict(n=5, stratify=np.zeros(4)), ValueError, "stratify: expected n=5 entries"),
        (dict(n=4, stratify=np.zeros((4, 1))), ValueError, "one-dimensional"),
    ],
)
def test_three_way_split_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        train_val_test_split(KEY, **kwargs)


def test_bad_keys_are_type_errors():
    with pytest.raises(TypeError, match=r"key: expected one jax\.random key"):
        train_val_test_split(0, 10)
    with pytest.raises(TypeError, match="key"):
        batches(jax.random.split(KEY, 2), 10, 2)


# --- k-fold ------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 12), data=st.data())  # few sizes: each compiles once
def test_kfold_partitions_every_row_once(n, data):
    k = data.draw(st.integers(2, n))
    folds = list(kfold(KEY, n, k))
    assert len(folds) == k
    assert_partition([v for _, v in folds], n)
    assert sorted(len(v) for _, v in folds) == sorted([n // k + (i < n % k) for i in range(k)])
    for train, val in folds:
        assert_partition([train, val], n)


def test_kfold_shuffle_and_determinism():
    plain = [v.tolist() for _, v in kfold(None, 7, 3, shuffle=False)]
    assert plain == [[0, 1, 2], [3, 4], [5, 6]]
    a = [v.tolist() for _, v in kfold(KEY, 50, 5)]
    assert a == [v.tolist() for _, v in kfold(KEY, 50, 5)]
    assert a != [v.tolist() for _, v in kfold(jax.random.key(3), 50, 5)]
    assert a[0] != list(range(10))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((KEY, 10, 1), {}, ValueError, "k: expected an integer >= 2"),
        ((KEY, 3, 4), {}, ValueError, "k: expected at most n=3, got k=4"),
        ((KEY, 10, 2.5), {}, TypeError, "k: expected an integer"),
        ((None, 10, 2), {}, TypeError, "key"),
        ((KEY, 1, 2), {}, ValueError, "n: expected an integer >= 2"),
    ],
)
def test_kfold_errors_are_raised_at_call_time(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        kfold(*args, **kwargs)  # not only when iterated


def test_stratified_kfold_keeps_class_proportions():
    folds = list(stratified_kfold(KEY, LABELS, 5))
    assert_partition([v for _, v in folds], 100)
    for train, val in folds:
        assert np.bincount(LABELS[val]).tolist() == [10, 6, 4]
        assert_partition([train, val], 100)
    uneven = np.repeat([0, 1], [7, 5])
    for _, val in stratified_kfold(KEY, uneven, 3):
        counts = np.bincount(uneven[val], minlength=2)
        assert counts[0] in (2, 3) and counts[1] in (1, 2) and len(val) == 4
    assert [v.tolist() for _, v in stratified_kfold(KEY, LABELS, 4)] == [
        v.tolist() for _, v in stratified_kfold(KEY, LABELS, 4)
    ]


def test_stratified_kfold_errors():
    with pytest.raises(ValueError, match=r"smallest class count 20 .*got k=21"):
        stratified_kfold(KEY, LABELS, 21)
    with pytest.raises(ValueError, match="k: expected an integer >= 2"):
        stratified_kfold(KEY, LABELS, 1)
    with pytest.raises(ValueError, match="labels: expected one-dimensional"):
        stratified_kfold(KEY, LABELS[:, None], 2)
    with pytest.raises(ValueError, match="labels: expected at least one label, got none"):
        stratified_kfold(KEY, [], 2)


# --- batches -----------------------------------------------------------------------------


def test_batches_cover_an_epoch_in_random_order():
    out = batches(KEY, 10, 3)
    assert [len(b) for b in out] == [3, 3, 3, 1]
    joined = np.concatenate(out)
    assert sorted(joined.tolist()) == list(range(10)) and joined.tolist() != list(range(10))
    assert [b.tolist() for b in out] == [b.tolist() for b in batches(KEY, 10, 3)]
    dropped = batches(KEY, 10, 3, drop_last=True)
    assert [len(b) for b in dropped] == [3, 3, 3]
    assert np.array_equal(np.concatenate(dropped), joined[:9])
    assert [b.tolist() for b in batches(None, 5, 2)] == [[0, 1], [2, 3], [4]]
    assert [len(b) for b in batches(KEY, 4, 10)] == [4]
    assert [len(b) for b in batches(KEY, 9, 3, drop_last=True)] == [3, 3, 3]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((KEY, 10, 0), {}, ValueError, "batch_size: expected an integer >= 1, got 0"),
        ((KEY, 10, 2.0), {}, TypeError, "batch_size: expected an integer"),
        ((KEY, 0, 2), {}, ValueError, "n: expected an integer >= 1"),
        ((KEY, 3, 4), dict(drop_last=True), ValueError, "leaves no batch"),
    ],
)
def test_batches_errors(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        batches(*args, **kwargs)
