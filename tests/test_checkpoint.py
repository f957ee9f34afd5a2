"""save / load round trips, resume equality, and refusal of corrupt or mismatched files."""

import json
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp

MODEL = jaxmlp.MLP((5, 4, 3), ("prelu", "softmax"))


def data(n=40):
    x = jax.random.normal(jax.random.key(0), (n, 5))
    return x, jnp.argmax(x[:, :3], axis=1)


def same(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_round_trip_with_optimizer_state(tmp_path):
    params = MODEL.init(jax.random.key(1))
    opt = optax.adam(1e-3)
    state = opt.init(params)
    grads = jaxmlp.backprop(MODEL, params, *data())
    _, state = opt.update(grads, state, params)
    history = {"loss": [1.0, 0.5], "accuracy": [0.3, 0.6]}
    path = jaxmlp.save(tmp_path / "ck.npz", MODEL, params, state, step=7, history=history)
    loaded = jaxmlp.load(path, optimizer=opt)
    assert loaded.model == MODEL and loaded.step == 7 and loaded.history == history
    same(loaded.params, params)
    same(loaded.opt_state, state)
    raw = jaxmlp.load(path)  # without the optimizer: the state's leaves
    assert len(raw.opt_state) == len(jax.tree.leaves(state))
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed away


def test_resumed_training_equals_an_uninterrupted_run(tmp_path):
    x, t = data()
    params = MODEL.init(jax.random.key(2))
    kwargs = dict(
        optimizer=optax.adam(0.01),
        batch_size=8,
        validation_split=0.25,
        key=jax.random.key(9),
        verbose=0,
    )
    full, full_history = jaxmlp.fit(MODEL, params, x, t, epochs=4, **kwargs)
    path = tmp_path / "run.npz"
    jaxmlp.fit(MODEL, params, x, t, epochs=2, checkpoint=str(path), **kwargs)
    assert len(jaxmlp.load(path).history["loss"]) == 2
    resumed, history = jaxmlp.fit(MODEL, params, x, t, epochs=4, resume=str(path), **kwargs)
    same(resumed, full)
    assert history == full_history


def test_resume_refuses_another_model(tmp_path):
    x, t = data()
    path = jaxmlp.save(
        tmp_path / "other.npz",
        jaxmlp.MLP((5, 3), ("softmax",)),
        jaxmlp.MLP((5, 3), ("softmax",)).init(jax.random.key(0)),
    )
    with pytest.raises(ValueError, match="resume: checkpoint .* holds"):
        jaxmlp.fit(
            MODEL, MODEL.init(jax.random.key(0)), x, t, epochs=1, resume=str(path), verbose=0
        )


def test_truncated_and_garbage_files_are_refused(tmp_path):
    path = jaxmlp.save(tmp_path / "ck.npz", MODEL, MODEL.init(jax.random.key(0)))
    blob = path.read_bytes()
    for i, cut in enumerate((10, len(blob) // 2, len(blob) - 5)):
        bad = tmp_path / f"cut{i}.npz"
        bad.write_bytes(blob[:cut])
        with pytest.raises(ValueError, match="corrupt or not a jaxmlp checkpoint"):
            jaxmlp.load(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="checkpoint"):
        jaxmlp.load(junk)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        jaxmlp.load(tmp_path / "missing.npz")


def test_a_pickle_inside_is_refused(tmp_path):
    bad = tmp_path / "pickle.npz"
    meta = {
        "format": "jaxmlp-checkpoint",
        "version": 1,
        "step": 0,
        "model": {"sizes": [5, 4, 3], "activations": ["prelu", "softmax"]},
        "history": {},
    }
    np.savez(
        bad,
        meta=np.array(json.dumps(meta)),
        **{"params/0/w": np.array([{"evil": 1}], dtype=object)},
    )
    with pytest.raises(ValueError, match="corrupt or not a jaxmlp checkpoint"):
        jaxmlp.load(bad)


def test_wrong_shapes_versions_and_foreign_files_are_refused(tmp_path):
    params = MODEL.init(jax.random.key(0))
    path = jaxmlp.save(tmp_path / "ck.npz", MODEL, params)
    with zipfile.ZipFile(path) as z:
        arrays = {name[:-4]: np.load(z.open(name)) for name in z.namelist()}

    def write(name, **changes):
        out = tmp_path / name
        np.savez(out, **{**arrays, **changes})
        return out

    with pytest.raises(ValueError, match=r"does not fit its model.*params\[0\]\['w'\]"):
        jaxmlp.load(write("shape.npz", **{"params/0/w": np.zeros((5, 4), np.float32)}))
    meta = json.loads(str(arrays["meta"]))
    with pytest.raises(ValueError, match="format version 99"):
        jaxmlp.load(write("version.npz", meta=np.array(json.dumps({**meta, "version": 99}))))
    with pytest.raises(ValueError, match="bad model description"):
        jaxmlp.load(
            write(
                "model.npz",
                meta=np.array(
                    json.dumps(
                        {**meta, "model": {"sizes": [5, 4, 3], "activations": ["nope", "softmax"]}}
                    )
                ),
            )
        )
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a jaxmlp checkpoint"):
        jaxmlp.load(foreign)
    # an optimizer state that does not fit the optimizer
    state_path = jaxmlp.save(
        tmp_path / "sgd.npz", MODEL, params, optax.sgd(0.1, momentum=0.9).init(params)
    )
    with pytest.raises(ValueError, match="optimizer state has"):
        jaxmlp.load(state_path, optimizer=optax.adam(1e-3))


def test_save_arguments(tmp_path):
    params = MODEL.init(jax.random.key(0))
    with pytest.raises(ValueError, match="path: a checkpoint is a .npz file"):
        jaxmlp.save(tmp_path / "ck.pkl", MODEL, params)
    with pytest.raises(ValueError, match="step"):
        jaxmlp.save(tmp_path / "ck.npz", MODEL, params, step=-1)
    with pytest.raises(ValueError, match="params"):
        jaxmlp.save(tmp_path / "ck.npz", MODEL, params[:1])
    with pytest.raises(TypeError, match="model"):
        jaxmlp.save(tmp_path / "ck.npz", "mlp", params)
