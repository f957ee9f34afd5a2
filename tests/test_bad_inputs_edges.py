"""Trust at the edges (issue 21): running out of memory is an error before any allocation; resume
refuses any other run, by name; messages name the argument. One table per category, each case
asserting the exception type and the words of its message (processes that disagree:
tests/test_multiprocess.py)."""

import jax
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp.training.many import fit_many

MODEL = jaxmlp.MLP((8, 6, 3), ("tanh", "softmax"))
RNG = np.random.default_rng(0)
X = RNG.normal(size=(2400, 8)).astype(np.float32)
T = RNG.integers(0, 3, 2400)
COMMON = dict(epochs=1, batch_size=600, verbose=0, key=jax.random.key(1))


def params(n=None):
    return MODEL.init(jax.random.key(0) if n is None else jax.random.split(jax.random.key(0), n))


# --- memory: sized from shapes before anything is allocated ---------------------------------


def huge_init():
    jaxmlp.MLP((784, 400_000_000, 10), ("relu", "softmax")).init(jax.random.key(0))


def huge_stack():
    jaxmlp.MLP((784, 32, 10), ("relu", "softmax")).init(jax.random.split(jax.random.key(0), 10**6))


def huge_estimator():
    from jaxmlp.sklearn import MLPClassifier

    MLPClassifier(hidden_layer_sizes=(10**11,)).fit(X[:20], T[:20])


MEMORY = [
    (huge_init, MemoryError, "params: 318,000,000,010 parameters (float32) need 1.3 TB"),
    (huge_stack, MemoryError, "params: 25,450,000,000 parameters"),
    (huge_estimator, MemoryError, "params: "),
]


@pytest.mark.parametrize("call,error,words", MEMORY, ids=["init", "stack", "sklearn"])
def test_running_out_of_memory_is_an_error(call, error, words):
    with pytest.raises(error, match="need .* more than 80% of the .* this device has free") as info:
        call()
    assert words in str(info.value)


def test_fit_sizes_its_data_and_state_first(monkeypatch):
    from jaxmlp.core import memory

    monkeypatch.setattr(memory, "available", lambda device=None: 10_000)
    with pytest.raises(MemoryError, match=r"x: its 2,400 × 8 float32 values need 76\.8 kB"):
        jaxmlp.fit(MODEL, params(), X, T, **COMMON)
    monkeypatch.setattr(memory, "available", lambda device=None: 300_000)
    with pytest.raises(MemoryError, match="params: the parameters and the optimizer state"):
        fit_many(MODEL, params(200), X, T, **COMMON)


# --- resume refuses any other run ------------------------------------------------------------


def changed_label():
    t = T.copy()
    t[2222] = (t[2222] + 1) % 3  # one label, in a row a sampled digest would skip
    return dict(t=t)


def swapped_features():
    x = X.copy()
    x[2111, [2, 5]] = x[2111, [5, 2]]
    return dict(x=x)


RESUME = [
    (changed_label, "other training data"),
    (swapped_features, "other training data"),
    (lambda: dict(validation_data=(X[:50], T[:50])), "validation=None"),
    (lambda: dict(loss="mse"), "loss='categorical_crossentropy'; this call has loss='mse'"),
    (lambda: dict(optimizer="sgd"), "optimizer='adam'; this call has optimizer='sgd'"),
    (lambda: dict(optimizer=optax.sgd(0.1)), "optimizer='adam'"),
    (lambda: dict(l2=1e-3), "l2=0.0; this call has l2=0.001"),
    (lambda: dict(batch_size=300), "batch_size=600"),
    (lambda: dict(key=jax.random.key(2)), "key="),
    (lambda: dict(metrics=()), "metrics=['accuracy']"),
]


@pytest.mark.parametrize("change,words", RESUME, ids=[w.split("=")[0][:20] for _, w in RESUME])
def test_resume_refuses_another_run(tmp_path, change, words):
    path = tmp_path / "run.npz"
    jaxmlp.fit(MODEL, params(), X, T, checkpoint=path, **COMMON)
    call = {"x": X, "t": T, **COMMON, "epochs": 2, **change()}
    with pytest.raises(ValueError, match="resume: checkpoint .* was trained with") as info:
        jaxmlp.fit(MODEL, params(), call.pop("x"), call.pop("t"), resume=path, **call)
    assert words in str(info.value)


