"""The documentation: every code block of the README and the docs runs, and the built site works in
a real browser (math typeset, every image loaded, no broken link inside the site).

The browser check needs the built site (``python -m sphinx -W -b html docs docs/_build/html``) and
Debian's ``chromium``; without either it skips with the reason (``.ci/run`` provides both).
Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``): no network,
no extra Python package. Screenshots go to ``docs/_build/screenshots/``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "docs" / "_build" / "html"
PAGES = [
    "index.html",
    "getting_started.html",
    "verify.html",
    "api/jaxmlp.html",
    "lectures/deck001.html",
    "gallery/deck002_keras_workflow.html",
]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
SOURCES = [p for p in SOURCES if "_build" not in p.parts]


def blocks(path: Path, language: str) -> list[str]:
    """The fenced blocks of ``language`` in a Markdown file, in order."""
    return [body for lang, body in FENCE.findall(path.read_text()) if lang == language]


# --- every code block runs -------------------------------------------------------------------

RUNNER = textwrap.dedent("""
    import contextlib, io, json, os, sys, traceback
    failures = {}
    for page, codes in json.load(sys.stdin).items():  # each page in its own folder
        os.makedirs(page.replace("/", "_"), exist_ok=True)
        os.chdir(page.replace("/", "_"))
        for i, code in enumerate(codes):  # each block in a fresh namespace
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(code, f"{page} block {i + 1}", "exec"), {"__name__": "__main__"})
            except BaseException:
                failures[page] = f"--- block {i + 1} failed:\\n{code}\\n{traceback.format_exc()}"
                break
        os.chdir("..")
    print(json.dumps(failures))
