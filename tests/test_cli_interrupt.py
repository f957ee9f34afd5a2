"""Ctrl-C: ``jaxmlp train`` in a real process, interrupted while it compiles and while it trains,
exits 130 with one line and leaves no partial or empty file in --out."""

import os
import signal
import subprocess
import sys
import time

import pytest


def interrupt(tmp_path, when: str):
    """Start ``jaxmlp train``; send SIGINT once a line starting with ``when`` is printed."""
    out = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jaxmlp.cli",
            "train",
            "--epochs",
            "2000",
            "--hidden",
            "4",
            "--out",
            str(out),
            "--verbose",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "JAXMLP_DEBUG": ""},
    )
    for line in process.stdout:
        if line.startswith(when):
            break
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    return process.returncode, err, out


@pytest.mark.parametrize("when", ["digits:", "Epoch 3/"])  # compiling the epoch; training
def test_ctrl_c_exits_130_and_leaves_no_partial_file(tmp_path, when):
    code, err, out = interrupt(tmp_path, when)
    assert code == 130, err
    assert err.strip() == "jaxmlp: interrupted"
    left = [path.name for path in out.rglob("*")] if out.exists() else []
    assert left == [], left
