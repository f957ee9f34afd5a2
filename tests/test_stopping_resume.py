"""Early stopping survives resume (issue 28): its state (the best value, its epoch, the wait and the
best parameters) is in the checkpoint, so a run interrupted after any epoch and resumed stops at
the epoch where the uninterrupted run stops, with bitwise its parameters (the same program on the
same inputs); a finished run resumed again returns what it returned."""

import jax
import numpy as np
import pytest
from train_data import MODEL, data

import jaxmlp

X, T = data(80)
SETTINGS = dict(batch_size=8, validation_split=0.3, key=jax.random.key(0), verbose=0)
STOP = jaxmlp.EarlyStopping(monitor="val_loss", patience=3)
SGD = jaxmlp.get_optimizer("sgd", 3.0)  # one object: one compiled program for every call
EPOCHS = 40  # fit stops after 8 (best 5); fit_many's models after 14, 4, 7 (best 11, 1, 4)


def same(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def same_history(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]))


def fit(epochs, stop=STOP, **kwargs):
    params = MODEL.init(jax.random.key(0))
    return jaxmlp.fit(MODEL, params, X, T, epochs=epochs, early_stopping=stop,
                      optimizer=SGD, **SETTINGS, **kwargs)


def fit_many(epochs, stop=STOP, **kwargs):
    params = MODEL.init(jax.random.split(jax.random.key(0), 3))
    return jaxmlp.fit_many(MODEL, params, X, T, epochs=epochs, early_stopping=stop,
                           optimizer="sgd", learning_rate=[0.5, 1.0, 2.0], **SETTINGS, **kwargs)


@pytest.mark.parametrize("train", [fit, fit_many], ids=["fit", "fit_many"])
def test_a_run_resumed_after_any_epoch_stops_where_the_uninterrupted_run_stops(tmp_path, train):
    want, want_history = train(EPOCHS)
    last = len(want_history["loss"])
    assert last < EPOCHS  # it stopped early (every model, for fit_many)
    best = np.nanargmin(np.asarray(want_history["val_loss"]), axis=0) + 1
    assert np.all(best < last - 1)  # the interrupted runs below include ones after the best epoch
    for epoch in range(1, last):
        path = str(tmp_path / f"after{epoch}.npz")
        train(epoch, checkpoint=path)  # interrupted after `epoch`
        got, history = train(EPOCHS, checkpoint=path, resume=path)
        same(got, want)
        same_history(history, want_history)
    # the finished run, resumed again: nothing left to train, the same (best) parameters
    again, history = train(EPOCHS, checkpoint=path, resume=path)
    same(again, want)
    same_history(history, want_history)


def test_the_checkpoint_holds_the_stopping_state(tmp_path):
    path = tmp_path / "run.npz"
    want, history = fit(EPOCHS, checkpoint=str(path))
    saved = jaxmlp.load(path)
    best = int(np.argmin(history["val_loss"]))
    assert saved.run["stopping"] == {
        "monitor": "val_loss", "mode": "min", "best": history["val_loss"][best],
        "epoch": best + 1, "wait": len(history["loss"]) - best - 1,
    }
    same(saved.best_params, want)
    plain = tmp_path / "plain.npz"
    fit(2, stop=None, checkpoint=str(plain))
    assert jaxmlp.load(plain).best_params is None and jaxmlp.load(plain).run["stopping"] is None


RESUMED = [
    (jaxmlp.EarlyStopping(monitor="loss", patience=3), "monitor='val_loss' (mode 'min'); this "
     "call's early_stopping has monitor='loss' (mode 'min'): resuming would change the run"),
    (jaxmlp.EarlyStopping(monitor="val_loss", mode="max"), "this call's early_stopping has "
     "monitor='val_loss' (mode 'max')"),
]


@pytest.mark.parametrize("stop,words", RESUMED, ids=["monitor", "mode"])
def test_resume_refuses_another_stopping_rule(tmp_path, stop, words):
    path = str(tmp_path / "run.npz")
    fit(2, checkpoint=path)
    with pytest.raises(ValueError) as info:
        fit(EPOCHS, stop=stop, checkpoint=path, resume=path)
    assert words in str(info.value)


def test_best_parameters_a_checkpoint_did_not_keep_are_refused(tmp_path):
    path = str(tmp_path / "run.npz")
    fit(2, stop=jaxmlp.EarlyStopping(patience=3, restore_best=False), checkpoint=path)
    with pytest.raises(ValueError, match="keeps no best parameters .*restore_best=False.*this "
                       "call's has restore_best=True"):
        fit(EPOCHS, checkpoint=path, resume=path)
    # another patience (or min_delta) is the caller's choice for the rest of the run
    _, history = fit(EPOCHS, stop=jaxmlp.EarlyStopping(patience=5, restore_best=False),
                     checkpoint=path, resume=path)
    assert len(history["loss"]) > 2
