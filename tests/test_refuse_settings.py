"""Trust in a run's settings (issues 28, 37): resume refuses a changed optimizer, learning rate or
validation row, by name; an opaque Optax transformation is compared by its first updates;
processes compare the learning rate and those updates before any collective; when every model of
fit_many diverges, the error names each. One table per category, each case asserting the
exception type and the words of its message (memory: tests/test_refuse_memory.py)."""

import json
import warnings

import jax
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import cli
from jaxmlp.training.many import fit_many

MODEL = jaxmlp.MLP((6, 5, 3), ("tanh", "softmax"))
RNG = np.random.default_rng(0)
X = RNG.normal(size=(240, 6)).astype(np.float32)
T = RNG.integers(0, 3, 240)
COMMON = dict(batch_size=60, verbose=0, key=jax.random.key(1))


def params(n=None):
    return MODEL.init(jax.random.key(0) if n is None else jax.random.split(jax.random.key(0), n))


def adam_b1(b1):
    return optax.inject_hyperparams(optax.adam)(learning_rate=1e-3, b1=b1)


def one_value_changed_in_the_validation_rows():
    x = X.copy()
    x[-7, 3] += 1.0  # a row of the last quarter: validation_split=0.25 holds it out
    return x


# --- resume refuses a changed optimizer, rate or validation row ------------------------------

# (first call, the resumed call's changes, the words of the refusal); fit unless "models" is given
RESUME = [
    (dict(optimizer="adam"), dict(optimizer=jaxmlp.get_optimizer("adam", 1e-2)),
     "learning_rate=0.001; this call has learning_rate=0.01"),
    (dict(optimizer=jaxmlp.get_optimizer("sgd", 0.1)), dict(optimizer="sgd"),
     "learning_rate=0.1; this call has learning_rate=0.01"),
    (dict(optimizer=optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)),
     dict(optimizer=optax.inject_hyperparams(optax.adam)(learning_rate=1e-2)),
     "learning_rate=0.001; this call has learning_rate=0.01"),
    (dict(optimizer=adam_b1(0.9)), dict(optimizer=adam_b1(0.8)),
     "this call has hyperparameters={'b1': 0.8, 'b2': 0.999"),
    (dict(models=2, learning_rate=1e-3), dict(learning_rate=1e-2),
     "learning_rate=[0.001, 0.001]; this call has learning_rate=[0.01, 0.01]"),
    (dict(models=2, learning_rate=[1e-3, 1e-2]), dict(learning_rate=[1e-3, 2e-2]),
     "learning_rate=[0.001, 0.01]; this call has learning_rate=[0.001, 0.02]"),
    (dict(models=2, optimizer=optax.adam, learning_rate=[1e-3, 1e-2]),
     dict(optimizer=optax.adam, learning_rate=[1e-2, 1e-2]),
     "learning_rate=[0.001, 0.01]; this call has learning_rate=[0.01, 0.01]"),
    (dict(validation_split=0.25), dict(x=one_value_changed_in_the_validation_rows()),
     "was trained with validation='validation_split=0.25 "),
    (dict(models=2, validation_split=0.25), dict(x=one_value_changed_in_the_validation_rows()),
     "was trained with validation='validation_split=0.25 "),
]


def train(call, path, epochs, resume=None):
    call = dict(call)
    models, x = call.pop("models", None), call.pop("x", X)
    if models is None:
        return jaxmlp.fit(MODEL, params(), x, T, epochs=epochs, checkpoint=path, resume=resume,
                          **call, **COMMON)
    return fit_many(MODEL, params(models), x, T, epochs=epochs, checkpoint=path, resume=resume,
                    **call, **COMMON)


@pytest.mark.parametrize("first,change,words", RESUME, ids=[
    "name-rate", "named-rate", "injected-rate", "injected-b1", "many-rate", "many-rates",
    "many-alias", "validation-row", "many-validation-row"])
def test_resume_refuses_a_changed_optimizer_or_validation(tmp_path, first, change, words):
    path = tmp_path / "run.npz"
    train(first, path, 1)
    train(first, path, 2, resume=path)  # the same call resumes
    with pytest.raises(ValueError, match="resume: checkpoint .* was trained with") as info:
        train(first | change, path, 3, resume=path)
    assert words in str(info.value) and "resuming would change the run" in str(info.value)


