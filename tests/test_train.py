"""fit / evaluate / predict / make_train_step: Optax equality, Keras semantics, faults, errors."""

import io

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp.core.checks import prepare
from jaxmlp.training import epoch
from jaxmlp.training.optimizers import OPTIMIZERS
from jaxmlp.training.progress import tick

MODEL = jaxmlp.MLP((6, 5, 3), ("tanh", "softmax"))


def data(n=50, seed=0):
    kx, kt = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(kx, (n, 6))
    t = (jnp.argmax(x[:, :3], axis=1) + (jax.random.uniform(kt, (n,)) < 0.1)) % 3
    return x, t


def leaves_close(a, b, rtol=1e-5, atol=1e-6):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(u, v, rtol=rtol, atol=atol)


def test_one_epoch_equals_the_same_optax_steps_by_hand():
    x, t = data(50)
    params = MODEL.init(jax.random.key(1))
    opt = optax.adam(0.01)
    key = jax.random.key(5)
    fitted, history = jaxmlp.fit(
        MODEL, params, x, t, optimizer=opt, epochs=1, batch_size=16, key=key, verbose=0
    )
    # by hand: epoch 0 visits shuffle_order(key, 0, 50); 16 + 16 + 16 + a partial batch of 2
    _, targets = prepare(MODEL, params, x, t)
    order = epoch.shuffle_order(key, 0, 50)
    state, p, losses = opt.init(params), params, []
    for start in range(0, 50, 16):
        idx = order[start : start + 16]
        value, grads = jax.value_and_grad(jaxmlp.loss, argnums=1)(MODEL, p, x[idx], targets[idx])
        updates, state = opt.update(grads, state, p)
        p = optax.apply_updates(p, updates)
        losses.append(float(value) * len(idx))
    assert len(losses) == 4  # the last partial batch is trained on, not dropped
    leaves_close(fitted, p)
    assert history["loss"][0] == pytest.approx(sum(losses) / 50, rel=1e-5)


def test_make_train_step_is_one_optax_step():
    x, t = data(8)
    params = MODEL.init(jax.random.key(2))
    _, targets = prepare(MODEL, params, x, t)
    opt = optax.sgd(0.1)
    for grad in ("backprop", "autodiff"):
        step = jaxmlp.make_train_step(MODEL, "categorical_crossentropy", opt, grad=grad)
        new, _, metrics = step(params, opt.init(params), (x, targets))
        grads = jaxmlp.backprop(MODEL, params, x, t)
        expected = jax.tree.map(lambda w, g: w - 0.1 * g, params, grads)
        leaves_close(new, expected)
        assert float(metrics["loss"]) == pytest.approx(float(jaxmlp.loss(MODEL, params, x, t)))


