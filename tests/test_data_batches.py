"""One shuffle: ``jaxmlp.data.batches`` yields exactly the batches ``jaxmlp.fit`` trains on.

Plain SGD is a sum of the batches' gradients, so replaying ``batches(key, n_train, B, epoch=e)``
by hand with :func:`jaxmlp.backprop` must land on ``fit``'s parameters; any other order or batch
cut gives other parameters.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp.data import batches, shuffle_order


@pytest.mark.parametrize("validation_split", [0.0, 0.2])
def test_batches_are_the_batches_fit_trains_on(validation_split):
    model = jaxmlp.MLP((3, 4, 2), ("tanh", "softmax"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    t = rng.integers(0, 2, 50).astype(np.int32)
    key, params = jax.random.key(5), model.init(jax.random.key(1))
    trained, _ = jaxmlp.fit(model, params, x, t, optimizer=optax.sgd(0.5), epochs=2,
                            batch_size=16, validation_split=validation_split, key=key, verbose=0)
    n = 50 - int(50 * validation_split)  # Keras's rule: the last rows validate
    by_hand = params
    for epoch in range(2):
        for idx in batches(key, n, 16, epoch=epoch):
            grads = jaxmlp.backprop(model, by_hand, x[idx], t[idx])
            by_hand = jax.tree.map(lambda p, g: p - 0.5 * g, by_hand, grads)
    for got, want in zip(jax.tree.leaves(trained), jax.tree.leaves(by_hand)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # and another order is visibly another result
    shifted = params
    for idx in batches(key, n, 16, epoch=1) + batches(key, n, 16, epoch=2):
        grads = jaxmlp.backprop(model, shifted, x[idx], t[idx])
        shifted = jax.tree.map(lambda p, g: p - 0.5 * g, shifted, grads)
    assert max(float(jnp.max(jnp.abs(a - b))) for a, b in
               zip(jax.tree.leaves(trained), jax.tree.leaves(shifted))) > 1e-4


def test_batches_follow_shuffle_order_and_check_the_epoch():
    key = jax.random.key(3)
    joined = np.concatenate(batches(key, 23, 5, epoch=4))
    np.testing.assert_array_equal(joined, shuffle_order(key, 4, 23))
    with pytest.raises(ValueError, match="epoch: expected an integer >= 0, got -1"):
        batches(key, 23, 5, epoch=-1)
