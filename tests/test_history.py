"""fit's and fit_many's History: a dict as before (json, checkpoints, resume), Keras's .params, and
the per-epoch learning rate of a schedule (issue 15, item 2)."""

import json
import pickle

import jax
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import data
from jaxmlp.training.history import History, hyperparameters

MODEL = jaxmlp.MLP((64, 8, 10), ("relu", "softmax"))
(X_ALL, Y_ALL), _ = data.load("digits")
X, Y = X_ALL[:300], Y_ALL[:300]
#: η(count) = 0.1 · 0.5^(count / 4): 240 training rows at batch 80 are 3 updates per epoch
SCHEDULE = optax.exponential_decay(0.1, transition_steps=4, decay_rate=0.5)
DECAYING = optax.inject_hyperparams(optax.sgd)(learning_rate=SCHEDULE)
RUN = dict(batch_size=80, validation_split=0.2, verbose=0, key=jax.random.key(1))


def test_fit_history_is_the_dict_it_was_plus_keras_params():
    _, history = jaxmlp.fit(MODEL, MODEL.init(jax.random.key(0)), X, Y, epochs=2, **RUN)
    assert isinstance(history, dict) and isinstance(history, jaxmlp.History)
    assert list(history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(isinstance(v, list) and len(v) == 2 for v in history.values())
    assert json.loads(json.dumps(history)) == dict(history)  # json sees the plain dict
    assert history.history is history and history.epoch == [0, 1]
    p = history.params
    assert (p["epochs"], p["steps"], p["batch_size"], p["rows"]) == (2, 3, 80, 240)
    assert (p["optimizer"], p["learning_rate"], p["grad"]) == ("adam", 0.001, "backprop")
    assert p["loss"] == "categorical_crossentropy"
    assert (p["l2"], p["l1"], p["metrics"], p["shuffle"]) == (0.0, 0.0, ["accuracy"], True)
    json.dumps(p)  # the settings are plain JSON
    assert history.per_epoch == {}  # a constant rate: nothing changes from epoch to epoch
    again = pickle.loads(pickle.dumps(history))
    assert again == history and again.params == history.params


def test_a_schedule_records_each_epochs_learning_rate():
    _, history = jaxmlp.fit(
        MODEL, MODEL.init(jax.random.key(0)), X, Y, optimizer=DECAYING, epochs=3, **RUN
    )
    # the epoch's last update is update 3e + 2 (counting from 0): η = 0.1 · 0.5^((3e + 2) / 4)
    expected = [
        0.1 * 0.5 ** (2 / 4),
        0.1 * 0.5 ** (5 / 4),
        0.1 * 0.5 ** (8 / 4),
    ]  # 0.0707, 0.0420, 0.025
    np.testing.assert_allclose(history.per_epoch["learning_rate"], expected, rtol=1e-6)
    assert history.params["optimizer"] == "optax" and history.params["learning_rate"] is None


def test_checkpoint_and_resume_with_a_history(tmp_path):
    path = tmp_path / "run.npz"
    init = MODEL.init(jax.random.key(0))
    whole, full = jaxmlp.fit(MODEL, init, X, Y, optimizer=DECAYING, epochs=3, **RUN)
    jaxmlp.fit(MODEL, init, X, Y, optimizer=DECAYING, epochs=2, checkpoint=str(path), **RUN)
    assert len(jaxmlp.load(path).history["loss"]) == 2
    resumed, history = jaxmlp.fit(
        MODEL, init, X, Y, optimizer=DECAYING, epochs=3, resume=str(path), **RUN
    )
    assert isinstance(history, History)
    np.testing.assert_allclose(history["loss"], full["loss"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(whole), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # the checkpoint keeps metrics only: the epochs before the resume have no recorded rate
    assert history.per_epoch["learning_rate"][:2] == [None, None]
    assert history.per_epoch["learning_rate"][2] == pytest.approx(
        full.per_epoch["learning_rate"][2]
    )
    saved = jaxmlp.save(tmp_path / "again.npz", MODEL, resumed, history=history)
    assert jaxmlp.load(saved).history == json.loads(json.dumps(history))


def test_fit_many_history_holds_arrays_and_per_model_rates():
    rates, l2 = [1e-3, 1e-2, 1e-1], [0.0, 1e-3, 0.0]
    params = MODEL.init(jax.random.split(jax.random.key(0), 3))
    _, history = jaxmlp.fit_many(MODEL, params, X, Y, learning_rate=rates, l2=l2, epochs=2, **RUN)
    assert isinstance(history, History) and history["val_loss"].shape == (2, 3)
    assert history.params["learning_rate"] == rates and history.params["l2"] == l2
    assert (history.params["models"], history.params["steps"], history.params["folds"]) == (
        3,
        3,
        None,
    )
    np.testing.assert_allclose(history.per_epoch["learning_rate"], [rates, rates], rtol=1e-6)
    json.dumps(history.params)


def test_hyperparameters_reads_injected_states_only():
    zeros = {"w": jax.numpy.zeros(3)}
    assert hyperparameters(optax.adam(0.1).init(zeros)) == {}
    sgd = optax.inject_hyperparams(optax.sgd)(learning_rate=0.25, momentum=0.5)
    chained = optax.chain(optax.clip(1.0), sgd)
    assert hyperparameters(chained.init(zeros)) == {"learning_rate": 0.25, "momentum": 0.5}
    stacked = jax.vmap(
        jaxmlp.training.optimizers._injected(jaxmlp.training.optimizers.OPTIMIZERS["sgd"]).init
    )({"w": jax.numpy.zeros((2, 3))})
    assert list(hyperparameters(stacked)) == [
        "learning_rate"
    ]  # the "lr" of jaxmlp's names, renamed
