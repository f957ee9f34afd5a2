"""Bad inputs to the core API: every one a clear TypeError / ValueError naming the argument.

A table: (call, exception type, words the message must hold). Every case fails in the argument
checks, before anything is compiled, so the whole table runs in a few seconds. The same bad
arguments are tried on every function that takes them (issue 13: each class, everywhere).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp.core.backprop import checked

MODEL = jaxmlp.MLP((4, 5, 3), ("tanh", "softmax"))
PARAMS = MODEL.init(jax.random.key(0))
X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4)
T = np.array([0, 1, 2, 0, 1, 2])
NAN, INF = float("nan"), float("inf")


def layer(i=0, **changes):
    """PARAMS with layer ``i``'s entries replaced (None deletes one)."""
    out = [dict(p) for p in PARAMS]
    for name, value in changes.items():
        if value is None:
            del out[i][name]
        else:
            out[i][name] = value
    return out


def nan_at(array, where=(0, 0)):
    a = np.array(array, dtype=np.float32)
    a[where] = NAN
    return a


ONE_HOT = np.eye(3, dtype=np.float32)[T]
BAD_MODEL = [("model-str", dict(model="mlp"), TypeError, ["model"])]
BAD_PARAMS = [
    ("params-none", dict(params=None), ValueError, ["params", "2 layer dicts"]),
    ("params-one-layer", dict(params=PARAMS[:1]), ValueError, ["params", "1 entries"]),
    ("params-missing-b", dict(params=layer(b=None)), ValueError, ["params[0]", "'b'"]),
    ("params-extra-key", dict(params=layer(c=jnp.zeros(5))), ValueError, ["params[0]", "keys"]),
    ("params-not-dict", dict(params=[PARAMS[0], [1, 2]]), ValueError, ["params[1]"]),
    (
        "params-transposed",
        dict(params=layer(w=PARAMS[0]["w"].T)),
        ValueError,
        ["params[0]['w']", "(5, 4)"],
    ),
    (
        "params-bias-shape",
        dict(params=layer(1, b=jnp.zeros(4))),
        ValueError,
        ["params[1]['b']", "(3,)"],
    ),
    (
        "params-int",
        dict(params=layer(w=np.zeros((5, 4), int))),
        TypeError,
        ["params[0]['w']", "float"],
    ),
    ("params-str", dict(params=layer(w="abc")), TypeError, ["params[0]['w']", "numeric"]),
    (
        "params-nan",
        dict(params=layer(w=nan_at(PARAMS[0]["w"]))),
        ValueError,
        ["params[0]['w']", "NaN"],
    ),
    (
        "params-inf-bias",
        dict(params=layer(1, b=np.full(3, INF, np.float32))),
        ValueError,
        ["params[1]['b']"],
    ),
]
BAD_X = [
    ("x-int", dict(x=X.astype(int)), TypeError, ["x", "floating"]),
    ("x-width", dict(x=X[:, :3]), ValueError, ["x", "(B, 4)"]),
    ("x-3d", dict(x=X[None]), ValueError, ["x", "(B, 4)"]),
    ("x-nan", dict(x=nan_at(X, (2, 1))), ValueError, ["x", "NaN", "row 2"]),
    ("x-inf", dict(x=np.where(X > 0.9, INF, X)), ValueError, ["x", "infinity"]),
    ("x-str", dict(x=[["a"] * 4] * 6), TypeError, ["x", "numeric"]),
    ("x-ragged", dict(x=[[0.0] * 4, [0.0]]), TypeError, ["x", "numeric"]),
    (
        "x-empty",
        dict(x=np.zeros((0, 4), np.float32), t=np.zeros(0, int)),
        ValueError,
        ["x", "empty"],
    ),
    ("x-none", dict(x=None), TypeError, ["x"]),
]
BAD_T = [
    ("t-label-7-of-3", dict(t=np.array([0, 1, 7, 0, 1, 2])), ValueError, ["t", "[0, 2]", "7"]),
    ("t-label-negative", dict(t=-T), ValueError, ["t", "labels", "-1"]),
    ("t-rows", dict(t=T[:5]), ValueError, ["t", "(6, 3)"]),
    ("t-width", dict(t=np.zeros((6, 4), np.float32)), ValueError, ["t", "(6, 3)"]),
    ("t-nan", dict(t=nan_at(ONE_HOT, (4, 2))), ValueError, ["t", "NaN", "row 4"]),
    ("t-inf", dict(t=np.where(ONE_HOT > 0, INF, 0.0)), ValueError, ["t", "infinity"]),
    ("t-str", dict(t=["a"] * 6), TypeError, ["t", "numeric"]),
    ("t-2d-int", dict(t=T[:, None]), ValueError, ["t"]),
]
BAD_OBJECTIVE = [
    ("loss-name", dict(loss="nope"), ValueError, ["loss", "nope"]),
    ("reduction", dict(reduction="avg"), ValueError, ["reduction", "avg"]),
    ("l2-negative", dict(l2=-1.0), ValueError, ["l2", ">= 0"]),
    ("l2-inf", dict(l2=INF), ValueError, ["l2", "inf"]),
    ("l2-nan", dict(l2=NAN), ValueError, ["l2"]),
    ("l2-str", dict(l2="0.1"), TypeError, ["l2", "str"]),
    ("l2-bool", dict(l2=True), TypeError, ["l2"]),
    ("l1-negative", dict(l1=-0.5), ValueError, ["l1"]),
    ("l1-list", dict(l1=[0.1]), TypeError, ["l1"]),
]
ALL = BAD_MODEL + BAD_PARAMS + BAD_X + BAD_T + BAD_OBJECTIVE
BASE = dict(model=MODEL, params=PARAMS, x=X, t=T)


