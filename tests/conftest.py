"""Test configuration: XLA's quick code generation, Hypothesis profiles, strict JAX promotion,
and the files that took longest in earlier runs first (:class:`LongestFirst`).

Profiles: ``default`` (quick, for local runs: 15 examples; every draw of the backprop property
tests is a new network to compile, and the suite must stay within a few minutes on two cores),
``ci`` (derandomized, 25 examples; chosen when the environment variable ``CI`` is set) and ``deep``
(2,000 examples, for a long run: ``HYPOTHESIS_PROFILE=deep pytest``; jaxmlp's own compiled
programs stay in bounded caches, so such a process stays below the kernel's memory-mapping limit).
"""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

#: XLA's code generation for every program the suite compiles, here and in the children it starts
#: (they inherit the environment). The suite compiles about 5,000 small programs and runs most for
#: milliseconds, so compiling was most of its time: 4 min 51 s at XLA's defaults, 2 min 14 s with
#: these (two cores; docs/benchmarks.md). Both change how XLA turns the same HLO programs into
#: machine code (fewer LLVM optimisation passes; the CPU backend's older elemental emitters instead
#: of its MLIR fusion emitters), not the programs jaxmlp builds; every comparison of two compiled
#: programs has a tolerance. The third compiles each program's LLVM module as one part instead of
#: splitting it over threads (the same code; for programs this small the split cost more than it
#: saved: XLA's compile time about 20 % lower, two workers' run of eight test files 6 % shorter).
#: ``JAXMLP_TEST_XLA_DEFAULTS=1`` runs the suite at XLA's defaults, the code users run;
#: ``.ci/run`` runs it both ways.
FAST_COMPILE = (
    "--xla_backend_optimization_level=0",
    "--xla_cpu_use_fusion_emitters=false",
    "--xla_cpu_parallel_codegen_split_count=1",
)


def _fast_compile_flags() -> list[str]:
    """The flags of :data:`FAST_COMPILE` this jaxlib knows: an unknown XLA flag aborts the process
    that starts JAX's backend, so they are tried in a child first (once: children inherit them)."""
    probe = "import jax.numpy as jnp; jnp.zeros(1).block_until_ready()"
    for flags in (list(FAST_COMPILE[:n]) for n in range(len(FAST_COMPILE), 0, -1)):
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


def pytest_report_header(config):
    return f"XLA_FLAGS: {os.environ.get('XLA_FLAGS') or '(none: XLA defaults)'}"


def pytest_configure(config):
    config.pluginmanager.register(LongestFirst(config), "jaxmlp-longest-first")


class LongestFirst:
    """The files that took longest in earlier runs first, by the seconds pytest measured.

    xdist hands each worker one file at a time in collection order (``--dist loadfile`` with
    ``--no-loadscope-reorder`` in pyproject's addopts): starting the long files first keeps a
    worker from beginning one of them while the other has nothing left to do. Each test's seconds
    (set-up, call and tear-down) are kept in pytest's cache (``.pytest_cache``) under
    :data:`KEY`; a run updates the tests it ran. A file the cache has not measured (a fresh
    clone's every file) takes its seconds from :data:`FILE_SECONDS`, a committed measurement per
    file; files in neither keep their order, after the others. Without the cache
    (``-p no:cacheprovider``) nothing is reordered.
    """

    KEY = "jaxmlp/seconds"
    KEYS = (KEY, "jaxmlp/file-seconds")  # what the controller hands each worker
    #: per file, the seconds of a full run (refresh: ``python tests/file_seconds.py``)
    FILE_SECONDS = Path(__file__).with_name("file_seconds.json")

    def __init__(self, config):
        cache = getattr(config, "cache", None)
        self.cache = None if hasattr(config, "workerinput") else cache  # the controller writes
        if hasattr(config, "workerinput"):  # read by the controller, so every worker sorts alike
            self.seconds, self.files = (config.workerinput.get(k, {}) for k in self.KEYS)
        elif cache is not None:
            self.seconds = cache.get(self.KEY, {})
            self.files = json.loads(self.FILE_SECONDS.read_text())
        else:
            self.seconds, self.files = {}, {}
        self.root, self.spent = config.rootpath, Counter()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):  # xdist's controller, for each worker it starts
        node.workerinput.update(zip(self.KEYS, (self.seconds, self.files), strict=True))

    def pytest_collection_modifyitems(self, items):
        per_file = Counter()
        for item in items:
            per_file[item.path] += self.seconds.get(item.nodeid, 0.0)
        for path in list(per_file):  # never measured here: the committed figure
            if not per_file[path]:
                per_file[path] = self.files.get(path.relative_to(self.root).as_posix(), 0.0)
        items.sort(key=lambda item: -per_file[item.path])  # stable: a file's tests keep order

    def pytest_runtest_logreport(self, report):  # the controller gets every worker's reports
        self.spent[report.nodeid] += report.duration

    def pytest_sessionfinish(self):
        if self.cache is not None and self.spent:
            merged = {**self.cache.get(self.KEY, {}), **self.spent}
            kept = {k: v for k, v in merged.items() if (self.root / k.split("::")[0]).exists()}
            self.cache.set(self.KEY, kept)


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


@pytest.fixture
def restore_jax():
    """The compile-cache options as they were before the test, and JAX's cache handle reset
    (the test files of jaxmlp.compile_cache use it on every test)."""
    from jax.experimental.compilation_cache import compilation_cache

    options = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
    before = {name: getattr(jax.config, name) for name in options}
    yield before
    for name, value in before.items():
        jax.config.update(name, value)
    compilation_cache.reset_cache()