@pytest.mark.parametrize(
    "loss,activation,n_out",
    [
        ("categorical_crossentropy", "softmax", 3),
        ("sse", "identity", 2),
        ("binary_crossentropy", "sigmoid", 1),
        ("mse", "tanh", 2),
    ],
)
def test_backprop_and_autodiff_training_agree(loss, activation, n_out):
    model = jaxmlp.MLP((6, 8, n_out), ("relu", activation))
    x, labels = data(40)
    t = (
        labels % 2
        if n_out == 1
        else (labels if loss.startswith("cat") else jax.nn.one_hot(labels % n_out, n_out))
    )
    params = model.init(jax.random.key(0))
    runs = [
        jaxmlp.fit(
            model,
            params,
            x,
            t,
            loss=loss,
            optimizer="adam",
            epochs=3,
            batch_size=8,
            l2=1e-3,
            grad=grad,
            verbose=0,
        )
        for grad in ("backprop", "autodiff")
    ]
    leaves_close(runs[0][0], runs[1][0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(runs[0][1]["loss"], runs[1][1]["loss"], rtol=1e-5)


def test_validation_split_takes_the_last_rows_before_shuffling():
    x, t = data(50)
    params = MODEL.init(jax.random.key(0))
    _, history = jaxmlp.fit(
        MODEL, params, x, t, epochs=2, batch_size=8, validation_split=0.2, verbose=0
    )
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in history.values())
    # the same run with validation_data = the last 10 rows gives the same history
    _, explicit = jaxmlp.fit(
        MODEL,
        params,
        x[:40],
        t[:40],
        epochs=2,
        batch_size=8,
        validation_data=(x[40:], t[40:]),
        verbose=0,
    )
    for name in history:
        np.testing.assert_allclose(history[name], explicit[name], rtol=1e-6)


def test_history_without_validation_or_metrics():
    x, t = data(20)
    _, history = jaxmlp.fit(
        MODEL, MODEL.init(jax.random.key(0)), x, t, epochs=2, metrics=(), verbose=0
    )
    assert list(history) == ["loss"]


def test_training_is_deterministic_and_the_caller_params_survive():
    x, t = data(30)
    params = MODEL.init(jax.random.key(0))
    copy = jax.device_get(params)
    a, _ = jaxmlp.fit(MODEL, params, x, t, epochs=2, batch_size=7, key=jax.random.key(3), verbose=0)
    b, _ = jaxmlp.fit(MODEL, params, x, t, epochs=2, batch_size=7, key=jax.random.key(3), verbose=0)
    c, _ = jaxmlp.fit(MODEL, params, x, t, epochs=2, batch_size=7, key=jax.random.key(4), verbose=0)
    leaves_close(a, b, rtol=0, atol=0)
    assert not np.allclose(a[0]["w"], c[0]["w"])
    leaves_close(params, copy, rtol=0, atol=0)  # not donated away


def test_nothing_recompiles_between_epochs():
    compiled = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, _, **kw: compiled.append(event) if "backend_compile" in event else None
    )
    x, t = data(30)
    model = jaxmlp.MLP((6, 7, 3), ("tanh", "softmax"))
    at_epoch_end = []  # the number of compilations so far, at the end of each epoch
    jaxmlp.fit(
        model,
        model.init(jax.random.key(0)),
        x,
        t,
        optimizer=optax.sgd(0.1),
        epochs=4,
        batch_size=8,
        validation_split=0.2,
        verbose=0,
        on_epoch_end=lambda epoch, logs: at_epoch_end.append(len(compiled)),
    )
    assert len(at_epoch_end) == 4 and at_epoch_end[0] > 0  # the first epoch compiled
    assert at_epoch_end[1:] == [at_epoch_end[0]] * 3  # epochs 2..4 compiled nothing


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


def test_a_non_finite_loss_stops_with_the_last_finite_parameters(tmp_path):
    model = jaxmlp.MLP((6, 4, 2), ("identity", "identity"))
    x, labels = data(64)
    t = jax.nn.one_hot(labels % 2, 2)
    path = tmp_path / "run.npz"
    jaxmlp.fit(
        model,
        model.init(jax.random.key(0)),
        x,
        t,
        loss="sse",
        optimizer=optax.sgd(0.01),
        epochs=2,
        batch_size=8,
        checkpoint=path,
        verbose=0,
    )
    with pytest.raises(
        jaxmlp.TrainingError, match=r"non-finite loss at epoch \d+, step \d+"
    ) as info:
        jaxmlp.fit(
            model,
            model.init(jax.random.key(0)),
            x,
            t,
            loss="sse",
            optimizer=optax.sgd(5.0),
            epochs=50,
            batch_size=8,
            checkpoint=path,
            resume=path,
            verbose=0,
        )
    error = info.value
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(error.params))
    assert error.epoch >= 3 and 1 <= error.step <= 8
    # the last good checkpoint survives the divergence intact: the last epoch that finished
    saved = jaxmlp.load(path, optimizer=optax.sgd(0.01))
    assert saved.opt_state is not None and saved.step == (error.epoch - 1) * 8
    assert len(saved.history["loss"]) == error.epoch - 1
    assert all(np.isfinite(saved.history["loss"]))
    resumed, _ = jaxmlp.fit(
        model,
        model.init(jax.random.key(0)),
        x,
        t,
        loss="sse",
        optimizer=optax.sgd(0.01),
        epochs=error.epoch,
        batch_size=8,
        resume=path,
        verbose=0,
    )
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(resumed))


