"""fit's options: optimizers by name and Optax schedules, early stopping, the progress lines,
the key, and the refusal of bad arguments and bad data before any training."""

import io

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from train_data import MODEL, data, leaves_close

import jaxmlp
from jaxmlp.training.optimizers import OPTIMIZERS
from jaxmlp.training.progress import tick


def test_optimizer_names_use_kerass_default_rates():
    assert set(OPTIMIZERS) == {"sgd", "momentum", "rmsprop", "adam"}
    g = [{"w": jnp.ones((1, 1)), "b": jnp.ones(1)}]
    p = [{"w": jnp.zeros((1, 1)), "b": jnp.zeros(1)}]
    sgd = jaxmlp.get_optimizer("sgd")
    updates, _ = sgd.update(g, sgd.init(p), p)
    assert float(updates[0]["w"][0, 0]) == pytest.approx(-0.01)
    fast = jaxmlp.get_optimizer("sgd", 0.5)
    assert float(fast.update(g, fast.init(p), p)[0][0]["w"][0, 0]) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="learning_rate"):
        jaxmlp.get_optimizer("adam", -1.0)
    adam = jaxmlp.get_optimizer("adam")
    updates, _ = adam.update(g, adam.init(p), p)
    assert float(updates[0]["w"][0, 0]) == pytest.approx(-0.001, rel=1e-3)


def test_a_learning_rate_schedule_from_optax_is_used():
    x, t = data(16)
    params = MODEL.init(jax.random.key(0))
    schedule = optax.piecewise_constant_schedule(0.5, {1: 0.0})  # η = 0 after the first step
    once, _ = jaxmlp.fit(
        MODEL,
        params,
        x,
        t,
        optimizer=optax.sgd(schedule),
        epochs=1,
        batch_size=16,
        shuffle=False,
        verbose=0,
    )
    many, _ = jaxmlp.fit(
        MODEL,
        params,
        x,
        t,
        optimizer=optax.sgd(schedule),
        epochs=5,
        batch_size=16,
        shuffle=False,
        verbose=0,
    )
    leaves_close(once, many, rtol=0, atol=0)


def test_progress_lines(capsys):
    x, t = data(20)
    jaxmlp.fit(
        MODEL,
        MODEL.init(jax.random.key(0)),
        x,
        t,
        epochs=2,
        batch_size=8,
        validation_split=0.2,
        verbose=1,
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("Epoch 2/2  2/2 ━") and "- loss: " in lines[1]
    assert "- val_accuracy: " in lines[1]
    jaxmlp.fit(MODEL, MODEL.init(jax.random.key(0)), x, t, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_live_bar_ticks_on_a_terminal():
    stream = io.StringIO()
    stream.isatty = lambda: True
    bar = jaxmlp.training.progress.Progress(10, 1, stream)
    bar.start(0, 3)
    tick(bar.id, 4)
    bar.end({"loss": 0.5})
    text = stream.getvalue()
    assert "\rEpoch 1/3  5/10 ━━━━━━━━━━" in text and text.endswith("loss: 0.5000\n")


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(epochs=-1), ValueError, "epochs: expected an integer >= 0"),
        (dict(batch_size=0), ValueError, "batch_size: expected an integer >= 1"),
        (dict(batch_size=2.5), TypeError, "batch_size"),
        (dict(optimizer="adagrad"), ValueError, "optimizer: expected one of"),
        (dict(optimizer=3), TypeError, "optimizer: expected an optax"),
        (dict(grad="numeric"), ValueError, "grad: expected one of"),
        (dict(metrics=("f1",)), ValueError, "metrics: expected names"),
        (dict(validation_split=1.5), ValueError, "fraction"),
        (
            dict(validation_split=0.2, validation_data=(1, 2)),
            ValueError,
            "expected one of them, got both",
        ),
        (dict(validation_data=(1, 2, 3)), TypeError, "validation_data: expected a pair"),
        (dict(verbose=3), ValueError, "verbose"),
        (dict(l2=-1.0), ValueError, "l2: expected a finite number >= 0"),
        (dict(loss="hinge"), ValueError, "loss: unknown name"),
        (dict(early_stopping="yes"), TypeError, "early_stopping"),
    ],
)
def test_bad_fit_arguments(kwargs, error, match):
    x, t = data(20)
    with pytest.raises(error, match=match):
        jaxmlp.fit(MODEL, MODEL.init(jax.random.key(0)), x, t, **{"verbose": 0, **kwargs})


def test_bad_data_is_refused_before_training():
    x, t = data(20)
    params = MODEL.init(jax.random.key(0))
    with pytest.raises(ValueError, match="labels must lie"):
        jaxmlp.fit(MODEL, params, x, t + 3, verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        jaxmlp.fit(MODEL, params, x.at[3, 0].set(jnp.nan), t, verbose=0)
    with pytest.raises(ValueError, match=r"t: expected shape \(20, 3\)"):
        jaxmlp.fit(MODEL, params, x, t[:10], verbose=0)



@pytest.mark.parametrize(
    "key", [5, np.zeros(3, np.float32), "seed", jax.random.split(jax.random.key(0), 2)]
)
def test_fit_rejects_a_key_that_is_not_one_jax_key(key):
    x, t = data(20)
    with pytest.raises(TypeError, match="key: expected one jax.random key"):
        jaxmlp.fit(MODEL, MODEL.init(jax.random.key(0)), x, t, epochs=1, key=key, verbose=0)


def test_early_stopping_restores_the_best_epoch():
    x, t = data(60)
    params = MODEL.init(jax.random.key(0))
    stop = jaxmlp.EarlyStopping(monitor="val_loss", patience=1, restore_best=True)
    # a learning rate large enough to make val_loss rise after a while
    best, history = jaxmlp.fit(
        MODEL,
        params,
        x,
        t,
        optimizer=optax.sgd(3.0),
        epochs=30,
        batch_size=4,
        validation_split=0.3,
        early_stopping=stop,
        verbose=0,
    )
    epochs_run = len(history["val_loss"])
    best_epoch = int(np.argmin(history["val_loss"]))
    assert epochs_run < 30
    assert epochs_run == best_epoch + 1 + 1  # patience 1: stops at the first epoch without gain
    val = x[42:], t[42:]
    restored = jaxmlp.evaluate(MODEL, best, *val)["loss"]
    assert restored == pytest.approx(history["val_loss"][best_epoch], rel=1e-5)


def test_early_stopping_arguments():
    with pytest.raises(ValueError, match="patience"):
        jaxmlp.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode"):
        jaxmlp.EarlyStopping(mode="up")
    x, t = data(20)
    with pytest.raises(ValueError, match="set validation_split or validation_data"):
        jaxmlp.fit(
            MODEL,
            MODEL.init(jax.random.key(0)),
            x,
            t,
            early_stopping=jaxmlp.EarlyStopping(),
            verbose=0,
        )
    with pytest.raises(ValueError, match="monitors 'val_f1', which is not one of"):
        jaxmlp.fit(
            MODEL,
            MODEL.init(jax.random.key(0)),
            x,
            t,
            validation_split=0.2,
            verbose=0,
            early_stopping=jaxmlp.EarlyStopping(monitor="val_f1"),
        )
