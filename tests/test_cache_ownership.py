"""The compile cache owns only its own files: it refuses a folder that holds anything else,
evicts only JAX's entries from a folder it marked, and stays off (one warning line, no traceback)
when its folder is read-only, in a script and in ``jaxmlp train``.

A read-only folder is made for real: mode 0500, used by its owner in a child process (under
root, a child without the capability to write through mode bits).
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from jaxmlp import cache

pytestmark = [pytest.mark.skipif(os.name != "posix", reason="POSIX permissions"),
              pytest.mark.usefixtures("restore_jax")]  # tests/conftest.py
GIB = 1 << 30


def entry(folder: Path, name: str, age: float = 0.0, size: int = 100, atime: bool = False):
    """A file named as JAX names a cache entry (with its ``-atime`` companion if asked), last
    used ``age`` seconds before 1e9; a size past 1 MB is sparse (no disk used)."""
    key = f"jit_{name}-{hashlib.sha256(name.encode()).hexdigest()}"
    for suffix in ("-cache", "-atime") if atime else ("-cache",):
        with open(folder / f"{key}{suffix}", "wb") as file:
            file.truncate(size if suffix == "-cache" else 8)
        os.utime(folder / f"{key}{suffix}", (1e9 - age, 1e9 - age))
    return folder / f"{key}-cache"


def snapshot(folder: Path) -> dict:
    """Every file's size, modification time and first and last 4 KiB."""
    found = {}
    for path in sorted(folder.iterdir()):
        info = path.lstat()
        with open(path, "rb") as file:
            head = file.read(4096)
            file.seek(max(info.st_size - 4096, 0))
            found[path.name] = (info.st_size, info.st_mtime_ns, head, file.read())
    return found


@pytest.fixture
def users_folder(tmp_path):
    """``proj`` as the issue found it: notes.txt and a sparse 1.5 GB data.bin."""
    folder = tmp_path / "proj"
    folder.mkdir(mode=0o700)
    (folder / "notes.txt").write_text("my notes\n")
    with open(folder / "data.bin", "wb") as file:
        file.write(b"head")
        file.truncate(3 * GIB // 2)  # sparse: no disk used
        file.seek(-4, os.SEEK_END)
        file.write(b"tail")
    return folder


@pytest.mark.parametrize("marked", [False, True])
def test_a_folder_with_someone_elses_files_is_refused_and_left_as_it_was(
    users_folder, restore_jax, marked
):
    entry(users_folder, "f", age=10)
    if marked:  # a cache folder into which someone put their files later
        (users_folder / cache.MARKER).write_text("x")
    before = snapshot(users_folder)
    with pytest.warns(UserWarning) as caught:
        assert cache.compile_cache(users_folder) is None
    message = str(caught[0].message)
    assert len(caught) == 1 and "\n" not in message
    assert message.startswith(f"compile cache off: {users_folder} holds 'data.bin' (and 1 more)")
    assert "which jaxmlp did not write" in message
    assert snapshot(users_folder) == before  # nothing removed, written or marked
    assert jax.config.jax_compilation_cache_dir == restore_jax["jax_compilation_cache_dir"]


@pytest.mark.parametrize("kind", ["folder", "link named as an entry", "marker that is a folder"])
def test_anything_but_regular_entries_is_foreign(tmp_path, kind):
    folder = tmp_path / "xla"
    folder.mkdir()
    entry(folder, "f")
    if kind == "folder":
        name = "sub"
        (folder / name).mkdir()
    elif kind == "link named as an entry":
        name = entry(tmp_path, "g").name
        (folder / name).symlink_to(tmp_path / name)
    else:
        name = cache.MARKER
        (folder / name).mkdir()
    with pytest.warns(UserWarning, match=f"holds '{name}', which jaxmlp did not write"):
        assert cache.compile_cache(folder) is None
    assert len(list(folder.iterdir())) == 2


def test_eviction_removes_only_entries_jaxmlp_wrote(tmp_path):
    folder = tmp_path / "xla"
    assert cache.compile_cache(folder) == folder  # created, marked
    assert [p.name for p in folder.iterdir()] == [cache.MARKER]
    for age, name in enumerate(("newest", "middle", "oldest")):
        entry(folder, name, age=age * 1000, atime=True)
    (folder / ".lockfile").touch()  # JAX's own lock, when its size bound is set: kept
    assert cache.prune(folder, 1000) == []
    removed = cache.prune(folder, 250)
    assert [p.name[:11] for p in removed] == ["jit_oldest-"] * 2
    assert [p.name[-6:] for p in removed] == ["-cache", "-atime"]
    assert cache.compile_cache(folder, max_size=110) == folder  # an entry and its companion
    newest = sorted(p for p in folder.iterdir() if p.name.startswith("jit_newest-"))
    assert len(newest) == 2 and len(list(folder.iterdir())) == 4
    (folder / "notes.txt").write_text("mine")  # prune itself removes entries only
    assert sorted(cache.prune(folder, 0)) == newest
    assert sorted(p.name for p in folder.iterdir()) == [cache.MARKER, ".lockfile", "notes.txt"]
    with pytest.raises(ValueError, match="max_size: expected an integer >= 1, got 0"):
        cache.compile_cache(folder, max_size=0)


def test_prune_refuses_a_folder_it_did_not_mark(users_folder):
    before = snapshot(users_folder)
    with pytest.raises(ValueError) as caught:
        cache.prune(users_folder, 0)
    assert str(caught.value) == (
        f"folder: '{users_folder}' has no .jaxmlp-cache.txt file, expected a folder that "
        "jaxmlp.compile_cache made its own; nothing was removed"
    )
    assert snapshot(users_folder) == before


def test_a_folder_of_jax_entries_only_is_adopted(tmp_path):
    folder = tmp_path / "xla"  # as an older jaxmlp left it: entries, no marker
    folder.mkdir(mode=0o700)
    kept, old = entry(folder, "kept", age=0), entry(folder, "old", age=100)
    assert cache.compile_cache(folder, max_size=150) == folder
    assert sorted(folder.iterdir()) == sorted([folder / cache.MARKER, kept])
    assert not old.exists()
    assert "jaxmlp's compilation cache" in (folder / cache.MARKER).read_text()


def test_a_permission_error_while_pruning_turns_the_cache_off(tmp_path, monkeypatch, restore_jax):
    folder = tmp_path / "xla"
    folder.mkdir(mode=0o700)
    entries = [entry(folder, "a", age=1), entry(folder, "b")]

    def refuse(path, *_, **__):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "unlink", refuse)
    with pytest.warns(UserWarning) as caught:
        assert cache.compile_cache(folder, max_size=150) is None
    assert len(caught) == 1 and str(caught[0].message) == (
        f"compile cache off: cannot keep {folder} within 150 bytes (Permission denied: "
        f"{entries[0]})"
    )
    assert all(path.exists() for path in entries)
    assert jax.config.jax_compilation_cache_dir == restore_jax["jax_compilation_cache_dir"]


