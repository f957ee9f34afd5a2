"""Serve MathJax from the built site: one file of MathJax 3 from the PyPI package that ships it.

The source is ``sphinx-mathjax-offline`` (in the ``docs`` extra), a wheel that holds MathJax 3.2.2's
files and nothing else that matters here. Only its ``tex-svg-full.js`` is copied (2.2 MB: the TeX
input with every TeX package, the SVG output with its glyphs inside the script, no web fonts, no
further file loaded at run time) into ``_static/mathjax``, which ``conf.mathjax_path`` points at.
The package is located through its installed metadata, never through a system folder, so the
build needs no Debian package and the pages load nothing from outside the site.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

from sphinx.errors import ExtensionError

DISTRIBUTION = "sphinx-mathjax-offline"
FOLDER = "sphinx-mathjax-offline/static/mathjax"  #: inside the distribution's install location
SCRIPT = "tex-svg-full.js"  #: conf.mathjax_path is "mathjax/" + SCRIPT


def source() -> Path:
    """The installed MathJax 3 script; raises with the fix when the package is not installed."""
    try:
        script = Path(metadata.distribution(DISTRIBUTION).locate_file(FOLDER)) / SCRIPT
    except metadata.PackageNotFoundError:
        script = None
    if script is None or not script.is_file():
        raise ExtensionError(
            f"MathJax not found: the docs need the PyPI package {DISTRIBUTION} "
            "(pip install -e '.[docs]' installs it)"
        )
    return script


def _check(app) -> None:
    if app.builder.format == "html":
        source()


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax" / SCRIPT
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source(), target)


def setup(app):
    app.connect("builder-inited", _check)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
