"""fit_many(folds=k) with n % k != 0 (issue 29): folds of unequal size train together.

:mod:`jaxmlp.data.folds` cuts k contiguous folds whose sizes differ by at most one; model i trains
on every row but fold i's and validates on fold i. Each model's rows are padded to the longest
with -1, and a padding row weighs 0, so model i is ``jaxmlp.fit`` of model i on ``x[train_i]``
with ``validation_data=(x[val_i], t[val_i])``: float64, to 1e-12, history included.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmlp
from jaxmlp import data
from jaxmlp.core.backprop import loss_and_grads, objective_and_output
from jaxmlp.data import fold_rows
from jaxmlp.training.many import evaluate_many, fit_many, fit_many_as_processes

MODEL = jaxmlp.MLP((64, 6, 10), ("tanh", "softmax"))
(X_ALL, Y_ALL), _ = data.load("digits")
RATE = 1e-2
ADAM = jaxmlp.get_optimizer("adam", RATE)  # one object: one compiled program per row count
# k: (rows, batch size, settings). k = 3, 61 rows: folds of 21, 20, 20 rows, so models train on
# 40, 41, 41 rows; in batches of 8 the longest ends with a batch of one row, all padding for
# model 0 (5 steps, not 6: with "sum", not even its penalty counts). k = 4, 62 rows: folds of 16,
# 16, 15, 15, training rows 46, 46, 47, 47: the last batch holds 6 rows and a padding row in
# models 0 and 1 (their mean divides by 6), 7 rows in models 2 and 3.
CASES = {
    3: (61, 8, {"grad": "autodiff", "reduction": "sum", "l2": 1e-3}),
    4: (62, 8, {}),
}
RULE = jaxmlp.EarlyStopping(monitor="loss", min_delta=0.12, patience=0)  # restore_best


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


def rows(n):
    return np.asarray(X_ALL[:n], np.float64), Y_ALL[:n]


def stacked(k):
    return MODEL.init(jax.random.split(jax.random.key(0), k), dtype=jnp.float64)


def take(params, i):
    return jax.tree.map(lambda a: a[i], params)


def together(k, **kwargs):
    """``fit_many`` of the case's k models, one per fold."""
    n, batch, settings = CASES[k]
    return fit_many(MODEL, stacked(k), *rows(n), folds=k, learning_rate=RATE, batch_size=batch,
                    key=jax.random.key(1), verbose=0, **settings, **kwargs)


def alone(k, i, **kwargs):
    """``fit`` of model i on every row but fold i's, validated on fold i."""
    n, batch, settings = CASES[k]
    x, y = rows(n)
    train, val = (r[i] for r in fold_rows(n, k))
    return jaxmlp.fit(MODEL, take(stacked(k), i), x[train], y[train], optimizer=ADAM,
                      batch_size=batch, key=jax.random.key(1), verbose=0,
                      validation_data=(x[val], y[val]), **settings, **kwargs)


def assert_close(a, b, tol=1e-12):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=tol, atol=tol)


def assert_same(a, b):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