""")
PYTHON_PAGES = [p for p in SOURCES if blocks(p, "python")]


@pytest.fixture(scope="module")
def ran_blocks(tmp_path_factory):
    """Every page's ```python blocks, run in one child process (one JAX start-up): each page in
    its own folder, each block in a fresh namespace. ``{page: failure}``."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    pages = {str(p.relative_to(ROOT)): blocks(p, "python") for p in PYTHON_PAGES}
    done = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps(pages),
        capture_output=True,
        text=True,
        cwd=tmp_path_factory.mktemp("blocks"),
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("path", PYTHON_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run_each_on_its_own(path, ran_blocks):
    """Each ```python block runs in a fresh namespace: it needs nothing from the block before."""
    failure = ran_blocks.get(str(path.relative_to(ROOT)))
    assert failure is None, failure[-4000:]


def jaxmlp_commands(path: Path) -> list[list[str]]:
    """The arguments of every ``jaxmlp`` command in the file's ```bash blocks."""
    found = []
    for body in blocks(path, "bash"):
        for line in body.splitlines():
            for part in re.split(r"&&|\|", line.split(" #")[0]):
                words = shlex.split(part, comments=True)
                while words and re.fullmatch(r"\w+=\S*", words[0]):  # VAR=value before a command
                    words = words[1:]
                if words and Path(words[0]).name == "jaxmlp":
                    found.append(words[1:])
    return found


@pytest.mark.parametrize(
    "path", [p for p in SOURCES if jaxmlp_commands(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_shell_commands_are_valid_jaxmlp_command_lines(path, capsys):
    """Every ``jaxmlp ...`` line of a ```bash block parses with the real parser (not run: some train
    for minutes or need several hosts)."""
    from jaxmlp.cli import build_parser

    for argv in jaxmlp_commands(path):
        try:
            build_parser().parse_args(argv or ["--help"])
        except SystemExit as exit_:
            error = capsys.readouterr().err
            assert exit_.code == 0 and not argv, f"jaxmlp {shlex.join(argv)}: {error}"


# --- the built site in a browser -------------------------------------------------------------


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4 of the child)."""

    FLAGS = (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--remote-debugging-pipe",
        "--hide-scrollbars",
    )

    def __init__(self, program: str, profile: str):
        to_child, self._to = os.pipe()
        self._from, from_child = os.pipe()

        def plumb():  # the protocol's fixed descriptors: commands on 3, replies on 4
            a, b = os.dup(to_child), os.dup(from_child)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.process = subprocess.Popen(
            [program, *self.FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=plumb,
            pass_fds=(3, 4, to_child, from_child),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer, self._id = b"", 0
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        attached = self.send("Target.attachToTarget", targetId=target, flatten=True)
        self.session = attached["sessionId"]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
            session=True,
        )

    def send(self, method: str, session: bool = False, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from, 1 << 20)
                assert chunk, "chromium closed the DevTools pipe"
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]

    def evaluate(self, expression: str):
        result = self.send(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def open(self, url: str, timeout: float = 30.0):
        """Load ``url`` and wait for the document, its images and MathJax's typesetting."""
        self.send("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + timeout
        while (
            self.evaluate("document.readyState") != "complete"
            or self.evaluate("location.href") != url.split("#")[0]
        ):
            assert time.monotonic() < deadline, f"{url} did not load"
            time.sleep(0.1)
        self.evaluate(  # MathJax 3 (docs/conf.py) resolves startup.promise once it has typeset
            "window.MathJax && MathJax.startup && MathJax.startup.promise ? "
            "MathJax.startup.promise.then(() => true) : true"
        )

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", session=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        os.killpg(self.process.pid, 9)  # chromium and its helper processes: its own session
        self.process.wait()
        os.close(self._to)
        os.close(self._from)


STATE = """(() => ({
  text: document.body.innerText,
  math: document.querySelectorAll('.math').length,
  typeset: [...document.querySelectorAll('.math')].filter(m => {
    const svg = m.querySelector('mjx-container[jax="SVG"] > svg');
    return svg && svg.getBoundingClientRect().width > 0;
  }).length,
  errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
  mathjax: window.MathJax && MathJax.version || null,
  scripts: [...document.scripts].map(s => s.src).filter(Boolean),
  images: [...document.images].map(i => [i.src, i.complete && i.naturalWidth > 0]),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  clipped: [...document.querySelectorAll('article pre, article table')].filter(e =>
    e.tagName === 'PRE' ? e.scrollWidth > e.clientWidth + 1
      : !e.closest('.table-wrapper') && e.getBoundingClientRect().right
        > document.querySelector('article').getBoundingClientRect().right + 1
  ).map(e => e.innerText.slice(0, 80)),
}))()"""


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name in ("id", "name") and value)


def _ids(page: Path, cache={}) -> set[str]:  # noqa: B006 (a cache for one test)
    if page not in cache:
        parser = _Ids()
        parser.feed(page.read_text(errors="replace"))
        cache[page] = parser.ids
    return cache[page]


def broken_links(links: list[str]) -> list[str]:
    """The site's own links (file://) whose page or anchor does not exist."""
    broken = []
    for link in links:
        url = urlparse(link)
        if url.scheme != "file":
            continue
        page = Path(unquote(url.path))
        if not page.is_file() or (
            url.fragment and page.suffix == ".html" and unquote(url.fragment) not in _ids(page)
        ):
            broken.append(link)
    return broken


@pytest.fixture(scope="module")
def browser():
    if not (SITE / "index.html").is_file():
        pytest.skip(f"the site is not built: run python -m sphinx -W -b html docs {SITE}")
    program = shutil.which("chromium") or shutil.which("chromium-browser")
    if program is None:
        pytest.skip("no chromium: apt-get install chromium")
    profiles = tempfile.TemporaryDirectory(prefix="jaxmlp-chromium-", ignore_cleanup_errors=True)
    with profiles as profile:
        chromium = Chromium(program, profile)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_in_chromium(browser, page):
    shots = SITE.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    browser.open((SITE / page).as_uri())
    browser.screenshot(shots / (page.replace("/", "_").removesuffix(".html") + ".png"))
    state = browser.evaluate(STATE)
    raw = sorted(
        set(re.findall(r"\\(?:delta|frac|sum|partial|sigma|mathrm|left|right)\b", state["text"]))
    )
    assert not raw, f"{page}: TeX left untypeset: {raw}"
    # every equation drawn by MathJax 3 as a visible SVG, from the site's own copy (docs/conf.py)
    assert state["typeset"] == state["math"] and not state["errors"], state
    if state["math"]:
        assert (state["mathjax"] or "").startswith("3."), state["mathjax"]
    assert all(src.startswith("file:") for src in state["scripts"]), state["scripts"]
    assert all(ok for _, ok in state["images"]), [src for src, ok in state["images"] if not ok]
    assert not broken_links(state["links"]), broken_links(state["links"])
    # code and output wrap, wide tables scroll in their wrapper (docs/_static/jaxmlp.css)
    assert not state["clipped"], f"{page}: cut off at the right edge: {state['clipped']}"


def test_command_line_page_in_chromium_shows_options_as_typed(browser):
    """Every option on the CLI page reads as typed, ``--seed`` and never ``–seed`` (an en dash,
    which Sphinx's smart quotes make of ``--`` in text and a shell rejects)."""
    from jaxmlp.cli import build_parser

    browser.open((SITE / "cli.html").as_uri())
    text = browser.evaluate("document.body.innerText")
    dashed = sorted(set(re.findall(r"[\u2013\u2014][A-Za-z][\w-]*", text)))
    assert not dashed, f"options with an en or em dash on the command line page: {dashed}"
    shown = set(re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", text))

    def flags(parser):
        for action in parser._actions:
            yield from action.option_strings
            for sub in getattr(action, "choices", None) or {}:
                if isinstance(action, argparse._SubParsersAction):
                    yield from flags(action.choices[sub])

    missing = sorted(set(flags(build_parser())) - shown)
    assert not missing, f"options not shown as typed on the command line page: {missing}"


def test_api_entry_names_are_public_paths():
    """The API pages name types as a reader imports them (``jaxmlp.MLP``, ``jax.Array``), never by
    a private module (``~jaxmlp.core.model.MLP``, ``jax.jaxlib._jax.Array``); a constant shows its
    type and value (docs/_ext/public_names.py, docs/_ext/api_reference.py)."""
    if not (SITE / "index.html").is_file():
        pytest.skip("the site is not built")
    for page in sorted((SITE / "api").glob("jaxmlp*.html")):
        text = page.read_text()
        entries = re.findall(r'<dt class="sig sig-object py"[^>]*>(.*?)</dt>', text, re.S)
        entries += re.findall(r"<p>Bases:(.*?)</p>", text, re.S)
        shown = [" ".join(re.sub(r"<[^>]+>", "", entry).split()) for entry in entries]
        private = sorted(
            {m for line in shown for m in re.findall(r"~\S+|\b\w+(?:\.\w+)*\._\w+", line)}
        )
        assert not private, f"{page.name}: private paths in signatures: {private}"
    text = " ".join(re.sub(r"<[^>]+>", "", (SITE / "api/jaxmlp.html").read_text()).split())
    assert "jaxmlp.MLP" in text and "jax.Array" in text
    assert "INITIALIZERS: tuple[str, ...] = ('glorot_uniform'" in text.replace("&#x27;", "'")


def test_pages_with_math_and_pictures_were_checked():
    """The pages the browser opens hold what the check is about: equations and pictures."""
    if not (SITE / "index.html").is_file():
        pytest.skip("the site is not built")
    assert (SITE / "lectures/deck001.html").read_text().count('class="math') >= 5
    assert (SITE / "gallery/deck002_keras_workflow.html").read_text().count("<img") >= 2


def test_every_public_name_and_every_command_line_option_has_an_entry():
    """The API pages hold an entry per name of each module's ``__all__``; the CLI page every
    subcommand and every option of the real parser."""
    if not (SITE / "index.html").is_file():
        pytest.skip("the site is not built")
    import importlib

    from jaxmlp.cli import build_parser

    for name in (
        "jaxmlp",
        "jaxmlp.data",
        "jaxmlp.parallel",
        "jaxmlp.plot",
        "jaxmlp.verify",
        "jaxmlp.sklearn",
    ):
        module, ids = importlib.import_module(name), _ids(SITE / "api" / f"{name}.html")
        missing = [
            n
            for n in module.__all__
            if f"{name}.{n}" not in ids
            and not hasattr(getattr(module, n), "__path__")
            and type(getattr(module, n)).__name__ != "module"
        ]
        assert not missing, f"{name}: no reference entry for {missing}"
    page = (SITE / "cli.html").read_text()

    def walk(parser, prog):
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in page, f"{prog} {flag} is not on the command line page"
            if isinstance(action, argparse._SubParsersAction):
                for sub, subparser in action.choices.items():
                    assert f"{prog} {sub}" in page, f"{prog} {sub} is not on the command line page"
                    walk(subparser, f"{prog} {sub}")

    walk(build_parser(), "jaxmlp")
