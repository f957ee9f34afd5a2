"""Run one script of ``examples/`` in quick mode and show what it printed and drew (the gallery).

Used by the gallery's notebook pages at build time: the script runs in its own process with
``JAXMLP_QUICK=1`` and ``--out`` a fresh folder; its output is printed with that folder shown as
``out/``, and every picture it wrote is displayed, in name order.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def show(script: str, *args: str, pictures: bool = True) -> None:
    """Run ``examples/SCRIPT`` quickly, print its output, show its pictures; raise if it fails."""
    from IPython.display import Image, display

    with tempfile.TemporaryDirectory(prefix="jaxmlp-gallery-") as folder:
        out = Path(folder) / "out"
        command = [
            sys.executable,
            str(EXAMPLES / script),
            *(["--out", str(out)] if pictures else []),
            *args,
        ]
        env = {**os.environ, "JAXMLP_QUICK": "1", "MPLBACKEND": "Agg"}
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=folder, timeout=300
        )
        shown = " ".join(
            [
                "$ JAXMLP_QUICK=1 python",
                f"examples/{script}",
                *(["--out", "out/"] if pictures else []),
                *args,
            ]
        )
        print(shown)
        print(done.stdout.replace(str(out), "out").rstrip())
        if done.returncode not in (0,):
            raise RuntimeError(
                f"examples/{script} exited with status {done.returncode}:\n{done.stderr[-3000:]}"
            )
        for picture in sorted(out.glob("*.png")) if out.is_dir() else ():
            display(Image(filename=str(picture)))
