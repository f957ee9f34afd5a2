"""Bad arguments to training and data helpers: fit, fit_many, stopping, optimizers, devices,
scikit-learn estimators, splits and playground data. Each a TypeError / ValueError naming the
argument, raised before the first epoch is compiled (a table: call, type, words)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp.core.programs import PROGRAMS
from jaxmlp.data import (
    as_images,
    batches,
    features,
    kfold,
    one_hot,
    playground_data,
    playground_points,
    stratified_kfold,
    train_val_test_split,
    validation_split,
)
from jaxmlp.parallel.devices import make_mesh

MODEL = jaxmlp.MLP((4, 5, 3), ("tanh", "softmax"))
PARAMS = MODEL.init(jax.random.key(0))
STACK = MODEL.init(jax.random.split(jax.random.key(0), 2))
X = np.linspace(-1, 1, 40, dtype=np.float32).reshape(10, 4)
T = np.arange(10) % 3
NAN, INF = float("nan"), float("inf")


def fit(**changes):
    base = {"model": MODEL, "params": PARAMS, "x": X, "t": T, "verbose": 0}
    return lambda: _train(jaxmlp.fit, {**base, **changes})


def many(**changes):
    return lambda: _train(
        jaxmlp.fit_many, {"model": MODEL, "params": STACK, "x": X, "t": T, "verbose": 0, **changes}
    )


def _train(fn, kwargs):
    return fn(kwargs.pop("model"), kwargs.pop("params"), kwargs.pop("x"), kwargs.pop("t"), **kwargs)


COMMON = [  # arguments fit and fit_many share
    ("epochs-negative", dict(epochs=-1), ValueError, ["epochs"]),
    ("epochs-float", dict(epochs=2.0), TypeError, ["epochs"]),
    ("epochs-bool", dict(epochs=True), TypeError, ["epochs"]),
    ("batch_size-zero", dict(batch_size=0), ValueError, ["batch_size"]),
    ("batch_size-str", dict(batch_size="32"), TypeError, ["batch_size"]),
    ("optimizer-name", dict(optimizer="adamx"), ValueError, ["optimizer", "adamx"]),
    ("optimizer-type", dict(optimizer=0.1), TypeError, ["optimizer"]),
    ("loss", dict(loss="hinge"), ValueError, ["loss"]),
    ("grad", dict(grad="finite"), ValueError, ["grad"]),
    ("reduction", dict(reduction="avg"), ValueError, ["reduction"]),
    ("l2-inf", dict(l2=INF), ValueError, ["l2"]),
    ("l2-str", dict(l2="0.1"), TypeError, ["l2"]),
    ("l1-negative", dict(l1=-1.0), ValueError, ["l1"]),
    ("metrics", dict(metrics=("f1",)), ValueError, ["metrics"]),
    ("verbose", dict(verbose=3), ValueError, ["verbose"]),
    ("on_epoch_end", dict(on_epoch_end="print"), TypeError, ["on_epoch_end"]),
    ("early_stopping-type", dict(early_stopping="val_loss"), TypeError, ["early_stopping"]),
    (
        "early_stopping-monitor",
        dict(early_stopping=jaxmlp.EarlyStopping("val_loss")),
        ValueError,
        ["early_stopping", "val_loss"],
    ),
    ("key-int", dict(key=0), TypeError, ["key", "jax.random.key"]),
    ("key-batch", dict(key=jax.random.split(jax.random.key(0), 2)), TypeError, ["key"]),
    ("validation_split-one", dict(validation_split=1.0), ValueError, ["validation_split"]),
    ("validation_split-negative", dict(validation_split=-0.2), ValueError, ["validation_split"]),
    ("validation_split-str", dict(validation_split="0.2"), TypeError, ["validation_split"]),
    (
        "validation_split-large",
        dict(validation_split=0.95),
        ValueError,
        ["validation_split", "empty"],
    ),
    (
        "validation_both",
        dict(validation_split=0.2, validation_data=(X, T)),
        ValueError,
        ["validation_split and validation_data"],
    ),
    ("validation_data-single", dict(validation_data=X), TypeError, ["validation_data"]),
    (
        "validation_data-x-width",
        dict(validation_data=(X[:, :2], T)),
        ValueError,
        ["validation_data[0] (x_val)"],
    ),
    (
        "validation_data-t-label",
        dict(validation_data=(X, T + 5)),
        ValueError,
        ["validation_data[1] (t_val)"],
    ),
    (
        "validation_data-x-nan",
        dict(validation_data=(X * NAN, T)),
        ValueError,
        ["validation_data[0] (x_val)"],
    ),
    (
        "validation_data-t-rows",
        dict(validation_data=(X, T[:3])),
        ValueError,
        ["validation_data[1] (t_val)"],
    ),
    ("x-nan", dict(x=np.where(X > 0.5, NAN, X)), ValueError, ["x", "NaN"]),
    ("x-int", dict(x=X.astype(int)), TypeError, ["x"]),
    ("x-width", dict(x=X[:, :3]), ValueError, ["x"]),
    ("t-label", dict(t=T + 1), ValueError, ["t", "labels"]),
    ("t-nan", dict(t=np.full((10, 3), NAN, np.float32)), ValueError, ["t", "NaN"]),
    ("t-rows", dict(t=T[:9]), ValueError, ["t"]),
    ("model", dict(model="mlp"), TypeError, ["model"]),
    ("checkpoint-suffix", dict(checkpoint="run.txt"), ValueError, ["checkpoint", ".npz"]),
    (
        "checkpoint-folder-is-file",
        dict(checkpoint=__file__ + "/run.npz"),
        ValueError,
        ["checkpoint"],
    ),
    ("checkpoint-proc", dict(checkpoint="/proc/jaxmlp/run.npz"), ValueError, ["checkpoint"]),
    ("checkpoint-int", dict(checkpoint=3), TypeError, ["checkpoint"]),
    (
        "resume-missing",
        dict(resume="/nonexistent/run.npz"),
        (FileNotFoundError, ValueError),
        ["/nonexistent/run"],
    ),
]
FIT_ONLY = [
    ("params-stacked", dict(params=STACK), ValueError, ["params[0]['w']"]),
    (
        "params-nan",
        dict(params=[{**PARAMS[0], "w": PARAMS[0]["w"] * NAN}, PARAMS[1]]),
        ValueError,
        ["params[0]['w']", "NaN"],
    ),
    ("devices", dict(devices="gpu9"), ValueError, ["devices"]),
    ("devices-count", dict(devices=10_000), ValueError, ["devices"]),
    ("devices-type", dict(devices=2.5), TypeError, ["devices"]),
    ("mesh", dict(mesh="data"), ValueError, ["mesh"]),
    ("devices-and-mesh", dict(devices=1, mesh=make_mesh(1)), ValueError, ["devices and mesh"]),
]
MANY_ONLY = [
    ("params-single", dict(params=PARAMS), (TypeError, ValueError), ["params"]),
    (
        "learning_rate-count",
        dict(optimizer="sgd", learning_rate=[0.1, 0.2, 0.3]),
        ValueError,
        ["learning_rate"],
    ),
    ("l2-count", dict(l2=[0.1, 0.2, 0.3]), ValueError, ["l2"]),
    ("folds-count", dict(folds=3), ValueError, ["folds"]),
    ("folds-with-split", dict(folds=2, validation_split=0.2), ValueError, ["folds"]),
]
CASES = [pytest.param(fit(**c), e, w, id=f"fit-{i}") for i, c, e, w in COMMON + FIT_ONLY] + [
    pytest.param(many(**c), e, w, id=f"fit_many-{i}") for i, c, e, w in COMMON + MANY_ONLY
]


def refuses(name, fn, error, *words):
    return pytest.param(fn, error, words, id=name)


KEY = jax.random.key(0)
CASES += [
    refuses(
        "EarlyStopping-patience", lambda: jaxmlp.EarlyStopping(patience=-1), ValueError, "patience"
    ),
    refuses(
        "EarlyStopping-patience-float",
        lambda: jaxmlp.EarlyStopping(patience=1.5),
        ValueError,
        "patience",
    ),
    refuses(
        "EarlyStopping-min_delta",
        lambda: jaxmlp.EarlyStopping(min_delta=-0.1),
        ValueError,
        "min_delta",
    ),
    refuses(
        "EarlyStopping-min_delta-nan",
        lambda: jaxmlp.EarlyStopping(min_delta=NAN),
        ValueError,
        "min_delta",
    ),
    refuses("EarlyStopping-mode", lambda: jaxmlp.EarlyStopping(mode="up"), ValueError, "mode"),
    refuses("get_optimizer-name", lambda: jaxmlp.get_optimizer("nadam9"), ValueError, "optimizer"),
    refuses(
        "get_optimizer-rate", lambda: jaxmlp.get_optimizer("sgd", -0.1), ValueError, "learning_rate"
    ),
    refuses(
        "get_optimizer-rate-inf",
        lambda: jaxmlp.get_optimizer("sgd", INF),
        ValueError,
        "learning_rate",
    ),
    refuses(
        "get_optimizer-rate-object",
        lambda: jaxmlp.get_optimizer(optax.sgd(0.1), 0.1),
        ValueError,
        "learning_rate",
    ),
    refuses("get_optimizer-type", lambda: jaxmlp.get_optimizer(None), TypeError, "optimizer"),
    refuses("make_mesh-zero", lambda: make_mesh(0), ValueError, "devices"),
    refuses("make_mesh-name", lambda: make_mesh("tpu"), ValueError, "devices"),
    refuses(
        "make_mesh-twice", lambda: make_mesh([jax.devices()[0]] * 2), ValueError, "devices", "twice"
    ),
    refuses("make_mesh-type", lambda: make_mesh(1.0), TypeError, "devices"),
    refuses("make_mesh-mesh", lambda: make_mesh(None, "m"), ValueError, "mesh"),
    # data helpers
    refuses(
        "validation_split-fraction",
        lambda: validation_split(X, T, 1.5),
        ValueError,
        "validation_split",
    ),
    refuses(
        "validation_split-rows", lambda: validation_split(X, T[:4], 0.2), ValueError, "x and t"
    ),
    refuses("validation_split-scalar", lambda: validation_split(3, T, 0.2), TypeError, "x"),
    refuses(
        "train_val_test-sum",
        lambda: train_val_test_split(KEY, 10, (0.5, 0.2, 0.2)),
        ValueError,
        "fractions",
    ),
    refuses(
        "train_val_test-len",
        lambda: train_val_test_split(KEY, 10, (0.5, 0.5)),
        ValueError,
        "fractions",
    ),
    refuses(
        "train_val_test-type", lambda: train_val_test_split(KEY, 10, 0.5), TypeError, "fractions"
    ),
    refuses("kfold-k", lambda: kfold(KEY, 10, 1), ValueError, "k"),
    refuses("kfold-k-large", lambda: kfold(KEY, 3, 5), ValueError, "k", "n=3"),
    refuses("kfold-n", lambda: kfold(KEY, 1.5, 2), TypeError, "n"),
    refuses("kfold-key", lambda: kfold(7, 10, 2), TypeError, "key"),
    refuses("stratified-k", lambda: stratified_kfold(KEY, T, 5), ValueError, "k", "smallest class"),
    refuses("stratified-labels-2d", lambda: stratified_kfold(KEY, X, 2), ValueError, "labels"),
    refuses("stratified-key", lambda: stratified_kfold(None, T, 2), TypeError, "key"),
    refuses("batches-size", lambda: batches(None, 10, 0), ValueError, "batch_size"),
    refuses("batches-drop", lambda: batches(None, 3, 5, drop_last=True), ValueError, "drop_last"),
    refuses("batches-n", lambda: batches(None, "10", 2), TypeError, "n"),
    refuses("one_hot-float", lambda: one_hot(np.array([0.5])), TypeError, "t"),
    refuses("one_hot-range", lambda: one_hot([0, 3], 3), ValueError, "t", "label 3"),
    refuses("one_hot-classes", lambda: one_hot([0], 0), ValueError, "num_classes"),
    refuses("as_images-square", lambda: as_images(np.zeros((2, 10))), ValueError, "x"),
    refuses("as_images-ndim", lambda: as_images(np.zeros((2, 2, 4))), ValueError, "x"),
    refuses("playground-name", lambda: playground_data("moons", KEY), ValueError, "moons"),
    refuses("playground-key", lambda: playground_data("xor", 1), TypeError, "key"),
    refuses("playground-n", lambda: playground_data("xor", KEY, n=1), ValueError, "n"),
    refuses("playground-noise", lambda: playground_data("xor", KEY, noise=80), ValueError, "noise"),
    refuses(
        "playground-noise-nan", lambda: playground_data("xor", KEY, noise=NAN), ValueError, "noise"
    ),
    refuses(
        "playground-ratio",
        lambda: playground_data("xor", KEY, train_ratio=100),
        ValueError,
        "train_ratio",
    ),
    refuses(
        "playground-ratio-str",
        lambda: playground_data("xor", KEY, train_ratio="50"),
        TypeError,
        "train_ratio",
    ),
    refuses(
        "playground-labels", lambda: playground_data("xor", KEY, labels="ab"), ValueError, "labels"
    ),
    refuses(
        "playground-points", lambda: playground_points("spiral9", KEY, 10), ValueError, "spiral9"
    ),
    refuses(
        "features-name", lambda: features(np.zeros((3, 2)), ("x", "z")), ValueError, "feature", "z"
    ),
    refuses("features-shape", lambda: features(np.zeros((3, 3))), ValueError, "xy"),
    refuses("features-repeat", lambda: features(np.zeros((3, 2)), ("x", "x")), ValueError, "names"),
]


@pytest.mark.parametrize("fn, error, words", CASES)
def test_refused_before_training(fn, error, words):
    with pytest.raises(error) as info:
        fn()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


SKLEARN = [
    ("hidden_layer_sizes", dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
    ("activation", dict(activation="gelu9"), "activation"),
    ("solver", dict(solver="newton"), "solver"),
    ("alpha", dict(alpha=-1.0), "alpha"),
    ("batch_size", dict(batch_size=0), "batch_size"),
    ("learning_rate", dict(learning_rate="fast"), "learning_rate"),
    ("learning_rate_init", dict(learning_rate_init=0.0), "learning_rate_init"),
    ("max_iter", dict(max_iter=0), "max_iter"),
    ("validation_fraction", dict(validation_fraction=1.0), "validation_fraction"),
    ("grad", dict(grad="numeric"), "grad"),
    ("output_activation", dict(output_activation="tanh"), "output_activation"),
    ("momentum", dict(momentum=2.0), "momentum"),
    ("beta_1", dict(beta_1=1.0), "beta_1"),
    ("n_iter_no_change", dict(n_iter_no_change=0), "n_iter_no_change"),
]


@pytest.mark.parametrize("params, word", [pytest.param(p, w, id=i) for i, p, w in SKLEARN])
def test_sklearn_jaxmlp_parameters_are_named(params, word):
    sklearn = pytest.importorskip("jaxmlp.sklearn")
    with pytest.raises(ValueError) as info:
        sklearn.MLPClassifier(**params).fit(X, T)
    assert word in str(info.value)


def test_cases_fail_before_compiling(monkeypatch):
    """The tables above never reach XLA: compiling is made to raise, and every case still
    refuses."""

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled")

    monkeypatch.setattr(PROGRAMS, "get", no_compile)  # every compiled program jaxmlp builds
    for case in CASES[:60]:
        fn, error, _ = case.values
        with pytest.raises(error):
            fn()


def test_the_table_is_large_enough():
    assert len(CASES) + len(SKLEARN) >= 150
    assert jnp.asarray(T).shape == (10,)
