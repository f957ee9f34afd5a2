"""Test configuration: Hypothesis profiles and strict JAX promotion.

Profiles: ``default`` (quick, for local runs), ``ci`` (derandomized, bounded; chosen when the
environment variable ``CI`` is set) and ``deep`` (many examples, for a long run:
``HYPOTHESIS_PROFILE=deep pytest``).
"""

import os

import jax
from hypothesis import HealthCheck, settings

jax.config.update("jax_numpy_rank_promotion", "raise")

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("default", max_examples=25, **_common)
settings.register_profile("ci", max_examples=40, derandomize=True, print_blob=True, **_common)
settings.register_profile("deep", max_examples=2000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))