def call(fn, takes=("loss", "reduction", "l2", "l1")):
    def run(model=MODEL, params=PARAMS, x=X, t=T, **rest):
        return fn(model, params, x, t, **{k: v for k, v in rest.items() if k in takes})

    return run


def grads_fn(p, x, t):
    return jaxmlp.backprop(MODEL, p, x, t)


def step_call(model=MODEL, params=PARAMS, x=X, t=T, **rest):
    step = jaxmlp.make_train_step(MODEL, optimizer=optax.sgd(0.1))  # model checked in its own table
    return step(params, optax.sgd(0.1).init(PARAMS), (x, t))


FUNCTIONS = {
    "loss": (call(jaxmlp.loss), ALL),
    "backprop": (call(jaxmlp.backprop), ALL),
    "deltas": (
        call(jaxmlp.deltas, ("loss",)),
        BAD_MODEL + BAD_PARAMS + BAD_X + BAD_T + BAD_OBJECTIVE[:1],
    ),
    "evaluate": (call(jaxmlp.evaluate), ALL),
    "check_gradients": (call(lambda *a, **k: jaxmlp.check_gradients(grads_fn, *a, **k)), ALL),
    "make_train_step": (step_call, BAD_PARAMS + BAD_X + BAD_T),
}
CASES = [
    pytest.param(fn, kwargs, error, words, id=f"{name}-{case}")
    for name, (fn, table) in FUNCTIONS.items()
    for case, kwargs, error, words in table
]


