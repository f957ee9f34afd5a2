"""Sphinx configuration of the jaxmlp documentation.

Build (no network needed): ``.venv/bin/python -m sphinx -W -b html docs docs/_build/html``.
Prose is MyST Markdown; pages with code cells (the verify walk-through, the gallery) are MyST-NB
text notebooks executed at every build; the API reference is autodoc over each module's
``__all__``; the command line page is rendered from ``jaxmlp.cli.build_parser()``; math is
typeset by Debian's MathJax 2 (``libjs-mathjax``), copied into the site, never fetched.
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
]

exclude_patterns = ["_build", "**/.ipynb_checkpoints", "jupyter_execute"]
root_doc = "index"
language = "en"

# MyST: $…$ and $$…$$ math, ::: fences, anchors for headings (links between pages)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_update_mathjax = False  # MathJax 2 is configured below, not MathJax 3

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

# math: a local MathJax 2 (see _ext/local_mathjax.py); SVG output needs no web fonts
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS_SVG"
mathjax2_config = {
    "showMathMenu": False,
    "messageStyle": "none",
    "tex2jax": {"ignoreClass": "tex2jax_ignore|highlight|output", "processEscapes": True},
}
