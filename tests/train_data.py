"""The small training problem that test_train.py and test_train_options.py share, and the
normwise comparison of the process tests (test_multiprocess.py, test_shards.py)."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxmlp

MODEL = jaxmlp.MLP((6, 5, 3), ("tanh", "softmax"))


def data(n=50, seed=0):
    kx, kt = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(kx, (n, 6))
    t = (jnp.argmax(x[:, :3], axis=1) + (jax.random.uniform(kt, (n,)) < 0.1)) % 3
    return x, t


def leaves_close(a, b, rtol=1e-5, atol=1e-6):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(u, v, rtol=rtol, atol=atol)


def normwise_close(a, b, rtol=1e-5):
    """Every leaf of ``a`` within ``rtol`` of ``b``'s largest entry (two compiled programs)."""
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
        assert u.shape == v.shape
        assert np.max(np.abs(u - v)) <= rtol * np.max(np.abs(v)), np.max(np.abs(u - v))
