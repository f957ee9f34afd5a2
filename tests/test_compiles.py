"""A process that compiles many distinct networks stays alive: past a share of the kernel's
memory-mapping limit, jaxmlp clears JAX's compilation caches (and warns once) instead of letting
LLVM die with SIGSEGV at ``vm.max_map_count``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmlp
from jaxmlp import compiles

pytestmark = pytest.mark.skipif(compiles.mappings() is None, reason="needs Linux's /proc")


def grads_of_a_new_network(width):
    model = jaxmlp.MLP((3, width, 2), ("tanh", "softmax"))
    params = model.init(jax.random.key(width))
    x, t = jnp.linspace(-1, 1, 12).reshape(4, 3), jnp.array([0, 1, 1, 0])
    hand = jaxmlp.backprop(model, params, x, t)
    ref = jax.grad(lambda p: jaxmlp.loss(model, p, x, t))(params)
    return hand, ref


def test_caches_are_cleared_past_the_share_of_the_limit_and_results_stay_right(monkeypatch):
    grads_of_a_new_network(2)
    used, limit = compiles.mappings()
    # a limit just above what this process holds now, so a few new networks pass it
    monkeypatch.setattr(compiles, "SHARE", (used + 100) / limit)
    monkeypatch.setitem(compiles._state, "warned", False)
    cleared = compiles._state["cleared"]
    with pytest.warns(RuntimeWarning, match="caches were cleared"):
        for width in range(3, 8):
            hand, ref = grads_of_a_new_network(width)
            for a, b in zip(jax.tree.leaves(hand), jax.tree.leaves(ref)):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert compiles._state["cleared"] > cleared
    # bounded: never far past the limit it was given
    assert compiles.mappings()[0] < used + 100 + 350  # five networks add ~580 uncleared


def test_nothing_is_cleared_below_the_share(monkeypatch):
    monkeypatch.setattr(compiles, "SHARE", 1.0)
    cleared = compiles._state["cleared"]
    grads_of_a_new_network(17)
    assert not compiles.relieve()
    assert compiles._state["cleared"] == cleared
