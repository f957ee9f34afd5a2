"""TensorFlow Playground data sets: shapes, balance, the generators' geometry, noise, features."""

import jax
import numpy as np
import pytest

from jaxmlp.data.playground import (
    FEATURES,
    PLAYGROUND_DATASETS,
    features,
    playground_data,
    playground_points,
)

KEY = jax.random.key(0)
CLASSIFICATION = ["circle", "xor", "gauss", "spiral"]
REGRESSION = ["plane", "multigauss"]


def test_names_match_the_cli():
    assert list(PLAYGROUND_DATASETS) == CLASSIFICATION + REGRESSION
    assert all(PLAYGROUND_DATASETS[n][0] == "classification" for n in CLASSIFICATION)
    assert all(PLAYGROUND_DATASETS[n][0] == "regression" for n in REGRESSION)


@pytest.mark.parametrize("name", CLASSIFICATION + REGRESSION)
def test_shapes_defaults_and_determinism(name):
    (xy, t), (xy_test, t_test) = playground_data(name, KEY)
    half = 250 if name in CLASSIFICATION else 600  # the Playground's 500 / 1200 points, 50 %
    assert xy.shape == (half, 2) and xy_test.shape == (half, 2)
    assert t.shape == (half, 1) and t_test.shape == (half, 1)
    assert {a.dtype for a in (xy, t, xy_test, t_test)} == {np.dtype(np.float32)}
    assert np.abs(xy).max() <= 6.5
    (xy2, t2), _ = playground_data(name, KEY)
    np.testing.assert_array_equal(xy, xy2)
    np.testing.assert_array_equal(t, t2)
    (xy3, _), _ = playground_data(name, jax.random.key(1))
    assert not np.array_equal(xy, xy3)
    (a, _), (b, _) = playground_data(name, KEY, n=101, train_ratio=80)
    assert (len(a), len(b)) == (80, 21)  # floor(n * ratio / 100) train points


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classification_labels_balance_and_encodings(name):
    (_, t01), (_, t01_test) = playground_data(name, KEY, n=1000, noise=10)
    (_, tpm), _ = playground_data(name, KEY, n=1000, noise=10, labels="pm1")
    assert set(np.unique(t01)) == {0.0, 1.0} and set(np.unique(tpm)) == {-1.0, 1.0}
    np.testing.assert_array_equal(t01, (tpm + 1) / 2)
    share = np.concatenate([t01, t01_test]).mean()
    assert 0.42 < share < 0.58
    _, t = playground_points(name, KEY, 501)
    if name != "xor":  # the generators make the +1 half first
        assert t.tolist() == [1.0] * 251 + [-1.0] * 250


def test_regression_ignores_the_label_encoding():
    a = playground_data("plane", KEY, labels="01")
    b = playground_data("plane", KEY, labels="pm1")
    np.testing.assert_array_equal(a[0][1], b[0][1])


def test_circle_labels_follow_the_radius_without_noise():
    xy, t = playground_points("circle", KEY, 2000)
    r = np.hypot(xy[:, 0], xy[:, 1])
    assert np.all(r[t == 1] < 2.5 + 1e-6)
    assert np.all((r[t == -1] >= 3.5 - 1e-6) & (r[t == -1] <= 5 + 1e-6))
    np.testing.assert_array_equal(t, np.where(r < 3, 1, -1))
    noisy_xy, noisy_t = playground_points("circle", KEY, 2000, noise=50)
    np.testing.assert_array_equal(noisy_xy, xy)  # the noise perturbs the label, not the point
    flipped = np.mean(noisy_t != t)
    assert 0.05 < flipped < 0.6


def test_xor_quadrants_and_padding():
    xy, t = playground_points("xor", KEY, 2000)
    assert np.all(np.abs(xy) >= 0.3) and np.all(np.abs(xy) <= 5.3 + 1e-6)
    np.testing.assert_array_equal(t, np.where(xy[:, 0] * xy[:, 1] >= 0, 1, -1))
    _, noisy = playground_points("xor", KEY, 2000, noise=50)
    assert 0.02 < np.mean(noisy != t) < 0.5


@pytest.mark.parametrize(("noise", "std"), [(0, 0.5**0.5), (25, 1.5), (50, 2.0)])
def test_gauss_variance_follows_the_noise(noise, std):
    xy, t = playground_points("gauss", KEY, 8000, noise=noise)
    for label, centre in ((1, 2.0), (-1, -2.0)):
        cloud = xy[t == label]
        np.testing.assert_allclose(cloud.mean(axis=0), centre, atol=0.1)
        np.testing.assert_allclose(cloud.std(axis=0), std, rtol=0.05)


