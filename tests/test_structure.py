"""The house's structure: no import circles among jaxmlp's modules (function-level imports count
too), and the layers import one way: nothing in core/ imports training/, data/, cli/, bench/ or
plot; nothing in the library imports cli/ or bench/; docs/house.md names every package and root
module."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "jaxmlp"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The jaxmlp modules ``name`` imports anywhere in its file, with the packages they sit in
    (whose ``__init__`` runs first), except the root package."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1]
                    + ([node.module] if node.module else [])
                )
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            for i in range(2, len(parts) + 1):  # every package on the way, not the root
                if ".".join(parts[:i]) in MODULES:
                    found.add(".".join(parts[:i]))
    return {t for t in found if not (name == t or name.startswith(t + "."))}  # not its own packages


GRAPH = {name: imports(name) for name in MODULES}


def test_no_import_circles():
    circles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == "open":
                circles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert circles == []


@pytest.mark.parametrize(
    "layer,forbidden",
    [
        (
            "jaxmlp.core",
            (
                "jaxmlp.training",
                "jaxmlp.data",
                "jaxmlp.cli",
                "jaxmlp.bench",
                "jaxmlp.plot",
                "jaxmlp.parallel",
            ),
        ),
        ("jaxmlp.training", ("jaxmlp.cli", "jaxmlp.bench", "jaxmlp.plot")),
        ("jaxmlp.parallel", ("jaxmlp.training", "jaxmlp.cli", "jaxmlp.bench")),
        ("jaxmlp.data", ("jaxmlp.training", "jaxmlp.cli", "jaxmlp.bench")),
    ],
)
def test_layers_import_one_way(layer, forbidden):
    wrong = sorted(
        (name, target)
        for name, targets in GRAPH.items()
        if name == layer or name.startswith(layer + ".")
        for target in targets
        if target.startswith(forbidden)
    )
    assert wrong == []


def test_the_house_map_names_every_package_and_root_module():
    """docs/house.md lists each package (``jaxmlp.NAME``) and root module (``NAME.py``)."""
    house = (ROOT / "docs" / "house.md").read_text()
    parts = {f"`jaxmlp.{p.name}`" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    parts |= {f"`{p.name}`" for p in PACKAGE.glob("*.py")} | {"`jaxmlp.derivations`"}
    assert sorted(name for name in parts if name not in house) == []


def test_the_graph_sees_the_imports():  # the test above can fail: it reads real edges
    assert "jaxmlp.training.epoch" in GRAPH["jaxmlp.training.loop"]
    assert "jaxmlp.core.values" in GRAPH["jaxmlp.core.model"]