def test_resume_of_many_models_checks_the_set_as_a_whole(tmp_path):
    path = tmp_path / "run.npz"
    fit_many(MODEL, params(3), X, T, learning_rate=[1e-3, 1e-2, 1e-1], checkpoint=path, **COMMON)
    again = dict(COMMON, epochs=2)
    with pytest.raises(ValueError, match=r"resume: .*run.npz' commits a set of 3 checkpoints; "
                       r"this call has 2 models"):
        fit_many(MODEL, params(2), X, T, learning_rate=[1e-3, 1e-2], resume=path, **again)
    with pytest.raises(ValueError, match=r"resume: checkpoint .*run.npz' is the manifest of a set "
                       r"of fit_many checkpoints"):
        jaxmlp.fit(MODEL, params(), X, T, resume=path, **again)
    with pytest.raises(ValueError, match=r"learning_rate=\[0.001, 0.01, 0.1\]; this call has"):
        fit_many(MODEL, params(3), X, T, learning_rate=[1e-3, 1e-2, 1.0], resume=path, **again)
    with pytest.raises(ValueError, match="validation=None; this call has validation='folds=3'"):
        fit_many(
            MODEL, params(3), X, T, learning_rate=[1e-3, 1e-2, 1e-1], folds=3, resume=path, **again
        )
    (tmp_path / "run.1.npz").unlink()
    with pytest.raises(ValueError, match=r"resume: .*run.npz' commits epoch 1 of 3 checkpoints, "
                       r"but .*run.1.npz' is missing"):
        fit_many(MODEL, params(3), X, T, learning_rate=[1e-3, 1e-2, 1e-1], resume=path, **again)
    # a set written before manifests: run.0.npz, ... alone, checked file by file
    path.unlink()
    with pytest.raises(FileNotFoundError, match=r"resume: checkpoint .*run.1.npz' does not exist"):
        fit_many(MODEL, params(3), X, T, learning_rate=[1e-3, 1e-2, 1e-1], resume=path, **again)
    with pytest.raises(
        ValueError,
        match=r"resume: .*run.2.npz exists: the checkpoints hold more "
        r"than the 2 models of this call",
    ):
        fit_many(MODEL, params(2), X, T, learning_rate=[1e-3, 1e-2], resume=path, **again)


# --- messages that name the argument -------------------------------------------------------


def load_many_as_one(tmp_path):
    fit_many(MODEL, params(2), X, T, checkpoint=tmp_path / "run.npz", **COMMON)
    jaxmlp.load(tmp_path / "run.npz")  # the manifest, not a checkpoint


MESSAGES = [
    (
        lambda tmp: fit_many(MODEL, params(2), X, T, learning_rate=[1e-3, "fast"], **COMMON),
        TypeError,
        "learning_rate[1]: expected a positive number, got 'fast' (str)",
    ),
    (
        load_many_as_one,
        ValueError,
        "run.npz' is the manifest of a set of fit_many checkpoints, one per model (run.0.npz, "
        "run.1.npz, ...): load one of those",
    ),
    (
        lambda tmp: jaxmlp.evaluate(
            jaxmlp.MLP((8, 6, 4), ("tanh", "softmax")),
            jaxmlp.MLP((8, 6, 4), ("tanh", "softmax")).init(jax.random.key(0)),
            X,
            np.eye(3)[T],
        ),
        ValueError,
        "t: expected shape (2400, 4) or integer labels (2400,), got (2400, 3)",
    ),
]


@pytest.mark.parametrize("call,error,words", MESSAGES, ids=["rate", "load", "evaluate"])
def test_messages_name_the_argument(tmp_path, call, error, words):
    with pytest.raises(error) as info:
        call(tmp_path)
    assert words in str(info.value)
