"""JAX's persistent compilation cache: the opt-in call, its folder's permissions, and the command
line's switch (what the cache may remove, its size bound and a read-only folder are in
``test_cache_ownership.py``).

The in-process tests restore JAX's options and cache handle afterwards (``restore_jax``); the
real reuse across processes is tested in children.
"""

import argparse
import json
import os
import stat
import subprocess
import sys
import warnings

import jax
import pytest

from jaxmlp import cache
from jaxmlp.cli.common import enable_compile_cache

pytestmark = [pytest.mark.skipif(os.name != "posix", reason="POSIX permissions"),
              pytest.mark.usefixtures("restore_jax")]  # tests/conftest.py


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_folder_is_created_owner_only_and_jax_uses_it(tmp_path):
    folder = tmp_path / "a" / "b" / "xla"
    saved = os.umask(0o000)  # the most permissive umask; restored at once
    try:
        assert cache.compile_cache(folder) == folder
    finally:
        os.umask(saved)
    assert mode(folder) == 0o700
    assert jax.config.jax_compilation_cache_dir == str(folder)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0


def test_the_default_folder_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.default_folder() == tmp_path / "jaxmlp" / "xla"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.default_folder() == tmp_path / "home" / ".cache" / "jaxmlp" / "xla"


@pytest.mark.parametrize(
    "permissions, words",
    [
        (0o777, "writable by others (mode 0777)"),
        (0o720, "writable by others (mode 0720)"),
        (0o702, "writable by others (mode 0702)"),
    ],
)
def test_a_folder_others_can_write_is_refused(tmp_path, restore_jax, permissions, words):
    folder = tmp_path / "xla"
    folder.mkdir()
    os.chmod(folder, permissions)
    with pytest.warns(UserWarning, match=r"compile cache off: .*xla is ") as caught:
        assert cache.compile_cache(folder) is None
    assert len(caught) == 1 and words in str(caught[0].message)
    assert "run code as you" in str(caught[0].message)
    assert jax.config.jax_compilation_cache_dir == restore_jax["jax_compilation_cache_dir"]
    assert mode(folder) == permissions  # left as it was


def test_a_folder_of_another_user_is_refused(tmp_path, monkeypatch, restore_jax):
    folder = tmp_path / "xla"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(folder).st_uid + 1)
    with pytest.warns(UserWarning, match="belongs to another user"):
        assert cache.compile_cache(folder) is None
    assert jax.config.jax_compilation_cache_dir == restore_jax["jax_compilation_cache_dir"]


def test_a_file_or_an_impossible_folder_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.warns(UserWarning, match="is not a folder"):
        assert cache.compile_cache(tmp_path / "file") is None
    with pytest.warns(UserWarning, match="cannot create"):
        assert cache.compile_cache(tmp_path / "file" / "xla") is None


def test_an_existing_owner_only_folder_is_used_as_it_is(tmp_path):
    folder = tmp_path / "xla"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)  # readable by others, writable by the owner only: safe
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.compile_cache(folder) == folder
    assert mode(folder) == 0o755


#: two children in turn on one cache folder; each also lists the JAX options that importing
#: jaxmlp changed (one start-up of JAX for both checks: test_import_jaxmlp_changes_no_jax_option)
READ_BACK = (
    "import json, sys, jax; before = dict(jax.config.values); import jaxmlp, jaxmlp.cache as c; "
    "changed = sorted(k for k, v in jax.config.values.items() if before.get(k, v) != v); "
    "events = []; "
    "jax.monitoring.register_event_listener(lambda name, **_: events.append(name)); "
    "c.compile_cache(sys.argv[1]); print(jax.jit(lambda x: x * 3 + 1)(2.0), "
    "events.count('/jax/compilation_cache/cache_hits'), json.dumps(changed))"
)


