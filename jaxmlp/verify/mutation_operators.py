"""The mistakes students make in a derivation, as mutations of its syntax tree.

Each operator looks at one expression of a derivation file and returns the wrong versions a
student might have written in its place (:data:`OPERATORS`, one mutation per mutant):

* ``sign``: ``a − b`` → ``b − a`` and ``a + b``; ``a + b`` → ``a − b``; ``−a`` → ``a``;
* ``transpose``: ``a.T`` → ``a``; an operand ``a`` of ``@`` → ``a.T``;
* ``1/B``: ``a / B`` → ``a`` (missing) and ``a / B / B`` (extra), for a divisor that is a name,
  an attribute or a subscript (``B``, ``x.shape[0]``);
* ``sum/mean``: ``.sum`` ↔ ``.mean`` (``jnp.sum`` ↔ ``jnp.mean``, ``a.sum()`` ↔ ``a.mean()``);
* ``derivative``: a factor of a product dropped (``o * (1 - o)`` → ``o``), a power dropped
  (``h**2`` → ``h``);
* ``layer``: an integer subscript shifted by ±1 (``params[1]`` → ``params[0]``, ``params[2]``);
* ``axis``: ``axis=0`` ↔ ``axis=1`` (another axis → 0), and the ``axis`` keyword dropped;
* ``term``: a term of a sum dropped (``a + b`` → ``a``, ``b``; ``a − b`` → ``a``): a forgotten
  regularisation term;
* ``kink``: ``>`` ↔ ``>=``, ``<`` ↔ ``<=`` (the value at the kink);
* ``constant``: a number ``c`` → ``2c`` (``0`` → ``1``, ``0.0`` → ``1.0``);
* ``scatter``: ``.at[i].add(v)`` ↔ ``.at[i].set(v)`` (an embedding's gradient that keeps one
  of the rows of a repeated index instead of their sum);
* ``input``: the wrong input in a product: a name multiplied by ``@`` (or transposed for it)
  replaced by another name the derivation multiplies so (``δ.T @ x`` → ``δ.T @ h``: the weight
  gradient of the wrong layer's input). It depends on the file, so :func:`mutants` builds it.

:func:`mutants` applies every operator at every site of the functions a derivation consists of:
every top-level function except ``objective`` and ``sample`` (the truth it is checked against and
its problems); the module's settings (``model``, ``loss``, ``reduction``, constants) and its
``__main__`` block are left alone.
"""

from __future__ import annotations

import ast
import copy
import dataclasses

__all__ = ["OPERATORS", "UNMUTATED", "Mutant", "input_rule", "mutants"]

OPERATORS = ("sign", "transpose", "1/B", "sum/mean", "derivative", "layer", "axis", "term",
             "kink", "constant", "scatter", "input")
