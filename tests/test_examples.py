"""Every example runs as a script (JAXMLP_QUICK=1) and prints and draws what it says; pictures go to
--out only.

The scripts run one after another in ONE child process (tests/scripts/run_examples.py), each as
``python SCRIPT ARGS`` would run it: as ``__main__``, with its own argv, working directory and
output, and the JAX settings and figures of the one before reset. Only JAX's start-up and the
compiled programs are shared: thirteen start-ups of JAX and matplotlib were most of this file's
time.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RUNNER = Path(__file__).resolve().parent / "scripts" / "run_examples.py"

#: script -> (extra arguments, phrases it must print, pictures it must write into --out)
CASES = {
    "verify_your_derivation.py": ([], ["exit status 0: your derivation equals jax.grad"], []),
    "deck000_two_three_one.py": (
        [],
        [
            "E = 1/2 Σ (y − t)² for y = (0.3, 0.8, 0.2), t = (0, 1, 0): 0.085",
            "max |hand − jaxmlp.backprop|",
            "(agree)",
            "α = 0.001",
            "E after  = ",
        ],
        [],
    ),
    "deck001_sigmoid_matrix_form.py": (
        [],
        [
            "64 → 32 → 16 → 10",
            "matrix-form gradient vs jaxmlp.backprop",
            "matrix-form gradient vs jax.grad",
            "training error",
            "test accuracy",
        ],
        ["errors.png"],
    ),
    "deck002_keras_workflow.py": (
        ["--dataset", "digits"],
        [
            "Total params: 2,410",
            "test = predict(x_test) has shape (297, 10)",
            "fit(epochs=1, batch_size=64, validation_split=0.2): 1,200 training rows, "
            "19 updates per epoch",
            "np.around(test2[1], 3)",
            "test accuracy",
        ],
        ["learning_curves.png", "weights.png"],
    ),
    "deck003_tanh_softmax_from_scratch.py": (
        [],
        [
            "hand backprop vs jax.grad",
            "shortcut (ŷ − y)/nb vs the general rule",
            "full batch",
            "mini-batch",
            "online",
        ],
        ["batch_sizes.png"],
    ),
    "deck004_playground_spiral.py": (
        [],
        [
            "1. Overfitting, and L2",
            "the test loss",
            "2. Choosing the L2 rate by 5-fold cross-validation",
            "lowest mean validation loss",
            "chosen: L2",
        ],
        ["spiral_none.png", "spiral_l2.png"],
    ),
    "learning_rate_decay.py": (
        [],
        ["constant η = 0.05", "η₀ / (1 + t/τ)", "exponential decay"],
        ["error_vs_sin.png"],
    ),
    "many_seeds_l2.py": (
        [],
        ["8 seeds × 3 L2 rates = 24 models", "val accuracy", "typical seed spread"],
        ["seeds_l2.png"],
    ),
}


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py") if p.name in CASES) == sorted(CASES)


#: scripts whose refusal to overwrite a picture is tested
REFUSE = [
    "deck001_sigmoid_matrix_form.py",
    "deck002_keras_workflow.py",
    "deck003_tanh_softmax_from_scratch.py",
    "deck004_playground_spiral.py",
    "many_seeds_l2.py",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every run of this file, in one child process: ``(name, kind) -> (folder, result)``."""
    plan, folders = [], {}
    for kind, scripts in (("shows", sorted(CASES)), ("refuses", REFUSE)):
        for script in scripts:
            folder = tmp_path_factory.mktemp(f"{kind}-{Path(script).stem}")
            out, extra = folder / "out", CASES[script][0] if kind == "shows" else []
            if kind == "refuses":
                out.mkdir()
                (out / CASES[script][2][0]).write_bytes(b"an earlier run")
            plan.append(
                [
                    f"{kind} {script}",
                    str(EXAMPLES / script),
                    ["--out", str(out), *extra],
                    str(folder),
                ]
            )
            folders[kind, script] = folder
    plan_file = tmp_path_factory.mktemp("plan") / "plan.json"
    plan_file.write_text(json.dumps(plan))
    results_file = plan_file.with_name("results.json")
    env = {**os.environ, "JAXMLP_QUICK": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(RUNNER), str(plan_file), str(results_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(results_file.read_text())
    return {
        (kind, script): (folder, results[f"{kind} {script}"])
        for (kind, script), folder in folders.items()
    }


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs_quickly_and_shows_what_it_says(script, runs):
    _, phrases, pictures = CASES[script]
    folder, done = runs["shows", script]
    out = folder / "out"
    assert done["returncode"] == 0, done["stderr"][-3000:]
    for phrase in phrases:
        assert phrase in done["stdout"], f"{phrase!r} not printed:\n{done['stdout']}"
    assert sorted(p.name for p in out.glob("*")) == sorted(pictures)
    for name in pictures:
        pixels = matplotlib.image.imread(out / name)
        assert pixels.ndim == 3 and min(pixels.shape[:2]) >= 300 and pixels.std() > 0.01
        assert str(out / name) in done["stdout"]  # it says where the picture went
    # nothing else
    assert sorted(p.name for p in folder.iterdir()) == (["out"] if pictures else [])
    for check in SHOWS.get(script, ()):
        check(done["stdout"])


def _numbers(pattern, text):
    found = re.findall(pattern, text)
    return [float(v) for match in found for v in (match if isinstance(match, tuple) else (match,))]


def _deck000_table_and_step(stdout):
    # the sums are computed from deck000's tables: ② and ③ tie on Σ (t − y), not on Σ (t − y)²
    rows = {
        label: _numbers(r"(-?\d+\.\d\d)\s+(-?\d+\.\d\d)$", line)
        for line in stdout.splitlines()
        for label in ("perfect", "small error", "large error")
        if label in line
    }
    expected = {"perfect": [0.0, 0.0], "small error": [0.2, 0.18], "large error": [0.2, 1.5]}
    assert rows == expected, rows
    before, after = _numbers(r"E (?:before|after) += (\d\.\d+)", stdout)
    assert after < before  # one step of gradient descent lowers E


def _deck001_learns(stdout):
    (accuracy,) = _numbers(r"test accuracy after \d+ epochs: (\d+\.\d)%", stdout)
    assert accuracy >= 50, accuracy  # ten classes: chance is 10 %


def _deck004_heading_says_what_happened(stdout):
    helped = "L2 0.001 lowered the test loss" in stdout
    assert ("1. Overfitting, and L2 against it" in stdout) == helped
    assert ("did not help here" in stdout) == (not helped)


#: script -> checks of what its output shows (beyond the phrases)
SHOWS = {
    "deck000_two_three_one.py": [_deck000_table_and_step],
    "deck001_sigmoid_matrix_form.py": [_deck001_learns],
    "deck004_playground_spiral.py": [_deck004_heading_says_what_happened],
}


@pytest.mark.parametrize("script", REFUSE)
def test_example_refuses_to_overwrite_its_pictures(script, runs):
    folder, done = runs["refuses", script]
    picture = folder / "out" / CASES[script][2][0]
    assert done["returncode"] != 0 and "--force" in done["stderr"], done["stderr"]
    assert picture.name in done["stderr"], done["stderr"]
    assert picture.read_bytes() == b"an earlier run"


def test_examples_say_which_deck_they_follow():
    for script in CASES:
        doc = (EXAMPLES / script).read_text().split('"""')[1]
        assert "Follows deck 00" in doc and "slide" in doc, script
