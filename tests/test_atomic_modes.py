"""Atomic writes keep the user's permissions: the umask's mode for a new file, the old file's mode
for a replaced one; checkpoints and the command line's outputs go through them.

Each umask is set in a child process, so this process's umask never changes.
"""

import os
import stat
import subprocess
import sys

import pytest

from jaxmlp.atomic import create_temporary, write_atomic

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")

CHILD = """
import os, stat, sys
from pathlib import Path
os.umask(int(sys.argv[1], 8))
folder = Path(sys.argv[2])
{body}
"""


def modes_under(umask: str, folder, body: str) -> dict[str, str]:
    """Run ``body`` in a child with ``umask``; it prints ``name=mode`` lines, returned as a dict."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(body=body), umask, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(line.split("=") for line in done.stdout.split())


MODE = "print('{{}}={{:o}}'.format({name!r}, stat.S_IMODE(os.stat(folder / {name!r}).st_mode)))"


def show(*names: str) -> str:
    return "\n".join(MODE.format(name=name) for name in names)


WRITES = """
import jax, jaxmlp
from jaxmlp.atomic import write_atomic
from jaxmlp.cli.common import write_json
write_atomic(folder / 'new.bin', b'x')
open(folder / 'plain.txt', 'w').close()
for name in ('shared.npz', 'private.npz', 'group.npz'):
    write_atomic(folder / name, b'new')
model = jaxmlp.MLP((2, 3, 1), ('relu', 'sigmoid'))
jaxmlp.save(folder / 'model.npz', model, model.init(jax.random.key(0)))
write_json({'a': 1}, folder / 'history.json')
"""
NAMES = (
    "new.bin",
    "plain.txt",
    "shared.npz",
    "private.npz",
    "group.npz",
    "model.npz",
    "history.json",
)


@pytest.mark.parametrize("umask, new", [("022", "644"), ("077", "600")])
def test_new_files_get_the_umask_s_mode_and_replaced_files_keep_theirs(tmp_path, umask, new):
    """New files (raw, a checkpoint, a command's JSON) as ``open(path, "w")`` would make them;
    a replaced file keeps its own mode whatever the umask."""
    for name, mode in (("shared.npz", 0o644), ("private.npz", 0o600), ("group.npz", 0o664)):
        (tmp_path / name).write_bytes(b"old")
        os.chmod(tmp_path / name, mode)
    modes = modes_under(umask, tmp_path, WRITES + show(*NAMES))
    assert modes == {
        "new.bin": new,
        "plain.txt": new,
        "model.npz": new,
        "history.json": new,
        "shared.npz": "644",
        "private.npz": "600",
        "group.npz": "664",
    }
    assert (tmp_path / "shared.npz").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)  # no temporary left


def test_the_temporary_file_is_never_wider_than_the_file_it_replaces(tmp_path):
    target = tmp_path / "secret.npz"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    fd, tmp = create_temporary(target)
    try:
        assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o600
        assert tmp.parent == tmp_path and tmp.name.startswith(".secret.npz.")
        assert tmp.name.endswith(".tmp") and len(tmp.name) == len(".secret.npz.") + 8 + 4
    finally:
        os.close(fd)
        tmp.unlink()
    write_atomic(target, b"new")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.npz"]
