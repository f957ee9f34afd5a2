"""``.. jaxmlp-api:: MODULE``: the reference of every name in ``MODULE.__all__``, by autodoc.

The list of names is read from the code at build time, so a name added to (or removed from) a
module's ``__all__`` appears in (or leaves) the reference without editing the docs. Each entry is
an ``autofunction``, ``autoclass`` (with its public members) or ``autoexception`` directive; a
constant is a ``py:data`` entry with its type, its value (when short) and the ``#:`` comment of the
module that defines it; a name that is itself a module links to that module's own page. A line of
links to every entry comes first.
"""

from __future__ import annotations

import importlib
import inspect
import sys

from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective


def entries(module_name: str) -> list[tuple[str, str]]:
    """``[(directive, name)]`` for every public name of the module, in ``__all__``'s order."""
    module = importlib.import_module(module_name)
    found = []
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.ismodule(value):
            kind = "module"
        elif inspect.isclass(value) and issubclass(value, BaseException):
            kind = "autoexception"
        elif inspect.isclass(value):
            kind = "autoclass"
        elif callable(value):
            kind = "autofunction"
        else:
            kind = "autodata"
        found.append((kind, name))
    return found


def rst(module_name: str) -> list[str]:
    """The reStructuredText that documents the module's public names."""
    listed = entries(module_name)
    lines = [f".. currentmodule:: {module_name}", ""]
    lines += [
        "On this page: "
        + ", ".join(f":obj:`{name}`" for kind, name in listed if kind != "module")
        + ".",
        "",
    ]
    for kind, name in listed:
        if kind == "module":
            lines += [
                f".. rubric:: {module_name}.{name}",
                "",
                f"The module :doc:`{module_name}.{name} <{module_name}.{name}>`.",
                "",
            ]
            continue
        if kind == "autodata":
            lines += [
                f".. py:data:: {name}",
                *("   " + line for line in type_and_value(module_name, name)),
                "",
                *("   " + line for line in comment(module_name, name)),
                "",
            ]
            continue
        lines.append(f".. {kind}:: {name}")
        if kind == "autoclass":
            lines += ["   :members:", "   :show-inheritance:"]
        lines.append("")
    return lines


def type_and_value(module_name: str, name: str) -> list[str]:
    """``:type:`` of the constant (``tuple[str, ...]`` for a tuple of strings) and, when it fits on
    a line, its ``:value:``: what the constant is, with or without a comment."""
    value = getattr(importlib.import_module(module_name), name)
    kind = type(value).__name__
    if isinstance(value, (tuple, list, frozenset, set, dict)) and value:
        parts = [value.keys(), value.values()] if isinstance(value, dict) else [value]
        names = [{type(item).__name__ for item in part} for part in parts]
        if all(len(found) == 1 for found in names):
            inner = ", ".join(found.pop() for found in names)
            kind = f"tuple[{inner}, ...]" if isinstance(value, tuple) else f"{kind}[{inner}]"
    lines = [f":type: {kind}"]
    if len(repr(value)) <= MAX_VALUE:
        lines.append(f":value: {value!r}")
    return lines


MAX_VALUE = 90  #: longer values are left to the comment (and the source)


def comment(module_name: str, name: str) -> list[str]:
    """The ``#:`` comment of the constant ``name``, from the jaxmlp module that defines it."""
    value = getattr(importlib.import_module(module_name), name)
    for candidate in [module_name, *sorted(m for m in sys.modules if m.startswith("jaxmlp."))]:
        module = sys.modules.get(candidate)
        if module is None or getattr(module, name, None) is not value:
            continue
        try:
            docs = ModuleAnalyzer.for_module(candidate).find_attr_docs()
        except Exception:  # a module without source: try the next
            continue
        if ("", name) in docs:
            return list(docs["", name])
    return []  # its type and value say what it is


class ModuleAPI(SphinxDirective):
    """Document every name of one module's ``__all__``."""

    required_arguments = 1

    def run(self):
        module_name = self.arguments[0]
        self.env.note_dependency(importlib.import_module(module_name).__file__)
        return self.parse_text_to_nodes("\n".join(rst(module_name)), allow_section_headings=True)


def setup(app):
    app.add_directive("jaxmlp-api", ModuleAPI)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