@pytest.fixture(scope="module")
def read_back(tmp_path_factory):
    """``(folder, [(stdout fields, folder entries) of each child])``."""
    folder = tmp_path_factory.mktemp("cache") / "xla"
    runs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", READ_BACK, str(folder)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        runs.append((done.stdout.split(None, 2), sorted(p.name for p in folder.iterdir())))
    return folder, runs


def test_programs_are_written_and_read_back_by_another_process(read_back):
    folder, runs = read_back
    assert all(out[0] == "7.0" for out, _ in runs), runs
    hits = [int(out[1]) for out, _ in runs]
    entries = [names for _, names in runs]
    assert entries[0][0] == cache.MARKER and len(entries[0]) > 1
    assert all(name.startswith("jit_") and name.endswith("-cache") for name in entries[0][1:])
    assert entries[1] == entries[0] and hits[0] == 0 and hits[1] >= 1  # read back, not compiled
    assert mode(folder) == 0o700


# --- the command line ----------------------------------------------------------------------


def test_the_command_line_switch_and_variable_turn_it_off(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cache, "compile_cache", lambda: calls.append(1) or tmp_path)
    monkeypatch.delenv("JAXMLP_NO_COMPILE_CACHE", raising=False)
    assert enable_compile_cache(argparse.Namespace(no_compile_cache=False)) == tmp_path
    assert enable_compile_cache(argparse.Namespace(no_compile_cache=True)) is None
    for value, on in (("1", False), ("yes", False), ("0", True), ("", True)):
        monkeypatch.setenv("JAXMLP_NO_COMPILE_CACHE", value)
        assert (enable_compile_cache(argparse.Namespace(no_compile_cache=False)) is not None) == on
    assert len(calls) == 3


def test_the_command_line_says_a_refusal_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("JAXMLP_NO_COMPILE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "jaxmlp" / "xla").mkdir(parents=True)
    os.chmod(tmp_path / "jaxmlp" / "xla", 0o777)
    assert enable_compile_cache(argparse.Namespace(no_compile_cache=False)) is None
    err = capsys.readouterr().err
    assert err.startswith("jaxmlp: warning: compile cache off: ") and err.count("\n") == 1


#: ``jaxmlp data`` three times in ONE child (one start-up of JAX), each as ``python -m jaxmlp.cli``
#: runs it (``main()`` reading ``sys.argv``: the program, which owns its process and may turn the
#: cache on): with the switch, with the variable, then plainly (last: it turns JAX's cache on)
SWITCHES = """
import json, os, sys
from jaxmlp.cli import main
for argv, xdg, variable in json.loads(sys.argv[1]):
    os.environ["XDG_CACHE_HOME"] = xdg
    os.environ.pop("JAXMLP_NO_COMPILE_CACHE", None)
    if variable is not None:
        os.environ["JAXMLP_NO_COMPILE_CACHE"] = variable
    sys.argv = ["jaxmlp", *argv]
    print("status", main(), file=sys.stderr)
"""


def test_the_program_uses_the_cache_and_its_switches_turn_it_off(tmp_path):
    env = dict(os.environ)
    env.pop("JAXMLP_NO_COMPILE_CACHE", None)
    runs = (
        (["data", "--no-compile-cache"], str(tmp_path / "flag"), None),
        (["data"], str(tmp_path / "variable"), "1"),
        (["data"], str(tmp_path / "on"), None),
    )
    done = subprocess.run([sys.executable, "-c", SWITCHES, json.dumps(runs)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    statuses = [line for line in done.stderr.splitlines() if line.startswith("status ")]
    assert statuses == ["status 0"] * 3, done.stderr
    for name in ("flag", "variable", "on"):
        assert (tmp_path / name / "jaxmlp" / "xla").is_dir() == (name == "on"), name
    assert mode(tmp_path / "on" / "jaxmlp" / "xla") == 0o700


def test_import_jaxmlp_changes_no_jax_option(read_back):
    _, runs = read_back
    assert all(json.loads(out[2]) == [] for out, _ in runs), runs
