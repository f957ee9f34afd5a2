"""Read jaxmlp's docstring argument lists as reStructuredText lists.

jaxmlp's docstrings list arguments as equinox does, a header line ending in ``:`` with one indented
entry per argument (``name: what it is``) and deeper-indented continuation lines::

    Arguments (the others are fit's):
        model, params: the network and its parameters.
        x, t: the rows ``(n, n_in)`` and their labels ``(n,)``,
            shared by every model.

Plain reStructuredText reads that as a broken definition list. Before autodoc parses a docstring,
each such block becomes a bullet list with the names in bold; nothing else changes.
"""

from __future__ import annotations

import re

ENTRY = re.compile(r"^(?P<names>[\w*][\w*, .\[\]'\"=]*?):\s+(?P<text>.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def as_lists(lines: list[str]) -> list[str]:
    """The docstring's lines with every argument block rewritten as a bullet list."""
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        body_end = i + 1
        while (
            body_end < len(lines)
            and lines[body_end].strip()
            and _indent(lines[body_end]) > _indent(line)
        ):
            body_end += 1
        body = lines[i + 1 : body_end]
        first = body[0].strip() if body else ""
        if (
            line.rstrip().endswith(":")
            and not line.rstrip().endswith("::")
            and line.strip()
            and ENTRY.match(first)
        ):
            out += [line, ""]
            out += _bullets(body, " " * _indent(line))
            out.append("")
            i = body_end
            continue
        out.append(line)
        i += 1
    return out


def _bullets(body: list[str], indent: str) -> list[str]:
    top = min(_indent(line) for line in body)
    items: list[str] = []
    for line in body:
        if _indent(line) == top:
            items.append(line.strip())
        else:
            items[-1] += " " + line.strip()
    bullets = []
    for item in items:
        found = ENTRY.match(item)
        bullets.append(
            f"{indent}- **{found['names']}**: {found['text']}" if found else f"{indent}- {item}"
        )
    return bullets


def _process(app, what, name, obj, options, lines) -> None:
    lines[:] = as_lists(list(lines))


def setup(app):
    app.connect("autodoc-process-docstring", _process)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
