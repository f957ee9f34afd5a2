"""Atomic writes keep the user's permissions: the umask's mode for a new file, the old file's mode
for a replaced one; checkpoints and the command line's outputs go through them.

Each umask is set in a child process (one for both, in turn), so this process's umask never
changes.
"""

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jaxmlp.atomic import create_temporary, write_atomic

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")

CHILD = """
import os, stat, sys
from pathlib import Path
for umask, folder in zip(sys.argv[1::2], sys.argv[2::2]):
    os.umask(int(umask, 8))
    folder = Path(folder)
    print(f"umask={{umask}}")
{body}
"""


def modes_under(runs: dict[str, Path], body: str) -> dict[str, dict[str, str]]:
    """Run ``body`` once per ``umask: folder`` of ``runs``, in turn in ONE child (one start-up of
    JAX) that sets each umask before its run; it prints ``name=mode`` lines, returned per umask."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(body=textwrap.indent(body, "    ")),
         *(str(arg) for pair in runs.items() for arg in pair)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    modes: dict[str, dict[str, str]] = {}
    for line in done.stdout.split():
        name, mode = line.split("=")
        if name == "umask":
            umask = modes.setdefault(mode, {})
        else:
            umask[name] = mode
    return modes


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


UMASKS = {"022": "644", "077": "600"}  # umask -> a new file's mode


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Each umask's folder after :data:`WRITES`, and the modes the child saw there."""
    folders = {umask: tmp_path_factory.mktemp(f"umask{umask}") for umask in UMASKS}
    for folder in folders.values():
        for name, mode in (("shared.npz", 0o644), ("private.npz", 0o600), ("group.npz", 0o664)):
            (folder / name).write_bytes(b"old")
            os.chmod(folder / name, mode)
    return folders, modes_under(folders, WRITES + show(*NAMES))


@pytest.mark.parametrize("umask, new", UMASKS.items())
def test_new_files_get_the_umask_s_mode_and_replaced_files_keep_theirs(written, umask, new):
    """New files (raw, a checkpoint, a command's JSON) as ``open(path, "w")`` would make them;
    a replaced file keeps its own mode whatever the umask."""
    folders, all_modes = written
    tmp_path, modes = folders[umask], all_modes[umask]
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