def test_evaluate_and_predict():
    x, t = data(20)
    params = MODEL.init(jax.random.key(0))
    probs = jaxmlp.predict(MODEL, params, x)
    assert probs.shape == (20, 3)
    np.testing.assert_allclose(probs, MODEL.apply(params, x), rtol=1e-6)
    result = jaxmlp.evaluate(MODEL, params, x, t)
    assert result["loss"] == pytest.approx(float(jaxmlp.loss(MODEL, params, x, t)), rel=1e-6)
    assert result["accuracy"] == pytest.approx(float(jnp.mean(jnp.argmax(probs, 1) == t)))
    with pytest.raises(ValueError, match=r"x: expected shape \(B, 6\)"):
        jaxmlp.predict(MODEL, params, x[:, :5])


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


def test_deck002_on_fashion_mnist_passes_080_in_two_epochs():
    try:
        (x, t), (x_test, t_test) = jaxmlp.data.load("fashion-mnist")
    except FileNotFoundError as error:
        pytest.skip(f"Fashion-MNIST is not installed here: {error}".splitlines()[0])
    model = jaxmlp.MLP((784, 32, 10), ("relu", "softmax"))
    params, history = jaxmlp.fit(
        model,
        model.init(jax.random.key(0)),
        x,
        t,
        optimizer="adam",
        epochs=2,
        batch_size=64,
        validation_split=0.2,
        verbose=0,
    )
    assert len(history["val_accuracy"]) == 2
    assert jaxmlp.evaluate(model, params, x_test, t_test)["accuracy"] > 0.80


def test_on_epoch_end_sees_every_epoch_after_its_metrics():
    x, t = data(20)
    seen = []
    _, history = jaxmlp.fit(
        MODEL,
        MODEL.init(jax.random.key(0)),
        x,
        t,
        epochs=3,
        batch_size=8,
        verbose=0,
        on_epoch_end=lambda epoch, logs: seen.append((epoch, logs)),
    )
    assert [epoch for epoch, _ in seen] == [0, 1, 2]
    assert [logs["loss"] for _, logs in seen] == history["loss"]
    with pytest.raises(TypeError, match="on_epoch_end"):
        jaxmlp.fit(MODEL, MODEL.init(jax.random.key(0)), x, t, verbose=0, on_epoch_end=3)


def test_shuffle_order_is_a_reproducible_permutation_per_key_and_epoch():
    key = jax.random.key(7)
    first = epoch.shuffle_order(key, 0, 1000)
    assert first.dtype == np.int32
    assert sorted(first.tolist()) == list(range(1000))
    np.testing.assert_array_equal(
        first, epoch.shuffle_order(key, 0, 1000)
    )  # a function of (key, epoch)
    assert not np.array_equal(first, epoch.shuffle_order(key, 1, 1000))
    assert not np.array_equal(first, epoch.shuffle_order(jax.random.key(8), 0, 1000))
    np.testing.assert_array_equal(
        first, epoch.shuffle_order(jax.random.PRNGKey(7), 0, 1000)
    )  # legacy key
    np.testing.assert_array_equal(epoch.shuffle_order(key, 3, 5, shuffle=False), np.arange(5))
    # every row is equally likely at every position: position 0 over 2,000 epochs of 4 rows
    counts = np.bincount([epoch.shuffle_order(key, e, 4)[0] for e in range(2000)], minlength=4)
    assert counts.min() > 400 and counts.max() < 600


@pytest.mark.parametrize(
    "key", [5, np.zeros(3, np.float32), "seed", jax.random.split(jax.random.key(0), 2)]
)
def test_fit_rejects_a_key_that_is_not_one_jax_key(key):
    x, t = data(20)
    with pytest.raises(TypeError, match="key: expected one jax.random key"):
        jaxmlp.fit(MODEL, MODEL.init(jax.random.key(0)), x, t, epochs=1, key=key, verbose=0)