def test_jaxmlp_train_resume_refuses_another_lr(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JAXMLP_DEBUG", raising=False)
    ckpt, out = tmp_path / "run.npz", tmp_path / "out"

    def train(epochs, lr, *more):
        return cli.main(["train", "--epochs", epochs, "--verbose", "0", "--hidden", "4", "--lr",
                         lr, "--checkpoint", str(ckpt), "--out", str(out), *more])

    assert train("1", "0.001") == 0
    assert train("2", "0.01", "--resume", str(ckpt), "--force") == 1
    err = capsys.readouterr().err
    assert "learning_rate=0.001; this call has learning_rate=0.01" in err and err.count("\n") == 1
    assert train("2", "0.001", "--resume", str(ckpt), "--force") == 0  # the same rate resumes
    assert len(json.loads((out / "history.json").read_text())["history"]["loss"]) == 2


# --- an opaque Optax transformation is compared by what it does (its first updates) ----------

OPAQUE = [(None, optax.adam(1e-3), optax.adam(1e-2)), (3, optax.sgd(0.1), optax.sgd(0.2)),
          (None, optax.adam(1e-3), optax.adam(1e-3, b1=0.8)),
          (None, optax.adamw(1e-3), optax.adamw(1e-3, weight_decay=1e-2))]


@pytest.mark.parametrize("models,first,second", OPAQUE, ids=["fit", "fit_many", "b1", "decay"])
def test_resume_refuses_another_opaque_optimizer_by_its_updates(tmp_path, models, first, second):
    path = tmp_path / "run.npz"
    call = dict(optimizer=first) if models is None else dict(optimizer=first, models=models)
    train(call, path, 1)
    with pytest.raises(ValueError, match="the optimizer's updates differ from the checkpoint's"):
        train(call | dict(optimizer=second), path, 2, resume=path)


def test_the_readmes_optimizer_rebuilt_resumes_bit_for_bit(tmp_path):
    whole, _ = train(dict(optimizer=optax.adam(1e-3)), tmp_path / "whole.npz", 2)
    path = tmp_path / "run.npz"
    train(dict(optimizer=optax.adam(1e-3)), path, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # compared by its updates: nothing to warn about
        resumed, _ = train(dict(optimizer=optax.adam(1e-3)), path, 2, resume=path)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_an_old_checkpoint_without_the_fingerprint_still_resumes(tmp_path):
    from jaxmlp.training.resume import compare_record

    run = {"loss": "sse", "optimizer_updates": "0123456789abcdef"}
    compare_record("old.npz", {"loss": "sse"}, run)  # recorded before the fingerprint: resumes
    with pytest.raises(ValueError, match="the optimizer's updates differ"):
        compare_record("new.npz", {"loss": "sse", "optimizer_updates": "fedcba9876543210"}, run)


# --- processes compare the learning rate before any collective --------------------------------

AGREED = [
    ("adam", jaxmlp.get_optimizer("adam", 1e-2), None, None),
    (optax.inject_hyperparams(optax.sgd)(0.1), optax.inject_hyperparams(optax.sgd)(0.2), None,
     None),
    ("adam", "adam", 1e-3, 1e-2),
    ("adam", "adam", [1e-3, 1e-2], [1e-3, 1e-3]),
]


@pytest.mark.parametrize("a,b,rate_a,rate_b", AGREED, ids=["fit", "injected", "many", "rates"])
def test_processes_compare_the_learning_rate(a, b, rate_a, rate_b):
    """What two processes compare (jaxmlp.parallel.processes.agree) differs in the rate alone."""
    from jaxmlp.training.optimizer_record import optimizer_settings
    from jaxmlp.training.optimizers import many_optimizer
    from jaxmlp.training.setup import agreed_settings, options
    from jaxmlp.training.step import make_config

    def settings(optimizer, rate):
        n = None if rate is None else 2
        opt, rates = (jaxmlp.get_optimizer(optimizer), None) if n is None else many_optimizer(
            optimizer, rate, n)
        described = optimizer_settings(MODEL, optimizer, opt, params(), n, rates)
        o = options(1, 60, ("accuracy",), None, None, 0, None, None)
        config = make_config(MODEL, "categorical_crossentropy", opt, "backprop", "mean", 0.0, 0.0)
        return agreed_settings(MODEL, params(), config, o, 0.0, None, True, None, described)

    first, second = settings(a, rate_a), settings(b, rate_b)
    assert {k for k in first if first[k] != second[k]} <= {"learning_rate", "optimizer_updates"}
    assert first["learning_rate"] != second["learning_rate"]


def test_processes_compare_an_opaque_optimizer_by_its_updates():
    from jaxmlp.training.optimizer_record import optimizer_settings

    def described(opt):
        return optimizer_settings(MODEL, opt, opt, params())

    first, second = described(optax.adam(1e-3)), described(optax.adam(1e-2))
    assert first["learning_rate"] is None and second["learning_rate"] is None
    assert [k for k in first if first[k] != second[k]] == ["optimizer_updates"]
    assert described(optax.adam(1e-3)) == first  # built again: the same


# --- when every model of fit_many diverges, the error names each with its epoch and step ------

SSE = jaxmlp.MLP((4, 8, 1), ("tanh", "identity"))
XS = RNG.normal(size=(64, 4)).astype(np.float32)
TS = RNG.normal(size=(64, 1)).astype(np.float32)

# (rates, strict, the words): sgd at 1e30 diverges at once, at 2.0 in a later epoch
DIVERGED = [
    ([1e30, 2.0], False, "non-finite loss in models [0, 1] (model 0 at epoch 1, step 2; "
     "model 1 at epoch "),
    ([2.0, 0.01, 1e30], False, None),  # model 1 trains on: no error
    ([1e30, 1e30], False, "in models [0, 1] (model 0 at epoch 1, step 2; model 1 at epoch 1, "
     "step 2)"),
    ([0.01, 1e30], True, "in models [1] (model 1 at epoch 1, step 2)"),
]


@pytest.mark.parametrize("rates,strict,words", DIVERGED, ids=["all", "one-left", "same", "strict"])
def test_the_error_names_every_diverged_model(rates, strict, words):
    stacked = SSE.init(jax.random.split(jax.random.key(0), len(rates)))
    call = dict(optimizer="sgd", learning_rate=rates, loss="sse", epochs=12, batch_size=16,
                verbose=0, metrics=(), strict=strict)
    if words is None:
        _, history = fit_many(SSE, stacked, XS, TS, **call)
        assert history.stopped[1] is None and history.stopped[2]["epoch"] == 1
        return
    with pytest.raises(jaxmlp.TrainingError) as info:
        fit_many(SSE, stacked, XS, TS, **call)
    assert words in str(info.value), str(info.value)
    assert str(info.value).endswith("the last finite parameters are in this error's .params")
