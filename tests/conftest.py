"""Test configuration: XLA's quick code generation, Hypothesis profiles, strict JAX promotion.

Profiles: ``default`` (quick, for local runs: 15 examples; every draw of the backprop property
tests is a new network to compile, and the suite must stay within a few minutes on two cores),
``ci`` (derandomized, 25 examples; chosen when the environment variable ``CI`` is set) and ``deep``
(2,000 examples, for a long run: ``HYPOTHESIS_PROFILE=deep pytest``; jaxmlp's own compiled
programs stay in bounded caches, so such a process stays below the kernel's memory-mapping limit).
"""

import os
import subprocess
import sys

#: XLA's code generation for every program the suite compiles, here and in the children it starts
#: (they inherit the environment). The suite compiles about 5,000 small programs and runs most for
#: milliseconds, so compiling was most of its time: 4 min 51 s at XLA's defaults, 2 min 14 s with
#: these (two cores; docs/benchmarks.md). Both change how XLA turns the same HLO programs into
#: machine code (fewer LLVM optimisation passes; the CPU backend's older elemental emitters instead
#: of its MLIR fusion emitters), not the programs jaxmlp builds; every comparison of two compiled
#: programs has a tolerance.
#: ``JAXMLP_TEST_XLA_DEFAULTS=1`` runs the suite at XLA's defaults, the code users run;
#: ``.ci/run`` runs it both ways.
FAST_COMPILE = ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false")


def _fast_compile_flags() -> list[str]:
    """The flags of :data:`FAST_COMPILE` this jaxlib knows: an unknown XLA flag aborts the process
    that starts JAX's backend, so they are tried in a child first (once: children inherit them)."""
    probe = "import jax.numpy as jnp; jnp.zeros(1).block_until_ready()"
    for flags in (list(FAST_COMPILE), list(FAST_COMPILE[:1])):
        env = {**os.environ, "XLA_FLAGS": " ".join([os.environ.get("XLA_FLAGS", ""), *flags])}
        try:
            done = subprocess.run(
                [sys.executable, "-c", probe], env=env, capture_output=True, timeout=120
            )
        except subprocess.TimeoutExpired:
            continue
        if done.returncode == 0:
            return flags
    return []


if os.environ.get("JAXMLP_TEST_XLA_DEFAULTS", "") in ("", "0") and (
    "JAXMLP_TEST_XLA_FLAGS" not in os.environ  # not yet chosen by the pytest process above us
):
    chosen = _fast_compile_flags()
    os.environ["JAXMLP_TEST_XLA_FLAGS"] = " ".join(chosen)
    os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *chosen]).strip()
# The command line turns on JAX's persistent compilation cache in ~/.cache/jaxmlp/xla; the suite
# must not write into the user's cache (tests/test_cache.py turns it on in folders of its own).
os.environ.setdefault("JAXMLP_NO_COMPILE_CACHE", "1")

import jax  # noqa: E402  (after XLA_FLAGS: JAX reads them when it starts its backend)
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

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


def pytest_report_header(config):
    return f"XLA_FLAGS: {os.environ.get('XLA_FLAGS') or '(none: XLA defaults)'}"


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