@pytest.mark.parametrize("fn, kwargs, error, words", CASES)
def test_bad_argument_is_named(fn, kwargs, error, words):
    with pytest.raises(error) as info:
        fn(**kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def refuses(name, fn, error, *words):
    return pytest.param(fn, error, words, id=name)


STEP = jaxmlp.make_train_step(MODEL, optimizer=optax.sgd(0.1))
OTHER = [
    # the model description
    refuses("MLP-sizes-str", lambda: jaxmlp.MLP("4,3", ("softmax",)), TypeError, "sizes"),
    refuses("MLP-sizes-short", lambda: jaxmlp.MLP((4,), ()), ValueError, "sizes"),
    refuses(
        "MLP-sizes-zero", lambda: jaxmlp.MLP((4, 0), ("softmax",)), ValueError, "sizes", ">= 1"
    ),
    refuses("MLP-sizes-float", lambda: jaxmlp.MLP((4, 2.5), ("softmax",)), TypeError, "sizes"),
    refuses("MLP-sizes-bool", lambda: jaxmlp.MLP((4, True), ("softmax",)), TypeError, "sizes"),
    refuses("MLP-activations-str", lambda: jaxmlp.MLP((4, 3), "softmax"), TypeError, "activations"),
    refuses(
        "MLP-activations-count",
        lambda: jaxmlp.MLP((4, 3), ("relu", "softmax")),
        ValueError,
        "activations",
    ),
    refuses(
        "MLP-activation-unknown",
        lambda: jaxmlp.MLP((4, 3), ("relux",)),
        ValueError,
        "activation",
        "relux",
    ),
    refuses(
        "init-name",
        lambda: MODEL.init(jax.random.key(0), init="xavier"),
        ValueError,
        "init",
        "xavier",
    ),
    refuses(
        "init-sigma", lambda: MODEL.init(jax.random.key(0), "normal", sigma=-1), ValueError, "sigma"
    ),
    refuses(
        "init-sigma-nan",
        lambda: MODEL.init(jax.random.key(0), "normal", sigma=NAN),
        ValueError,
        "sigma",
    ),
    refuses(
        "init-dtype", lambda: MODEL.init(jax.random.key(0), dtype=jnp.int32), TypeError, "dtype"
    ),
    refuses("init-key-int", lambda: MODEL.init(0), TypeError, "key", "jax.random.key(0)"),
    refuses("init-key-float", lambda: MODEL.init(np.zeros(2, np.float32)), TypeError, "key"),
    refuses(
        "init-keys-empty",
        lambda: MODEL.init(jax.random.split(jax.random.key(0), 0)),
        TypeError,
        "key",
    ),
    # apply / forward: structure and shapes (also under jit)
    refuses(
        "apply-missing-b", lambda: MODEL.apply(layer(b=None), X[0]), ValueError, "params[0]", "'b'"
    ),
    refuses(
        "apply-shape",
        lambda: MODEL.apply(layer(w=PARAMS[0]["w"].T), X),
        ValueError,
        "params[0]['w']",
    ),
    refuses(
        "apply-jit-shape",
        lambda: jax.jit(MODEL.apply)(layer(1, w=jnp.zeros((3, 4))), X),
        ValueError,
        "params[1]['w']",
        "(3, 5)",
    ),
    refuses(
        "apply-jit-missing", lambda: jax.jit(MODEL.apply)(layer(b=None), X), ValueError, "params[0]"
    ),
    refuses("apply-str-leaf", lambda: MODEL.apply(layer(b="zero"), X), TypeError, "params[0]['b']"),
    refuses("apply-x-width", lambda: MODEL.apply(PARAMS, X[:, :2]), ValueError, "x", "(4,)"),
    refuses(
        "forward-shape",
        lambda: MODEL.forward(layer(w=jnp.zeros((5, 5))), X[0]),
        ValueError,
        "params[0]['w']",
    ),
    refuses("forward-count", lambda: MODEL.forward(PARAMS * 2, X[0]), ValueError, "params"),
    # predict
    refuses(
        "predict-nan-x", lambda: jaxmlp.predict(MODEL, PARAMS, nan_at(X)), ValueError, "x", "NaN"
    ),
    refuses("predict-int-x", lambda: jaxmlp.predict(MODEL, PARAMS, X.astype(int)), TypeError, "x"),
    refuses(
        "predict-1d-x",
        lambda: jaxmlp.predict(MODEL, PARAMS, X[0]),
        ValueError,
        "x",
        "(B, 4) for a network of input size 4",
    ),
    refuses("predict-str-x", lambda: jaxmlp.predict(MODEL, PARAMS, "x"), TypeError, "x"),
    refuses(
        "predict-nan-params",
        lambda: jaxmlp.predict(MODEL, layer(b=np.full(5, NAN, np.float32)), X),
        ValueError,
        "params[0]['b']",
    ),
    refuses("predict-model", lambda: jaxmlp.predict("m", PARAMS, X), TypeError, "model"),
    refuses(
        "evaluate-metric",
        lambda: jaxmlp.evaluate(MODEL, PARAMS, X, T, metrics=("f1",)),
        ValueError,
        "metrics",
        "f1",
    ),
    # make_train_step: its own arguments and the optimizer state
    refuses("step-model", lambda: jaxmlp.make_train_step("m"), TypeError, "model"),
    refuses("step-loss", lambda: jaxmlp.make_train_step(MODEL, loss="hinge"), ValueError, "loss"),
    refuses("step-grad", lambda: jaxmlp.make_train_step(MODEL, grad="numeric"), ValueError, "grad"),
    refuses(
        "step-reduction",
        lambda: jaxmlp.make_train_step(MODEL, reduction="max"),
        ValueError,
        "reduction",
    ),
    refuses("step-l2", lambda: jaxmlp.make_train_step(MODEL, l2=-1), ValueError, "l2"),
    refuses("step-l2-inf", lambda: jaxmlp.make_train_step(MODEL, l2=INF), ValueError, "l2"),
    refuses(
        "step-optimizer",
        lambda: jaxmlp.make_train_step(MODEL, optimizer="adamw9"),
        ValueError,
        "optimizer",
    ),
    refuses(
        "step-optimizer-type",
        lambda: jaxmlp.make_train_step(MODEL, optimizer=3),
        TypeError,
        "optimizer",
    ),
    refuses(
        "step-batch-not-pair",
        lambda: STEP(PARAMS, optax.sgd(0.1).init(PARAMS), X),
        TypeError,
        "batch",
    ),
    refuses(
        "step-wrong-state",
        lambda: STEP(PARAMS, optax.adam(0.1).init(PARAMS), (X, T)),
        TypeError,
        "opt_state",
        "optimizer.init",
    ),
    refuses("step-state-none", lambda: STEP(PARAMS, None, (X, T)), TypeError, "opt_state"),
    refuses(
        "step-label-range",
        lambda: STEP(PARAMS, optax.sgd(0.1).init(PARAMS), (X, T + 3)),
        ValueError,
        "batch[1] (t)",
        "labels",
    ),
    # check_gradients' own argument
    refuses(
        "check-grad-fn-structure",
        lambda: jaxmlp.check_gradients(lambda p, x, t: p[:1], MODEL, PARAMS, X, T),
        ValueError,
        "grad_fn",
    ),
    # the checked path under jit: value checks that tracing alone would skip
    refuses(
        "checked-labels",
        lambda: checked(jaxmlp.loss, static_argnums=0)(MODEL, PARAMS, X, T + 1),
        ValueError,
        "t: labels must lie in [0, 2]",
        "got 3",
    ),
    refuses(
        "checked-nan-x",
        lambda: checked(jaxmlp.backprop, static_argnums=0)(MODEL, PARAMS, nan_at(X), T),
        ValueError,
        "x: contains NaN",
    ),
    refuses(
        "checked-nan-params",
        lambda: checked(lambda p: jaxmlp.deltas(MODEL, p, X, T))(layer(w=nan_at(PARAMS[0]["w"]))),
        ValueError,
        "params[0]['w']: contains NaN",
    ),
    refuses("checked-fn", lambda: checked(3), TypeError, "fn"),
    refuses(
        "checked-shapes-still",
        lambda: checked(jaxmlp.loss, static_argnums=0)(MODEL, PARAMS, X[:, :2], T),
        ValueError,
        "x",
        "(B, 4)",
    ),
    refuses(
        "jit-fit",
        lambda: jax.jit(lambda p: jaxmlp.fit(MODEL, p, X, T, verbose=0))(PARAMS),
        TypeError,
        "fit",
        "make_train_step",
    ),
]


@pytest.mark.parametrize("fn, error, words", OTHER)
def test_other_refusals(fn, error, words):
    with pytest.raises(error) as info:
        fn()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_under_plain_jit_values_go_unchecked_as_documented():
    """What checked() is for: jax.jit(loss) cannot see a label 7 of 3 classes and says nothing."""
    bad = jnp.array([0, 1, 7, 0, 1, 2])
    value = jax.jit(jaxmlp.loss, static_argnums=0)(MODEL, PARAMS, X, bad)
    assert math.isfinite(float(value))
    assert (
        "checked" in jaxmlp.loss.__doc__
        and "jax.jit" in jaxmlp.backprop.__doc__ + jaxmlp.loss.__doc__
    )


def test_checked_equals_the_plain_result_on_good_inputs():
    got = checked(jaxmlp.backprop, static_argnums=0)(MODEL, PARAMS, X, T)
    want = jaxmlp.backprop(MODEL, PARAMS, X, T)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_params_as_python_lists_work_in_apply():
    lists = [{k: np.asarray(v).tolist() for k, v in p.items()} for p in PARAMS]
    got, want = MODEL.apply(lists, X), MODEL.apply(PARAMS, X)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
