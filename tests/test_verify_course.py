"""The course catalogue (``examples/course/``): the backward passes a deep-learning course assigns,
written right in verify's general form, each passes ``jaxmlp verify``'s fixed probes (``jaxmlp
bench verdicts`` runs them at 2000 problems in both precisions, and their mutants)."""

from pathlib import Path

import jax
import pytest

from jaxmlp import verify

COURSE = Path(__file__).resolve().parent.parent / "examples" / "course"
CATALOGUE = sorted(path.name for path in COURSE.glob("*.py"))


def test_the_catalogue_holds_what_a_course_assigns():
    layers = {"batch_norm", "layer_norm", "softmax_cross_entropy", "multiclass_hinge", "dropout",
              "rnn_tanh_step", "lstm_step", "l2_normalize", "conv1d", "max_pool", "embedding",
              "attention"}
    assert layers <= {name.removesuffix(".py") for name in CATALOGUE}, CATALOGUE


#: where float32's rounding is most of a leaf (saturation, cancellation): checked in both
#: precisions here; every file in both at 2,000 problems by ``jaxmlp bench verdicts``
ROUNDING = ("rnn_tanh_step.py", "attention.py", "softmax_cross_entropy.py", "batch_norm.py")


@pytest.mark.parametrize("name", CATALOGUE)
def test_each_course_derivation_passes_its_probes(name, capsys):
    for dtype in ("float64", "float32") if name in ROUNDING else ("float64",):
        with jax.numpy_rank_promotion("allow"):  # as a user's JAX runs (the suite's is strict)
            status = verify.run(str(COURSE / name), examples=0, dtype=dtype)
        assert status == 0, capsys.readouterr().out
