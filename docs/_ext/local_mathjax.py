"""Serve MathJax from the built site: copy the parts of a local MathJax 2 that typeset TeX as SVG.

The source is Debian's ``libjs-mathjax`` (``/usr/share/javascript/mathjax``) or the folder named by
``JAXMLP_MATHJAX``. Only the TeX input, the SVG output with its TeX glyphs, and the extensions are
copied (about 2.5 MB), into ``_static/mathjax``, which ``conf.mathjax_path`` points at; the pages
load nothing from outside the site.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

DEFAULT = "/usr/share/javascript/mathjax"
PARTS = (
    "MathJax.js",
    "config/TeX-AMS_SVG.js",
    "extensions",
    "jax/element",
    "jax/input/TeX",
    "jax/output/SVG/jax.js",
    "jax/output/SVG/config.js",
    "jax/output/SVG/autoload",
    "jax/output/SVG/fonts/TeX",
)


def source() -> Path:
    """The MathJax 2 folder to copy from; raises with the fix when it is not there."""
    folder = Path(os.environ.get("JAXMLP_MATHJAX", DEFAULT))
    if not (folder / "MathJax.js").is_file():
        raise ExtensionError(
            f"MathJax 2 not found in {folder}: install Debian's libjs-mathjax "
            "(apt-get install libjs-mathjax) or set JAXMLP_MATHJAX to a MathJax 2 folder"
        )
    return folder


def _check(app) -> None:
    if app.builder.format == "html":
        source()


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    origin, target = source(), Path(app.outdir) / "_static" / "mathjax"
    for part in PARTS:
        src, dst = origin / part, target / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copyfile(src, dst)


def setup(app):
    app.connect("builder-inited", _check)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
