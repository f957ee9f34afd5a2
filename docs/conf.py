"""Sphinx configuration of the jaxmlp documentation.

Build (no network needed): ``.venv/bin/python -m sphinx -W -b html docs docs/_build/html``.
Prose is MyST Markdown; pages with code cells (the verify walk-through, the gallery) are MyST-NB
text notebooks executed at every build; the API reference is autodoc over each module's
``__all__``; the command line page is rendered from ``jaxmlp.cli.build_parser()``; math is
typeset by MathJax 3 from the PyPI package ``sphinx-mathjax-offline``, copied into the site, never
fetched (see "math" below).
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

project = "jaxmlp"
author = "the jaxmlp authors"
copyright = "2026, the jaxmlp authors"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "api_reference",
    "cli_reference",
    "docstring_lists",
    "local_mathjax",
    "public_names",
]

# text as typed: no smart quotes or dashes, so "--seed" never becomes an en dash ("–seed") that a
# shell rejects, in the command line page, the docstrings and the prose alike (the prose writes its
# own typographic dashes and quotes where it wants them)
smartquotes = False

exclude_patterns = ["_build", "**/.ipynb_checkpoints", "jupyter_execute"]
root_doc = "index"
language = "en"

# MyST: $…$ and $$…$$ math, ::: fences, anchors for headings (links between pages)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_update_mathjax = False  # MathJax is configured below, in one place

# MyST-NB: every notebook page runs at every build, and an error fails the build
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 180
nb_merge_streams = True

# autodoc: signatures with their types, members in source order
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": False}
add_module_names = False

# no intersphinx: nothing is fetched at build time
html_theme = "furo"
html_title = "jaxmlp"
html_static_path = ["_static"]
html_css_files = ["jaxmlp.css"]
html_show_sourcelink = False
html_last_updated_fmt = None

# math: MathJax 3 from PyPI, copied into the site (see _ext/local_mathjax.py). Why this way:
# - pip alone: the wheel sphinx-mathjax-offline (the docs extra) holds MathJax 3.2.2's files, so the
#   build needs no system package (Debian's libjs-mathjax is not read even where it is installed)
#   and works offline, without root, on any OS;
# - the same TeX as the pages are written in: MathJax's TeX input takes every amsmath environment
#   the lecture pages use; a build-time TeX-to-MathML converter (latex2mathml) would need a Sphinx
#   writer of our own and covers less of it, and browsers' native MathML is drawn less evenly;
# - one self-contained script (tex-svg-full.js, 2.2 MB): SVG output carries its glyphs, so no web
#   fonts and no further file is loaded; we use the package's files, not its Sphinx extension
#   (that one copies all 24 MB and picks the CHTML output).
mathjax_path = "mathjax/tex-svg-full.js"
mathjax3_config = {
    "tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]},
    "options": {
        "enableMenu": False,  # the menu would load more files (accessibility) on demand
        "ignoreHtmlClass": "tex2jax_ignore|highlight|output",  # code and cell outputs stay text
        "processHtmlClass": "math",
    },
}
