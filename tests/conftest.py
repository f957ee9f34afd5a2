"""Test configuration: Hypothesis profiles and strict JAX promotion.

Profiles: ``default`` (quick, for local runs: 15 examples; every draw of the backprop property
tests is a new network to compile, and the suite must stay within a few minutes on two cores),
``ci`` (derandomized, 25 examples; chosen when the environment variable ``CI`` is set) and ``deep``
(2,000 examples, for a long run: ``HYPOTHESIS_PROFILE=deep pytest``; jaxmlp's own compiled
programs stay in bounded caches, so such a process stays below the kernel's memory-mapping limit).
"""

import os

# XLA's LLVM optimisation level for every program the suite compiles, in this process and in the
# children it starts (they inherit the environment). The suite compiles thousands of small programs
# and runs most for milliseconds: at XLA's default level, LLVM's passes were a third of the suite's
# time (4 min 51 s against 3 min 36 s on two cores). Level 0 lowers the same HLO programs with
# fewer LLVM passes; what the tests prove is about those programs (jaxmlp writes HLO, not machine
# code), and every comparison of two compiled programs has a tolerance. ``JAXMLP_TEST_XLA_OPT=1``
# keeps XLA's default level (the one users and ``jaxmlp bench`` run), for a run that proves the
# same at full optimisation. Set before JAX starts its backend (importing it starts none).
if os.environ.get("JAXMLP_TEST_XLA_OPT", "") in ("", "0") and (
    "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", "")
):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()
# The command line turns on JAX's persistent compilation cache in ~/.cache/jaxmlp/xla; the suite
# must not write into the user's cache (tests/test_cache.py turns it on in folders of its own).
os.environ.setdefault("JAXMLP_NO_COMPILE_CACHE", "1")

import jax
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_numpy_rank_promotion", "raise")

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("default", max_examples=15, **_common)
settings.register_profile("ci", max_examples=25, derandomize=True, print_blob=True, **_common)
settings.register_profile("deep", max_examples=2000, **_common)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)


#: the files that take longest, longest first (``--durations``, summed per file, 2 cores). xdist
#: hands each worker one file at a time in collection order (``--dist loadfile`` with
#: ``--no-loadscope-reorder`` in pyproject's addopts): starting the long files first keeps a worker
#: from beginning one of them while the other has nothing left to do.
LONGEST_FIRST = (
    "test_parallel.py",
    "test_backprop.py",
    "test_sklearn.py",
    "test_derivations.py",
    "test_many.py",
    "test_train.py",
    "test_docs.py",
    "test_multiprocess.py",
    "test_check.py",
    "test_activations_losses.py",
    "test_cli.py",
    "test_examples.py",
    "test_cli_many.py",
)


def pytest_collection_modifyitems(items):
    """Run the files of :data:`LONGEST_FIRST` first, in its order; the rest keep theirs."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture
def error_line(capsys):
    """The command line's error contract: read stderr, check it is one ``jaxmlp: error:`` line."""

    def read():
        err = capsys.readouterr().err
        assert err.startswith("jaxmlp: error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err, err
        return err

    return read


@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if a command gets as far as loading its data (options are checked first)."""

    def refuse(*args, **kwargs):
        raise AssertionError("the data were loaded before the arguments were checked")

    for module in ("jaxmlp.cli.common", "jaxmlp.cli.train", "jaxmlp.cli.many"):
        monkeypatch.setattr(f"{module}.load_dataset", refuse)
