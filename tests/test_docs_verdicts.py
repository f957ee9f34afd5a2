"""Every ``jaxmlp verify`` command in the README and the docs that claims a verdict gives it.

A command line in a ```bash block that ends in ``# PASS`` or ``# FAIL`` is run as written (from
the repository root, in this process) and must exit 0 or 1; a page that shows the verify
commands must claim a verdict for each one that names a file.
"""

import re
import shlex
from pathlib import Path

import jax
import pytest

from jaxmlp.cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "docs" / "verify.md"]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)  # as test_docs.py
CLAIM = re.compile(r"^\s*jaxmlp (verify \S+.*?)\s+#\s*(PASS|FAIL)\s*$")


def claims(path: Path) -> list[tuple[str, str]]:
    """``(arguments, verdict)`` of every claimed ``jaxmlp verify FILE`` line of the page."""
    found = []
    for lang, body in FENCE.findall(path.read_text()):
        if lang != "bash":
            continue
        for line in body.splitlines():
            if (match := CLAIM.match(line)) is not None:
                found.append((match[1], match[2]))
            elif re.match(r"^\s*jaxmlp verify \S+", line):
                found.append((line.strip(), "unclaimed"))
    return found


CASES = [(path.name, *case) for path in PAGES for case in claims(path)]


def test_the_pages_show_verify_commands():
    assert {name for name, *_ in CASES} == {path.name for path in PAGES}


#: command -> (status, output): a command two pages show (the README's and verify.md's
#: ``verify examples/my_derivation.py``) runs once; each page's claim is checked against it
RAN: dict[str, tuple[int, str]] = {}


@pytest.mark.parametrize(("page", "command", "verdict"), CASES)
def test_a_claimed_verdict_is_the_verdict(page, command, verdict, monkeypatch, capsys):
    assert verdict != "unclaimed", f"{page}: `{command}` shows no verdict (# PASS or # FAIL)"
    if command not in RAN:
        monkeypatch.chdir(ROOT)
        with jax.numpy_rank_promotion("allow"):  # as a user's shell runs it (the suite's is strict)
            RAN[command] = main(shlex.split(command)), capsys.readouterr().out
    status, out = RAN[command]
    assert status == {"PASS": 0, "FAIL": 1}[verdict], f"{page}: jaxmlp {command}\n{out[-3000:]}"
