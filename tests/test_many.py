"""fit_many: N models in one compiled program equal N separate fits (issue 16).

The test of record: model i of ``fit_many`` equals ``fit`` of model i with its own learning rate
and penalty rates, to float32 tolerance (normwise 1e-5 per leaf). Networks are tiny and the data
is the bundled digits, so the file runs in seconds; most tests share one compiled epoch (same
model, ``"adam"`` with per-model rates, per-model ``l2``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import data
from jaxmlp.data import fold_rows, kfold
from jaxmlp.training.many import ensemble, evaluate_many, fit_many, predict_many
from jaxmlp.training.resume import checkpoint_paths

MODEL = jaxmlp.MLP((64, 8, 10), ("relu", "softmax"))
(X_ALL, Y_ALL), _ = data.load("digits")
X, Y = X_ALL[:600], Y_ALL[:600]
RATES = [1e-3, 3e-3, 1e-2, 3e-2]
L2 = [0.0, 1e-4, 1e-3, 1e-2]
COMMON = dict(epochs=2, batch_size=50, validation_split=0.25, verbose=0, key=jax.random.key(7))


def stacked(n, seed=0, model=MODEL):
    return model.init(jax.random.split(jax.random.key(seed), n))


def take(params, i):
    return jax.tree.map(lambda a: a[i], params)


def assert_close(many, one, rtol=1e-5):
    """Normwise per leaf: ||a - b|| <= rtol ||b|| (two compiled programs, float32)."""
    for a, b in zip(jax.tree.leaves(many), jax.tree.leaves(one), strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        assert a.shape == b.shape
        assert np.linalg.norm(a - b) <= rtol * max(np.linalg.norm(b), 1e-12), (
            np.linalg.norm(a - b),
            np.linalg.norm(b),
        )


def test_init_keys_equals_init_of_each_key():
    keys = jax.random.split(jax.random.key(3), 3)
    params = MODEL.init(keys)
    for layer, fan in zip(params, ((8, 64), (10, 8))):
        assert layer["w"].shape == (3, *fan) and layer["b"].shape == (3, fan[0])
    one = jax.jit(MODEL.init)  # one compile for the three single keys
    for i in range(3):
        for a, b in zip(
            jax.tree.leaves(take(params, i)), jax.tree.leaves(one(keys[i])), strict=True
        ):
            np.testing.assert_array_equal(a, b)
    legacy = jax.random.split(jax.random.PRNGKey(3), 2)  # (2, 2) uint32: two legacy keys
    np.testing.assert_array_equal(MODEL.init(legacy)[0]["w"][1], MODEL.init(legacy[1])[0]["w"])
    assert not np.array_equal(params[0]["w"][0], params[0]["w"][1])


def test_fit_many_equals_separate_fits():
    logs = []
    params, history = fit_many(
        MODEL,
        stacked(4),
        X,
        Y,
        learning_rate=RATES,
        l2=L2,
        on_epoch_end=lambda e, log: logs.append(log),
        **COMMON,
    )
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(v.shape == (2, 4) for v in history.values())
    assert len(logs) == 2 and logs[0]["loss"].shape == (4,)
    for i in range(4):
        adam = jaxmlp.get_optimizer("adam", RATES[i])
        one, h = jaxmlp.fit(MODEL, take(stacked(4), i), X, Y, optimizer=adam, l2=L2[i], **COMMON)
        assert_close(take(params, i), one)
        for name in history:
            np.testing.assert_allclose(history[name][:, i], h[name], rtol=1e-5, atol=1e-6)
    assert len({round(float(v), 6) for v in history["loss"][-1]}) == 4  # the rates did differ


def test_fit_many_autodiff_alias_and_l1_equal_a_separate_fit():
    rates, l1 = [0.05, 0.2], [1e-3, 0.0]
    odd = {**COMMON, "batch_size": 32}  # 450 training rows: a partial last batch of 2
    params, _ = fit_many(
        MODEL,
        stacked(2, 1),
        X,
        Y,
        optimizer=optax.sgd,
        learning_rate=rates,
        l1=l1,
        grad="autodiff",
        **odd,
    )
    one, _ = jaxmlp.fit(
        MODEL,
        take(stacked(2, 1), 0),
        X,
        Y,
        optimizer=optax.sgd(rates[0]),
        l1=l1[0],
        grad="autodiff",
        **odd,
    )
    assert_close(take(params, 0), one)
    assert not np.allclose(params[0]["w"][0], params[0]["w"][1])


def test_folds_validate_on_their_own_fold():
    model = jaxmlp.MLP((64, 16, 10), ("relu", "softmax"))
    params, history = fit_many(
        model,
        stacked(5, 2, model),
        X_ALL,
        Y_ALL,
        folds=5,
        learning_rate=1e-2,
        epochs=6,
        batch_size=32,
        verbose=0,
    )
    assert history["val_accuracy"].shape == (6, 5)
    final = history["val_accuracy"][-1]
    assert final.mean() >= 0.9, final
    train, val = (np.stack(rows) for rows in fold_rows(len(X_ALL), 5))
    assert train.shape == (5, 1200) and val.shape == (5, 300)
    for i in range(5):
        assert not set(train[i]) & set(val[i]) and len(set(train[i]) | set(val[i])) == len(X_ALL)
    accuracy = evaluate_many(model, params, X_ALL[val[1]], Y_ALL[val[1]])["accuracy"]
    assert accuracy[1] == pytest.approx(final[1], abs=1e-6)  # model 1 validated on fold 1


def test_fit_many_folds_are_data_kfold_folds_and_every_row_validates_once():
    train, val = fold_rows(7, 3)
    assert [v.tolist() for v in val] == [[0, 1, 2], [3, 4], [5, 6]]
    assert [r.tolist() for r in train] == [[3, 4, 5, 6], [0, 1, 2, 5, 6], [0, 1, 2, 3, 4]]
    for (a, b), (c, d) in zip(kfold(None, 7, 3, shuffle=False), zip(train, val)):
        assert a.tolist() == c.tolist() and b.tolist() == d.tolist()


def test_early_stopping_masks_a_stopped_models_updates():
    rule = jaxmlp.EarlyStopping(monitor="loss", patience=1, min_delta=1e-3, restore_best=False)
    rates, l2 = [1e-7, 3e-2, 1e-2, 1e-3], L2  # model 0 barely moves: it stops after epoch 2
    long, history = fit_many(
        MODEL,
        stacked(4),
        X,
        Y,
        learning_rate=rates,
        l2=l2,
        early_stopping=rule,
        **{**COMMON, "epochs": 4},
    )
    short, _ = fit_many(
        MODEL, stacked(4), X, Y, learning_rate=rates, l2=l2, early_stopping=rule, **COMMON
    )
    assert np.isnan(history["loss"][2:, 0]).all() and np.isfinite(history["loss"][:, 1]).all()
    for a, b in zip(jax.tree.leaves(take(long, 0)), jax.tree.leaves(take(short, 0))):
        np.testing.assert_array_equal(a, b)  # the same program: model 0 did not move after stopping
    assert not np.allclose(long[0]["w"][1], short[0]["w"][1])  # model 1 kept training


def test_checkpoint_and_resume_repeat_an_uninterrupted_run(tmp_path):
    path = tmp_path / "run.npz"
    whole, history = fit_many(MODEL, stacked(4), X, Y, learning_rate=RATES, l2=L2, **COMMON)
    first = {**COMMON, "epochs": 1}
    fit_many(MODEL, stacked(4), X, Y, learning_rate=RATES, l2=L2, checkpoint=str(path), **first)
    assert [p.exists() for p in checkpoint_paths(path, 4)] == [True] * 4
    assert jaxmlp.training.checkpoint.load(checkpoint_paths(path, 4)[2]).history["loss"] == [
        history["loss"][0, 2]
    ]
    resumed, h2 = fit_many(
        MODEL, stacked(4), X, Y, learning_rate=RATES, l2=L2, resume=str(path), **COMMON
    )
    assert_close(resumed, whole)
    np.testing.assert_allclose(h2["val_loss"], history["val_loss"], rtol=1e-5)


def test_predict_evaluate_and_ensemble_per_model():
    params = stacked(3)
    out = predict_many(MODEL, params, X[:50])
    assert out.shape == (3, 50, 10)
    np.testing.assert_allclose(
        out[2], jaxmlp.predict(MODEL, take(params, 2), X[:50]), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(ensemble(MODEL, params, X[:50]), out.mean(axis=0), rtol=1e-6)
    scores = evaluate_many(MODEL, params, X[:50], Y[:50], l2=[0.0, 0.0, 1e-2])
    one = jaxmlp.evaluate(MODEL, take(params, 2), X[:50], Y[:50], l2=1e-2)
    assert scores["loss"][2] == pytest.approx(one["loss"], rel=1e-5)
    assert scores["accuracy"][2] == pytest.approx(one["accuracy"])
    plain = evaluate_many(MODEL, params, X[:50], Y[:50])
    assert scores["loss"][0] == plain["loss"][0] and scores["loss"][2] > plain["loss"][2]


def test_a_diverging_model_stops_alone_at_its_last_finite_parameters():
    # float64: at a learning rate of 1e300 the weights reach 1e300 in one Adam step; in float32 (at
    # 1e30) two programs that differ only in their batching disagree visibly there
    with jax.enable_x64(True):
        start = jax.tree.map(lambda a: a.astype(jnp.float64), stacked(4))
        x = X.astype(np.float64)
        rates = [1e-3, 1e300, 1e-3, 1e-3]
        params, history = fit_many(MODEL, start, x, Y, learning_rate=rates, l2=L2, **COMMON)
        assert history.stopped[0] is None and history.stopped[2:] == [None, None]
        stop = history.stopped[1]
        assert stop["reason"] == "non-finite loss" and stop["epoch"] == 1 and stop["step"] >= 1
        assert np.isnan(history["loss"][:, 1]).all()
        assert np.isfinite(history["loss"][:, [0, 2, 3]]).all()
        # model 1 is fit's replay of its own run to the step before the non-finite loss
        with pytest.raises(jaxmlp.TrainingError) as caught:
            jaxmlp.fit(
                MODEL,
                take(start, 1),
                x,
                Y,
                optimizer=jaxmlp.get_optimizer("adam", 1e300),
                l2=L2[1],
                **COMMON,
            )
        assert caught.value.step == stop["step"]
        for a, b in zip(jax.tree.leaves(take(params, 1)), jax.tree.leaves(caught.value.params)):
            np.testing.assert_allclose(a, b, rtol=1e-9)  # elementwise: norms of 1e300 overflow
        # the others trained on as if model 1 had never been there
        healthy = jnp.array([0, 2, 3])
        alone, _ = fit_many(
            MODEL,
            jax.tree.map(lambda a: a[healthy], start),
            x,
            Y,
            learning_rate=[rates[i] for i in (0, 2, 3)],
            l2=[L2[i] for i in (0, 2, 3)],
            **COMMON,
        )
        assert_close(jax.tree.map(lambda a: a[healthy], params), alone, rtol=1e-9)


def test_strict_or_every_model_diverging_raises_with_the_last_finite_parameters():
    with pytest.raises(jaxmlp.TrainingError, match=r"models \[1\]") as caught:
        fit_many(
            MODEL,
            stacked(4),
            X,
            Y,
            learning_rate=[1e-3, 1e30, 1e-3, 1e-3],
            l2=L2,
            strict=True,
            **COMMON,
        )
    assert caught.value.params[0]["w"].shape == (4, 8, 64)
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(caught.value.params))
    with pytest.raises(jaxmlp.TrainingError, match=r"models \[0, 1\]"):
        fit_many(MODEL, stacked(2), X, Y, learning_rate=[1e30, 1e30], **COMMON)


BAD = [
    (dict(params=MODEL.init(jax.random.key(0))), ValueError, "params: expected stacked"),
    (
        dict(learning_rate=[1e-3, 1e-3]),
        ValueError,
        r"learning_rate: expected one rate per model \(3\)",
    ),
    (
        dict(learning_rate=[1e-3, -1.0, 1e-3]),
        ValueError,
        "learning_rate\\[1\\]: expected a positive number",
    ),
    (
        dict(optimizer=optax.adam(1e-3), learning_rate=[1e-3] * 3),
        TypeError,
        "optimizer: with a learning",
    ),
    (dict(optimizer=optax.adam), ValueError, "learning_rate: expected a number or one per model"),
    (dict(optimizer="adamw", learning_rate=[1e-3] * 3), ValueError, "optimizer: expected one of"),
    (dict(l2=[0.0, 1e-3]), ValueError, r"l2: expected a number or one rate per model \(3\), got 2"),
    (dict(l1=[0.0, -1.0, 0.0]), ValueError, r"l1\[1\]"),
    (dict(l2="big"), TypeError, "l2"),
    (dict(folds=4), ValueError, r"folds: expected one model per fold, 3 .*got folds=4"),
    (dict(folds=1), ValueError, "folds: expected an integer >= 2"),
    (dict(folds=3, validation_split=0.2), ValueError, "folds: each model validates"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(key=3), TypeError, "key: expected one jax.random key"),
    (dict(grad="numeric"), ValueError, "grad"),
    (dict(verbose=3), ValueError, "verbose"),
    (dict(metrics=("auc",)), ValueError, "metrics"),
    (
        dict(early_stopping=jaxmlp.EarlyStopping()),
        ValueError,
        "early_stopping: monitors 'val_loss'",
    ),
    (dict(x=X[:, :10]), ValueError, r"x: expected shape \(B, 64\)"),
    (dict(t=Y[:10]), ValueError, "t: expected shape"),
    (dict(checkpoint="run.txt"), ValueError, "checkpoint"),
    (
        dict(validation_split=0.2, validation_data=(X, Y)),
        ValueError,
        "validation_split and validation_data",
    ),
]


@pytest.mark.parametrize(
    ("change", "error", "message"), BAD, ids=[m.split(":")[0] for _, _, m in BAD]
)
def test_bad_arguments_name_themselves(change, error, message):
    args = dict(params=stacked(3), x=X[:64], t=Y[:64], epochs=1, verbose=0)
    args.update(change)
    with pytest.raises(error, match=message):
        fit_many(MODEL, **args)


def test_stacked_parameter_checks():
    bad = stacked(3)
    bad[1]["b"] = bad[1]["b"][:2]
    with pytest.raises(ValueError, match="same leading models axis"):
        predict_many(MODEL, bad, X[:5])
    with pytest.raises(ValueError, match="model 0 of the 3 stacked"):
        predict_many(jaxmlp.MLP((64, 9, 10), ("relu", "softmax")), stacked(3), X[:5])
    with pytest.raises(TypeError, match="key: expected a batch"):
        MODEL.init(jnp.zeros((3, 5), jnp.uint32))