#: functions that are not part of the derivation: the objective and the problems it is judged on
UNMUTATED = ("objective", "sample")


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One wrong version of a derivation file.

    ``operator`` (one of :data:`OPERATORS`), the ``function`` and source ``line`` it changes,
    ``text`` the changed line as the student would have written it, ``source`` the whole file.
    """

    operator: str
    function: str
    line: int
    text: str
    source: str
    end_line: int = 0  #: the last line of the changed expression (``line`` when it is one line)


def mutants(source: str, rules: tuple = ()) -> list[Mutant]:
    """Every mutant of the derivation in ``source``, one mutation each, in source order.

    ``rules`` are ``(operator, rule)`` pairs applied after :data:`RULES` (the edits that undo a
    mistake, :mod:`jaxmlp.verify.fix_operators`).

    Mutants that read the same as an earlier one (or as the original) are left out.

    >>> found = mutants("def grads(w, x, t):\\n    return x.T @ (x @ w - t) / x.shape[0]\\n")
    >>> len(found), found[0].operator, found[0].text
    (14, '1/B', 'return x.T @ (x @ w - t)')
    >>> [m.text for m in found if m.operator == "sign"]
    ['return x.T @ (t - x @ w) / x.shape[0]', 'return x.T @ (x @ w + t) / x.shape[0]']
    """
    lines = source.splitlines()
    seen = {ast.unparse(ast.parse(source))}
    found = []
    rules = (*RULES, ("input", input_rule(_operands(ast.parse(source)))), *rules)
    for where in _sites(ast.parse(source), rules):
        tree = ast.parse(source)
        function, parent, field, index, old = _locate(tree, where)
        operator, new = _alternatives(old, parent, field, rules)[where[-1]]
        if index is None:
            setattr(parent, field, new)
        else:
            getattr(parent, field)[index] = new
        text = ast.unparse(tree)
        if text not in seen:
            seen.add(text)
            mutant = Mutant(operator, function.name, old.lineno, _line(lines, old, new), text,
                            old.end_lineno)
            found.append(((old.lineno, old.col_offset), mutant))
    return [mutant for _, mutant in sorted(found, key=lambda pair: pair[0])]


def _sites(tree, rules):
    """``(statement, node, field, index, alternative)`` of every mutation, in walk order."""
    for i, function in enumerate(tree.body):
        if not isinstance(function, ast.FunctionDef) or function.name in UNMUTATED:
            continue
        for k, parent in enumerate(ast.walk(function)):
            for field, index, child in _children(parent):
                for m in range(len(_alternatives(child, parent, field, rules))):
                    yield i, k, field, index, m


def _locate(tree, where):
    i, k, field, index, _ = where
    function = tree.body[i]
    parent = next(node for n, node in enumerate(ast.walk(function)) if n == k)
    value = getattr(parent, field)
    return function, parent, field, index, value if index is None else value[index]


def _children(node):
    for field, value in ast.iter_fields(node):
        if isinstance(value, ast.expr):
            yield field, None, value
        elif isinstance(value, list):
            yield from ((field, j, v) for j, v in enumerate(value) if isinstance(v, ast.expr))


def _alternatives(node, parent, field, rules) -> list[tuple[str, ast.expr]]:
    """Every ``(operator, replacement)`` of ``node`` (a child of ``parent`` in ``field``)."""
    if not isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
        return []  # an assignment's target
    found = []
    for operator, rule in rules:
        found += [(operator, new) for new in rule(node, parent, field)]
    return found


def _sign(node, parent, field):
    if _is(node, ast.BinOp, ast.Sub):
        return [_binop(node.right, ast.Sub(), node.left), _binop(node.left, ast.Add(), node.right)]
    if _is(node, ast.BinOp, ast.Add):
        return [_binop(node.left, ast.Sub(), node.right)]
    return [node.operand] if _is(node, ast.UnaryOp, ast.USub) else []


def _transpose(node, parent, field):
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return [node.value]
    if not _is(node, ast.BinOp, ast.MatMult):
        return []
    found = []
    for side in ("left", "right"):
        operand = getattr(node, side)
        if not (isinstance(operand, ast.Attribute) and operand.attr == "T"):
            new = copy.copy(node)
            setattr(new, side, ast.Attribute(operand, "T", ast.Load()))
            found.append(new)
    return found


def _one_over_b(node, parent, field):
    if _is(node, ast.BinOp, ast.Div) and isinstance(node.right, DIVISORS):
        return [node.left, _binop(node, ast.Div(), node.right)]
    return []


def _sum_mean(node, parent, field):
    swap = {"sum": "mean", "mean": "sum"}
    if isinstance(node, ast.Attribute) and node.attr in swap:
        return [ast.Attribute(node.value, swap[node.attr], ast.Load())]
    return []


def _derivative(node, parent, field):
    if _is(node, ast.BinOp, ast.Mult):
        return [node.left, node.right]
    return [node.left] if _is(node, ast.BinOp, ast.Pow) else []


def _layer(node, parent, field):
    if isinstance(node, ast.Subscript) and _is_int(node.slice):
        return [ast.Subscript(node.value, ast.Constant(node.slice.value + step), ast.Load())
                for step in (-1, 1)]
    return []


def _axis(node, parent, field):
    if not isinstance(node, ast.Call):
        return []
    found = []
    for j, keyword in enumerate(node.keywords):
        if keyword.arg == "axis" and _is_int(keyword.value):
            other = {0: 1, 1: 0}.get(keyword.value.value, 0)
            changed = [*node.keywords[:j], ast.keyword("axis", ast.Constant(other)),
                       *node.keywords[j + 1:]]
            dropped = node.keywords[:j] + node.keywords[j + 1:]
            found += [ast.Call(node.func, node.args, changed),
                      ast.Call(node.func, node.args, dropped)]
    return found


def _term(node, parent, field):
    if _is(node, ast.BinOp, ast.Add):
        return [node.left, node.right]
    return [node.left] if _is(node, ast.BinOp, ast.Sub) else []


def _kink(node, parent, field):
    if not isinstance(node, ast.Compare):
        return []
    swap = {ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt}
    found = []
    for j, op in enumerate(node.ops):
        if type(op) in swap:
            ops = [*node.ops[:j], swap[type(op)](), *node.ops[j + 1:]]
            found.append(ast.Compare(node.left, ops, node.comparators))
    return found


def _constant(node, parent, field):
    number = isinstance(node, ast.Constant) and type(node.value) in (int, float)
    if not number or isinstance(parent, ast.keyword) or (
            isinstance(parent, ast.Subscript) and field == "slice"):
        return []  # an axis or an index: their own operators
    return [ast.Constant(2 * node.value if node.value else type(node.value)(1))]


def _scatter(node, parent, field):
    swap = {"add": "set", "set": "add"}
    if isinstance(node, ast.Attribute) and node.attr in swap and isinstance(
            node.value, ast.Subscript) and isinstance(node.value.value, ast.Attribute) \
            and node.value.value.attr == "at":
        return [ast.Attribute(node.value, swap[node.attr], ast.Load())]
    return []


def input_rule(names):
    """The ``input`` operator over ``names``: an operand of ``@`` (or of its ``.T``) → another."""
    def rule(node, parent, field):
        product = _is(parent, ast.BinOp, ast.MatMult) or (
            isinstance(parent, ast.Attribute) and parent.attr == "T")
        if not (isinstance(node, ast.Name) and product):
            return []
        return [ast.Name(other, ast.Load()) for other in names if other != node.id]
    return rule


def _operands(tree) -> list[str]:
    """The names the derivation's functions multiply by ``@`` (or transpose), in order."""
    found = {}
    for function in tree.body:
        if isinstance(function, ast.FunctionDef) and function.name not in UNMUTATED:
            for node in ast.walk(function):
                if _is(node, ast.BinOp, ast.MatMult):
                    for side in (node.left, node.right):
                        side = side.value if isinstance(side, ast.Attribute) else side
                        if isinstance(side, ast.Name):
                            found.setdefault(side.id)
    return list(found)


RULES = tuple(zip(OPERATORS, (_sign, _transpose, _one_over_b, _sum_mean, _derivative, _layer,
                              _axis, _term, _kink, _constant, _scatter)))
DIVISORS = (ast.Name, ast.Attribute, ast.Subscript)


def _is(node, kind, op) -> bool:
    return isinstance(node, kind) and isinstance(node.op, op)


def _is_int(node) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _binop(left, op, right):
    return ast.BinOp(left, op, right)


def _line(lines, old, new) -> str:
    """The source line of ``old`` with ``new`` in its place (offsets count UTF-8 bytes)."""
    if old.lineno != old.end_lineno:
        return ast.unparse(new)
    raw = lines[old.lineno - 1].encode()
    text = raw[:old.col_offset] + ast.unparse(new).encode() + raw[old.end_col_offset:]
    return text.decode().strip()
