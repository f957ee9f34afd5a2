"""What jaxmlp asks of its dependencies.

The declared lower bounds (pyproject.toml) are exactly the versions that ``.ci/run`` tests in
``.venv-oldest`` (``.ci/constraints-oldest.txt``). And jaxmlp uses JAX's public API only, so that a
newer JAX than the ones tested (README: JAX 0.11 and later need Python 3.12) is likely to work: no
module of the package, its derivations or its benchmark imports or reaches into ``jax._src``,
``jax.interpreters`` or ``jaxlib``'s internals.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "jaxmlp").rglob("*.py"), *(ROOT / "derivations").rglob("*.py")])
PRIVATE = ("jax._src", "jax.interpreters", "jax.lib", "jaxlib")  # jaxlib is JAX's own backend


def _private(dotted: str) -> bool:
    return any(dotted == p or dotted.startswith(p + ".") for p in PRIVATE)


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` of an attribute chain on a plain name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def private_uses(source: str) -> list[str]:
    """Every import of, or attribute path into, JAX's internals in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _private(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            module = node.module or ""
            names = [f"{module}.{a.name}" for a in node.names]
            if _private(module) or any(_private(name) for name in names):
                found.append(f"from {module} import {', '.join(a.name for a in node.names)}")
        elif isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted and _private(dotted) and not _private(dotted.rsplit(".", 1)[0]):
                found.append(dotted)
    return found


def test_the_check_finds_each_kind_of_private_use():
    source = (
        "import jax._src.core\nfrom jax.interpreters import ad\nfrom jax import _src\n"
        "import jaxlib\nx = jax._src.dtypes\nimport jax\nfrom jax import sharding\n"
    )
    assert private_uses(source) == [
        "import jax._src.core",
        "from jax.interpreters import ad",
        "from jax import _src",
        "import jaxlib",
        "jax._src",
    ]


def test_no_module_uses_jax_internals():
    found = {
        str(path.relative_to(ROOT)): uses
        for path in SOURCES
        if (uses := private_uses(path.read_text(encoding="utf-8")))
    }
    assert found == {}, f"JAX internals used (use JAX's public API): {found}"


def test_lower_bounds_are_the_versions_ci_tests():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["examples"]]
    lower = {}
    for text in declared:
        requirement = Requirement(text)
        for spec in requirement.specifier:
            if spec.operator == ">=":
                lower[requirement.name] = Version(spec.version)
    pins = dict(
        re.fullmatch(r"([\w.-]+)==([\w.]+)", line.strip()).groups()
        for line in (ROOT / ".ci/constraints-oldest.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert {name: Version(v) for name, v in pins.items()} == lower
