"""jaxmlp owns its compiled programs: an LRU of recent networks, bounded, and nothing of the
caller's is touched (no cache clearing, no jax._src import, no process-wide registration)."""

import ast
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmlp
from jaxmlp.core import programs

PACKAGE = Path(jaxmlp.__file__).parent


def mappings():
    with open("/proc/self/maps", "rb") as f:
        return sum(1 for _ in f)


@pytest.fixture
def compiles():
    """A list that grows by one at every XLA compilation in this process."""
    seen = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, _, **kw: seen.append(event) if "backend_compile" in event else None
    )
    return seen


def sweep(widths):
    x, t = np.ones((6, 3), np.float32), np.zeros(6, np.int32)
    for width in widths:
        model = jaxmlp.MLP((3, width, 2), ("tanh", "softmax"))
        params = model.init(jax.random.key(0))
        jaxmlp.backprop(model, params, x, t)
        jaxmlp.loss(model, params, x, t)
        jaxmlp.fit(model, params, x, t, epochs=1, batch_size=3, verbose=0)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
def test_a_sweep_keeps_mappings_bounded_and_the_users_programs(monkeypatch, compiles):
    monkeypatch.setattr(programs.PROGRAMS, "networks", 2)
    monkeypatch.setattr(programs.LAYERS, "networks", 2)
    mine, ones = jax.jit(lambda v: 3 * v + 1), jnp.ones(3)
    mine(ones)
    sweep(range(40, 43))  # fill the LRU and let it evict
    settled = mappings()
    sweep(range(43, 47))  # four more distinct networks
    assert mappings() - settled < 300  # about 300 mappings a network were it not bounded
    assert len(programs.PROGRAMS) == 2
    before = len(compiles)
    assert np.asarray(mine(ones)).tolist() == [4.0, 4.0, 4.0]
    assert len(compiles) == before  # the caller's program was never dropped


def test_the_lru_keeps_recent_networks_and_drops_the_oldest():
    cache = programs.Programs(networks=2)
    built = []
    for network in ("a", "b", "a", "c", "a"):
        cache.get(network, "loss", lambda n=network: built.append(n) or n)
    assert built == ["a", "b", "c"]  # "a" stayed: it was used again before "c" came
    assert "b" not in cache and "a" in cache and "c" in cache


def test_a_layer_shape_compiles_its_init_once_whatever_its_depth(compiles):
    """Layer i's key is split off first, so a layer's program is its shape's, at any depth."""
    first = jaxmlp.MLP((5, 9, 2), ("tanh", "softmax"))
    deeper = jaxmlp.MLP((11, 5, 9, 2), ("relu", "tanh", "sigmoid"))  # 5→9 and 9→2 one deeper
    first.init(jax.random.key(0))
    before = len(compiles)
    params = deeper.init(jax.random.key(1))
    assert len(compiles) - before == 2  # the 3-way key split and the new 11→5 layer only
    assert [layer["w"].shape for layer in params] == [(5, 11), (9, 5), (2, 9)]
    assert not np.array_equal(params[1]["w"], first.init(jax.random.key(1))[0]["w"])  # own keys


def test_the_library_touches_nothing_process_wide():
    found = []
    for path in PACKAGE.rglob("*.py"):
        if "bench" in path.parts:  # the benchmark's own child processes, never imported
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jax._src"):
                found.append(f"{path.name}: imports {node.module}")
            if isinstance(node, ast.Attribute) and node.attr in ("clear_caches",):
                found.append(f"{path.name}: calls {node.attr}")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
                "register_event_duration_secs_listener",
                "register_event_listener",
            ):
                found.append(f"{path.name}: registers a jax.monitoring listener")
    assert found == []
