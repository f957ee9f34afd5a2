"""Write ``tests/file_seconds.json``: each test file's seconds in the last full run, read from
pytest's cache (``conftest.LongestFirst``'s entry), so a fresh clone starts its longest files
first too. Run after a full ``python -m pytest -q``::

    python tests/file_seconds.py
"""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    entry = ROOT / ".pytest_cache" / "v" / "jaxmlp" / "seconds"
    collected = subprocess.run(  # the tests that exist now (the cache keeps removed ones)
        [sys.executable, "-m", "pytest", "-q", "--co", "-n", "0", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True).stdout.split()
    live_ids = {line for line in collected if "::" in line}
    per_file: Counter = Counter()
    for nodeid, seconds in json.loads(entry.read_text()).items():
        if nodeid in live_ids:
            per_file[nodeid.split("::")[0]] += seconds
    live = {f: round(s, 1) for f, s in per_file.most_common()}
    (ROOT / "tests" / "file_seconds.json").write_text(json.dumps(live, indent=0) + "\n")
