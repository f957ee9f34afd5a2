"""fit / evaluate / predict / make_train_step: Optax equality, Keras semantics, early stopping,
faults (options and bad arguments: test_train_options.py)."""


import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from train_data import MODEL, data, leaves_close

import jaxmlp
from jaxmlp.core.checks import prepare
from jaxmlp.training import epoch


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


def test_a_non_finite_loss_stops_with_the_last_finite_parameters(tmp_path):
    model = jaxmlp.MLP((6, 4, 2), ("identity", "identity"))
    x, labels = data(64)
    t = jax.nn.one_hot(labels % 2, 2)
    path = tmp_path / "run.npz"

    def sgd():  # 0.01 for two epochs of 8 steps, then 5.0: the resumed run diverges
        return optax.sgd(optax.piecewise_constant_schedule(0.01, {16: 500.0}))

    jaxmlp.fit(
        model,
        model.init(jax.random.key(0)),
        x,
        t,
        loss="sse",
        optimizer=sgd(),
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
            optimizer=sgd(),  # the same optimizer, built again: it resumes
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
    saved = jaxmlp.load(path, optimizer=sgd())
    assert saved.opt_state is not None and saved.step == (error.epoch - 1) * 8
    assert len(saved.history["loss"]) == error.epoch - 1
    assert all(np.isfinite(saved.history["loss"]))
    gentle = optax.sgd(optax.piecewise_constant_schedule(0.01, {10**6: 500.0}))  # same start
    resumed, _ = jaxmlp.fit(
        model,
        model.init(jax.random.key(0)),
        x,
        t,
        loss="sse",
        optimizer=gentle,
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
