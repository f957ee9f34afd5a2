"""Test configuration: Hypothesis profiles and strict JAX promotion.

Profiles: ``default`` (quick, for local runs: 15 examples; every draw of the backprop property
tests is a new network to compile, and the suite must stay within a few minutes on two cores),
``ci`` (derandomized, 25 examples; chosen when the environment variable ``CI`` is set) and ``deep``
(2,000 examples, for a long run: ``HYPOTHESIS_PROFILE=deep pytest``; jaxmlp.compiles keeps such a
process alive past the kernel's memory-mapping limit).
"""

import os

import jax
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_numpy_rank_promotion", "raise")

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("default", max_examples=15, **_common)
settings.register_profile("ci", max_examples=25, derandomize=True, print_blob=True, **_common)
settings.register_profile("deep", max_examples=2000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))


@pytest.fixture
def error_line(capsys):
    """The command line's error contract: read stderr and check it is one ``jaxmlp: error:`` line."""
    def read():
        err = capsys.readouterr().err
        assert err.startswith("jaxmlp: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
        return err

    return read


@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if a command gets as far as loading its data (options are checked first)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the data were loaded before the arguments were checked")

    for module in ("jaxmlp.cli.common", "jaxmlp.cli.train", "jaxmlp.cli.many"):
        monkeypatch.setattr(f"{module}.load_dataset", refuse)
