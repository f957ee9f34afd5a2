"""Signatures that name types by the path a reader imports: ``jaxmlp.MLP``, ``jax.Array``.

autodoc writes each annotation by the module that defines it (``jaxmlp.core.model.MLP``,
``jax.jaxlib._jax.Array``, ``optax._src.base.GradientTransformation``). At build time, and only in
the documentation, every dotted name in a signature is rewritten to a public path: the jaxmlp
module of the API reference whose ``__all__`` holds the object, else the shortest public module of
the object's package that exports it under the same name (``jax.sharding.Mesh``). Names from
``typing`` and ``collections.abc`` show as their bare names (``Any``, ``Callable``). Defaults that
are not Python (``<factory>`` of a dataclass field, ``<built-in function print>``, ``<class
'jax.numpy.float32'>``) become the expression they stand for, so that Sphinx parses every
signature (an unparsable one is shown as raw text, ``~`` marks and all). Private base classes
(``_BaseMLP``) give way to their own bases, and ``Bases: object`` is left out.
Nothing in the library is changed: no ``__module__`` is rewritten.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys

#: the modules of the API reference (docs/api), in the order a name is looked up
PUBLIC = ("jaxmlp", "jaxmlp.data", "jaxmlp.parallel", "jaxmlp.plot", "jaxmlp.verify",
          "jaxmlp.sklearn")
SHORT = ("typing.", "collections.abc.", "builtins.")  #: shown by their bare name
DOTTED = re.compile(r"~?\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")
QUOTED = re.compile(r"""('[^']*'|"[^"]*")""")  #: string defaults, left as they are
NOT_PYTHON = (
    (re.compile(r"<built-in function (\w+)>"), r"\1"),
    (re.compile(r"<function ([\w.]+) at 0x[0-9a-f]+>"), r"\1"),
    (re.compile(r"<class '([\w.]+)'>"), r"\1"),
)


def resolve(dotted: str):
    """The object a dotted path names (a module prefix imported, the rest by attribute), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # not a module (or not importable): a shorter prefix
            continue
        try:
            for part in parts[cut:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def public(dotted: str) -> str | None:
    """The path a reader imports ``dotted`` from, as a signature shows it; None if not found."""
    if dotted.startswith(SHORT):
        return "~" + dotted
    top, name = dotted.split(".")[0], dotted.rsplit(".", 1)[1]
    obj = resolve(dotted)
    if obj is None:  # a path no import reaches, as jax.Array's own: jax.jaxlib._jax.Array
        candidate = getattr(sys.modules.get(top), name, None)
        if f"{getattr(candidate, '__module__', '')}.{getattr(candidate, '__qualname__', '')}" \
                != dotted:
            return None
        obj = candidate
    if isinstance(obj, (int, float, str, bool)):
        return None
    for module_name in PUBLIC:
        module = importlib.import_module(module_name)
        for exported in getattr(module, "__all__", ()):
            if getattr(module, exported, None) is obj:
                return f"{module_name}.{exported}"
    exporters = sorted(  # the package's public modules, already imported, that hold the object
        (module_name for module_name, module in list(sys.modules.items())
         if (module_name == top or module_name.startswith(top + "."))
         and not any(part.startswith("_") for part in module_name.split("."))
         and getattr(module, name, None) is obj),
        key=lambda module_name: (module_name.count("."), module_name),
    )
    return f"{exporters[0]}.{name}" if exporters else dotted


def rewrite(text: str | None) -> str | None:
    """A signature (or return annotation) with every dotted name outside a string made public."""
    if not text:
        return text
    for pattern, replacement in NOT_PYTHON:
        text = pattern.sub(replacement, text)

    def name(match: re.Match) -> str:
        return public(match.group(1)) or match.group(0)

    pieces = QUOTED.split(text)  # odd pieces are quoted strings
    return "".join(p if i % 2 else DOTTED.sub(name, p) for i, p in enumerate(pieces))


def _factories(obj, signature: str) -> str:
    """``<factory>`` defaults of a dataclass's fields as the calls that make them: ``dict()``."""
    if "<factory>" not in signature or not dataclasses.is_dataclass(obj):
        return signature
    for field in dataclasses.fields(obj):
        factory = field.default_factory
        if factory is not dataclasses.MISSING:
            name = getattr(factory, "__qualname__", "...")
            signature = re.sub(rf"(\b{field.name}: [^=]*= )<factory>", rf"\g<1>{name}()", signature)
    return signature


def _signature(app, what, name, obj, options, signature, return_annotation):
    if signature:
        signature = _factories(obj, signature)
    return rewrite(signature), rewrite(return_annotation)


def _bases(app, name, obj, options, bases: list) -> None:
    """The class's bases with each private one replaced by its own, and no bare ``object``."""
    bases[:] = [base for base in bases if base is not object]
    i = 0
    while i < len(bases):
        base = bases[i]
        if isinstance(base, type) and base.__name__.startswith("_"):
            bases[i:i + 1] = [b for b in base.__bases__ if b is not object and b not in bases]
        else:
            i += 1


def setup(app):
    app.connect("autodoc-process-signature", _signature)
    app.connect("autodoc-process-bases", _bases)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