def test_spiral_arms_without_and_with_noise():
    xy, t = playground_points("spiral", KEY, 400)
    r = np.hypot(xy[:, 0], xy[:, 1])
    np.testing.assert_allclose(r[:200], 5 * np.arange(200) / 200, atol=1e-5)
    np.testing.assert_allclose(xy[200:], -xy[:200], atol=1e-5)  # the second arm is turned by pi
    noisy, noisy_t = playground_points("spiral", KEY, 400, noise=50)
    np.testing.assert_array_equal(noisy_t, t)
    shift = np.abs(noisy - xy)
    assert 0 < shift.max() <= 0.5 + 1e-6 and shift.mean() > 0.1  # uniform in [-0.5, 0.5]


def test_plane_target():
    xy, t = playground_points("plane", KEY, 1000)
    np.testing.assert_allclose(t, (xy[:, 0] + xy[:, 1]) / 10, atol=1e-6)
    assert np.abs(xy).max() <= 6 and 1.0 < np.abs(t).max() <= 1.2  # unclamped, as the Playground
    noisy_xy, noisy_t = playground_points("plane", KEY, 1000, noise=50)
    np.testing.assert_array_equal(noisy_xy, xy)
    assert 0.05 < np.abs(noisy_t - t).mean() < 0.5


def test_multigauss_target_against_a_literal_transcription():
    bumps = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]
    xy, t = playground_points("multigauss", KEY, 300)
    for (x, y), target in zip(xy.astype(float), t, strict=True):
        label = 0.0
        for cx, cy, sign in bumps:
            value = sign * min(1.0, max(0.0, 1 - np.hypot(x - cx, y - cy) / 2))
            if abs(value) > abs(label):
                label = value
        assert target == pytest.approx(label, abs=1e-6)
    assert np.abs(t).max() <= 1 and (t == 0).any() and (t > 0.5).any() and (t < -0.5).any()


def test_features_columns():
    xy = np.array([[0.5, -2.0], [3.0, 1.0]], np.float32)
    out = features(xy, FEATURES)
    x, y = xy[:, 0], xy[:, 1]
    expected = np.stack([x, y, x * x, y * y, x * y, np.sin(x), np.sin(y)], axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.dtype == np.float32 and out.shape == (2, 7)
    np.testing.assert_allclose(features(xy, ("siny", "x")), expected[:, [6, 0]], rtol=1e-6)
    assert features(xy).shape == (2, 2)  # x, y by default, as the Playground starts
    assert features(jax.numpy.asarray(xy), ["xy"]).shape == (2, 1)


@pytest.mark.parametrize(
    ("xy", "names", "error", "message"),
    [
        (
            np.zeros((3, 2)),
            ("x", "cosx"),
            ValueError,
            r"names: expected feature names .*got unknown feature name\(s\) \['cosx'\]",
        ),
        (np.zeros((3, 2)), ("x", "x"), ValueError, "without repeats"),
        (np.zeros((3, 2)), (), ValueError, "non-empty"),
        (np.zeros((3, 2)), "x", TypeError, "sequence"),
        (np.zeros((3, 3)), ("x",), ValueError, r"shape \(n, 2\), got \(3, 3\)"),
    ],
)
def test_features_errors(xy, names, error, message):
    with pytest.raises(error, match=message):
        features(xy, names)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(name="moons"), ValueError, "name: expected a playground data set, .*got 'moons'"),
        (dict(noise=-1), ValueError, "noise: expected a number between 0 and 50"),
        (dict(noise=51), ValueError, "got 51"),
        (dict(noise="5"), TypeError, "noise: expected a number"),
        (dict(noise=float("nan")), ValueError, "noise: expected a finite number"),
        (dict(train_ratio=0), ValueError, "train_ratio: expected a percentage"),
        (dict(train_ratio=100), ValueError, "strictly between 0 and 100"),
        (dict(n=1), ValueError, "n: expected an integer >= 2"),
        (dict(n=10.0), TypeError, "n: expected an integer"),
        (dict(n=2, train_ratio=10), ValueError, "empty training set"),
        (dict(labels="bool"), ValueError, "labels: expected '01' or 'pm1'"),
        (dict(key=0), TypeError, "key: expected one jax.random key"),
    ],
)
def test_playground_data_errors(kwargs, error, message):
    args = dict(name="circle", key=KEY) | kwargs
    with pytest.raises(error, match=message):
        playground_data(**args)