# --- a folder that is really read-only, used by a child process ----------------------------

#: root writes through mode bits by CAP_DAC_OVERRIDE: this launcher drops it (and
#: CAP_DAC_READ_SEARCH) from its bounding set (prctl PR_CAPBSET_DROP, Linux), then runs the child
DROP = (
    "import ctypes, os, sys; prctl = ctypes.CDLL(None, use_errno=True).prctl\n"
    "if any(prctl(24, cap, 0, 0, 0) for cap in (1, 2)): sys.exit(77)\n"
    "os.execv(sys.argv[1], sys.argv[1:])"
)


@pytest.fixture
def reader(tmp_path):
    """``run(argv, env)``: run a child for which a 0500 folder it owns is read-only."""
    prefix = [sys.executable, "-c", DROP] if os.geteuid() == 0 else []

    def run(argv, env):
        env = {**os.environ, **env}
        env.pop("JAXMLP_NO_COMPILE_CACHE", None)
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=120,
                              env=env, cwd=tmp_path)

    (tmp_path / "probe").mkdir(mode=0o500)
    probe = run([sys.executable, "-c", "open('probe/x', 'w')"], {})
    if "PermissionError" not in probe.stderr:
        pytest.skip(f"cannot make a folder read-only for this user ({probe.stderr[-200:]})")
    return tmp_path, run


def read_only_cache(folder: Path, size: int) -> dict:
    """A marked cache folder holding one entry of ``size`` bytes, made read-only (0500)."""
    folder.mkdir(parents=True, mode=0o700)
    (folder / cache.MARKER).write_text("x")
    entry(folder, "old", size=size)
    os.chmod(folder, 0o500)
    return snapshot(folder)


def test_a_read_only_folder_over_its_bound_leaves_the_cache_off(reader):
    base, run = reader
    before = read_only_cache(base / "xla", 1000)
    code = (
        "import sys, warnings, jax, jaxmlp\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    folder = jaxmlp.compile_cache(sys.argv[1], max_size=100)\n"
        "    y = jax.jit(lambda x: x * 3 + 1)(2.0)\n"
        "print(y, folder, jax.config.jax_compilation_cache_dir)\n"
        "print(*[f'{w.category.__name__}: {w.message}' for w in caught], sep='\\n')\n"
    )
    done = run([sys.executable, "-c", code, str(base / "xla")], {})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "7.0 None None" and len(lines) == 2  # ran on, without the cache
    assert lines[1] == (
        f"UserWarning: compile cache off: {base / 'xla'} is read-only for you (or unreadable); "
        "the cache needs to write to it"
    )
    assert snapshot(base / "xla") == before


def test_jaxmlp_train_with_a_read_only_cache_says_one_line_and_trains(reader):
    base, run = reader
    folder = base / "xdg" / "jaxmlp" / "xla"
    before = read_only_cache(folder, 3 * GIB // 2)  # over the program's 1 GiB bound
    argv = [sys.executable, "-m", "jaxmlp.cli", "train", "--epochs", "1", "--verbose", "0",
            "--hidden", "4", "--out", str(base / "run")]
    done = run(argv, {"XDG_CACHE_HOME": str(base / "xdg"), "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"jaxmlp: warning: compile cache off: {folder} is read-only")
    assert "test" in done.stdout.lower()  # it trained and evaluated
    assert snapshot(folder) == before