@pytest.mark.parametrize("k", sorted(CASES))
def test_each_model_equals_its_own_fit_history_included(k):
    n, batch, _ = CASES[k]
    assert n % k
    params, history = together(k, epochs=3)
    sizes = [len(r) for r in fold_rows(n, k)[0]]
    assert len(set(sizes)) == 2  # the refusal of unequal folds is gone
    assert history.params["rows"] == sizes
    assert history.params["steps"] == [-(-s // batch) for s in sizes]
    for i in range(k):
        one, own = alone(k, i, epochs=3)
        assert_close(take(params, i), one)
        assert set(history) == set(own)
        for name in history:
            np.testing.assert_allclose(history[name][:, i], own[name], rtol=1e-12, atol=1e-12)


def test_val_accuracy_is_its_own_fold_and_every_row_validates_once():
    n, _, settings = CASES[3]
    params, history = together(3, epochs=2)
    train, val = fold_rows(n, 3)
    assert [len(v) for v in val] == [21, 20, 20]
    assert sorted(np.concatenate(val).tolist()) == list(range(n))  # every row, once
    for t, v in zip(train, val):
        assert sorted(np.concatenate([t, v]).tolist()) == list(range(n))
    x, y = rows(n)
    for i in range(3):
        scores = evaluate_many(MODEL, params, x[val[i]], y[val[i]], l2=settings["l2"])
        assert history["val_accuracy"][-1, i] == pytest.approx(scores["accuracy"][i], abs=1e-12)
        assert history["val_loss"][-1, i] == pytest.approx(scores["loss"][i], rel=1e-12)


def test_early_stopping_stops_each_model_where_its_own_fit_stops():
    params, history = together(3, epochs=8, early_stopping=RULE)
    epochs = []
    for i in range(3):
        one, own = alone(3, i, epochs=8, early_stopping=RULE)
        stopped = len(own["loss"])
        epochs.append(stopped)
        assert_close(take(params, i), one)  # the best epoch's parameters (restore_best)
        np.testing.assert_allclose(history["loss"][:stopped, i], own["loss"], rtol=1e-12)
        assert np.isnan(history["loss"][stopped:, i]).all()
        if stopped < 8:
            assert history.stopped[i] == {"epoch": stopped, "step": None,
                                          "reason": "early stopping"}
    assert epochs == [8, 7, 7]  # models 1 and 2 stop while model 0 trains on with its 5 steps


@pytest.mark.parametrize("after", [1, 7])  # before any model stopped; as two stop
def test_a_resumed_run_repeats_the_uninterrupted_run_bit_for_bit(tmp_path, after):
    path = str(tmp_path / "folds.npz")
    whole, history = together(3, epochs=8, early_stopping=RULE)
    together(3, epochs=after, early_stopping=RULE, checkpoint=path)
    resumed, again = together(3, epochs=8, early_stopping=RULE, checkpoint=path, resume=path)
    assert_same(resumed, whole)
    assert set(again) == set(history) and again.stopped == history.stopped
    for name in history:
        np.testing.assert_array_equal(again[name], history[name])


def test_a_diverging_fold_stops_alone_where_its_own_fit_stops():
    relu = jaxmlp.MLP((64, 6, 10), ("relu", "softmax"))
    n, batch, _ = CASES[4]
    (x, y), (train, val) = rows(n), fold_rows(n, 4)
    start = relu.init(jax.random.split(jax.random.key(0), 4), dtype=jnp.float64)
    rates = [1e-2, 1e300, 1e-2, 1e-2]  # model 1 (46 rows) diverges in its first epoch
    params, history = fit_many(relu, start, x, y, folds=4, learning_rate=rates, epochs=2,
                               batch_size=batch, key=jax.random.key(1), verbose=0)
    assert history.stopped[0] is None and history.stopped[2:] == [None, None]
    with pytest.raises(jaxmlp.TrainingError) as caught:
        jaxmlp.fit(relu, take(start, 1), x[train[1]], y[train[1]], epochs=2, batch_size=batch,
                   optimizer=jaxmlp.get_optimizer("adam", 1e300), key=jax.random.key(1),
                   verbose=0, validation_data=(x[val[1]], y[val[1]]))
    assert history.stopped[1] == {"epoch": caught.value.epoch, "step": caught.value.step,
                                  "reason": "non-finite loss"}
    for a, b in zip(jax.tree.leaves(take(params, 1)), jax.tree.leaves(caught.value.params)):
        np.testing.assert_allclose(a, b, rtol=1e-12)  # elementwise: norms of 1e300 overflow


@pytest.mark.parametrize("grad", ["backprop", "autodiff"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_a_weighted_batch_equals_the_batch_of_its_rows(grad, reduction):
    x, y = rows(6)
    t = jax.nn.one_hot(y, 10, dtype=jnp.float64)
    params = MODEL.init(jax.random.key(2), dtype=jnp.float64)
    weights = jnp.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    real = np.flatnonzero(weights)

    @jax.jit
    def value_and_grads(x, t, w):
        if grad == "backprop":
            return loss_and_grads(MODEL, "categorical_crossentropy", reduction, params, x, t,
                                  1e-3, 0.0, w)
        return jax.value_and_grad(objective_and_output, argnums=3, has_aux=True)(
            MODEL, "categorical_crossentropy", reduction, params, x, t, 1e-3, 0.0, w)

    (value, out), grads = value_and_grads(jnp.asarray(x), t, weights)
    (want, want_out), want_grads = value_and_grads(jnp.asarray(x[real]), t[real], None)
    assert float(value) == pytest.approx(float(want), rel=1e-13)
    np.testing.assert_allclose(np.asarray(out)[real], want_out, rtol=1e-13)
    assert_close(grads, want_grads, 1e-13)
    # a batch of padding alone: the penalty and its gradient, as a batch of no rows
    (none, _), zero = value_and_grads(jnp.asarray(x), t, jnp.zeros(6))
    (empty, _), empty_grads = loss_and_grads(MODEL, "categorical_crossentropy", "sum", params,
                                             jnp.asarray(x[:0]), t[:0], 1e-3)
    assert float(none) == pytest.approx(float(empty), rel=1e-13)
    assert_close(zero, empty_grads, 1e-13)


def test_folds_across_processes_are_refused_by_name():
    x, y = rows(62)
    with pytest.raises(ValueError, match="folds: expected the rows of one process, got 2 shards"):
        fit_many_as_processes(2, MODEL, stacked(3), x, y, folds=3, verbose=0)
