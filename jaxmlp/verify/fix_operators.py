"""The edits that undo a student's mistake: the mutation operators run backwards.

:mod:`jaxmlp.verify.mutation_operators` turns a right derivation into the wrong ones students
write. Most of its operators are their own inverses (a sign, a transpose, sum ↔ mean, a layer
index ±1, the axis 0 ↔ 1, the kink's comparison); the others lose something that this table puts
back, as far as the file itself says what it was:

* ``1/B``: a forgotten batch average, ``a`` → ``a / B``, for every divisor the file already
  divides by (``B``, ``n``) and ``x.shape[0]``, at the right-hand side of an assignment or a
  returned value;
* ``derivative``: ``1 − h`` → ``1 − h²`` (tanh′ = 1 − h²) and → ``h (1 − h)`` (σ′ = σ(1 − σ)),
  a name ``o`` → ``o (1 − o)`` (σ for σ′), and a forgotten activation derivative put back: a
  right-hand side ``a`` → ``a ⊙ (1 − h²)`` or ``a ⊙ h (1 − h)`` for each name ``h`` the
  derivation assigns (``δ2 = δ3 @ w3`` → ``δ2 = (δ3 @ w3) * (1 - h2 ** 2)``);
* ``axis``: an ``axis=0`` or ``axis=1`` added to a ``sum`` or ``mean`` that has none;
* ``sign``: a negation added to a right-hand side, to a function's argument or to a name in an
  operation, ``a`` → ``−a`` (``jnp.exp(u)`` → ``jnp.exp(-u)``);
* ``constant``: a number ``c`` → ``c / 2`` (a factor 2 too many) and ``1`` → ``0``;
* ``input``: an operand of ``@`` replaced by any name the derivation assigns (the right input
  may no longer be multiplied anywhere in the wrong file);
* ``term``: a dropped term put back where it is a name the derivation assigns or takes: a
  right-hand side ``a`` → ``a + b`` and ``a − b`` (``u = x @ w.T`` → ``u = x @ w.T + b``,
  ``δ = o`` → ``δ = o − t``).

:data:`WHY` says what each edit means, in the lecture's words, for ``jaxmlp verify --suggest``
(:mod:`jaxmlp.verify.suggest`).
"""

from __future__ import annotations

import ast

from jaxmlp.verify.mutation_operators import input_rule

__all__ = ["FIXES", "WHY", "arguments", "assigned", "divisors", "fixes"]

#: what an edit of each operator means, as a suggestion states it
WHY = {
    "sign": "the sign: E = ½ Σ (o − t)² gives ∂E/∂o = o − t, and Δw = −η ∂E/∂w",
    "transpose": "a transpose: w is (fan_out, fan_in), so δ_prev = wᵀ δ and ∂E/∂w = δ oᵀ",
    "1/B": "the batch average: a mean over B rows divides every gradient by B",
    "sum/mean": "the reduction: the batch's sum or its mean, as the objective takes it",
    "derivative": "the activation's derivative: σ′ = σ (1 − σ), tanh′ = 1 − h²",
    "layer": "the layer index: δ_l comes from w_{l+1} and the output of layer l − 1",
    "axis": "the axis: rows are examples (axis 0), columns are units (axis 1)",
    "term": "a term of the chain rule: every path from the parameter to E adds one",
    "kink": "the value at the kink: use the forward's own comparison",
    "constant": "a constant factor (a ½ that cancels a square's 2, or a rate)",
    "scatter": "a scatter: rows of a repeated index add up (.at[i].add), never replace",
    "input": "the product's input: ∂E/∂w_l = δ_l o_{l−1}ᵀ takes the output of the layer below",
}


def divisors(tree: ast.AST) -> list[ast.expr]:
    """The expressions the file divides by (``a / B``), and ``x.shape[0]``: the candidates for a
    batch size."""
    found = {"x.shape[0]": ast.parse("x.shape[0]", mode="eval").body}
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(
                node.right, ast.Name | ast.Attribute | ast.Subscript):
            found.setdefault(ast.unparse(node.right), node.right)
    return list(found.values())


def assigned(tree: ast.AST) -> list[str]:
    """The names the derivation's functions assign (the forward's outputs among them)."""
    found = {}
    for function in getattr(tree, "body", []):
        if isinstance(function, ast.FunctionDef) and function.name not in ("objective", "sample"):
            for node in ast.walk(function):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    found.setdefault(node.id)
    return list(found)


def arguments(tree: ast.AST) -> list[str]:
    """The parameters of the derivation's functions (``params``, ``x``, ``t``)."""
    found = {}
    for function in getattr(tree, "body", []):
        if isinstance(function, ast.FunctionDef) and function.name not in ("objective", "sample"):
            found.update(dict.fromkeys(a.arg for a in function.args.args))
    return list(found)


def _forgotten(names):
    def rule(node, parent, field):
        if not (isinstance(parent, ast.Assign) and field == "value") or isinstance(
                node, ast.Constant | ast.Tuple | ast.Call):
            return []
        targets = {t.id for t in parent.targets if isinstance(t, ast.Name)}
        found = []
        for name in names:
            if name in targets:
                continue
            h = ast.Name(name, ast.Load())
            tanh = ast.BinOp(ast.Constant(1), ast.Sub(), ast.BinOp(h, ast.Pow(), ast.Constant(2)))
            sigmoid = ast.BinOp(h, ast.Mult(), ast.BinOp(ast.Constant(1), ast.Sub(), h))
            found += [ast.BinOp(node, ast.Mult(), factor) for factor in (tanh, sigmoid)]
        return found
    return rule


def _dropped(names):
    def rule(node, parent, field):
        if not (isinstance(parent, ast.Assign) and field == "value") or isinstance(
                node, ast.Tuple | ast.Constant):
            return []
        targets = {t.id for t in parent.targets if isinstance(t, ast.Name)}
        return [ast.BinOp(node, op(), ast.Name(name, ast.Load()))
                for name in names if name not in targets for op in (ast.Add, ast.Sub)]
    return rule


def _average(divisors_of):
    def rule(node, parent, field):
        whole = (isinstance(parent, ast.Assign) and field == "value") or isinstance(
            parent, ast.Return | ast.Dict | ast.List | ast.Tuple)
        if not whole or isinstance(node, ast.Constant):
            return []
        return [ast.BinOp(node, ast.Div(), divisor) for divisor in divisors_of()]
    return rule


def _derivative(node, parent, field):
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and _is_one(node.left) \
            and isinstance(node.right, ast.Name | ast.Attribute | ast.Subscript):
        h = node.right
        return [ast.BinOp(node.left, ast.Sub(), ast.BinOp(h, ast.Pow(), ast.Constant(2))),
                ast.BinOp(h, ast.Mult(), node)]
    if isinstance(node, ast.Name) and isinstance(parent, ast.BinOp) and isinstance(
            parent.op, ast.Mult):
        one_minus = ast.BinOp(ast.Constant(1), ast.Sub(), ast.Name(node.id, ast.Load()))
        return [ast.BinOp(node, ast.Mult(), one_minus)]
    return []


def _axis(node, parent, field):
    reducing = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and node.func.attr in ("sum", "mean")
    if not reducing or any(k.arg == "axis" for k in node.keywords):
        return []
    return [ast.Call(node.func, node.args, [*node.keywords, ast.keyword("axis", ast.Constant(a))])
            for a in (0, 1)]


def _sign(node, parent, field):
    whole = (isinstance(parent, ast.Assign) and field == "value") or isinstance(
        parent, ast.Return | ast.Dict | ast.List)
    operand = (isinstance(node, ast.Name) and isinstance(parent, ast.BinOp)) or (
        isinstance(parent, ast.Call) and field == "args")
    if not (whole or operand) or isinstance(node, ast.UnaryOp):
        return []
    return [ast.UnaryOp(ast.USub(), node)]


def _constant(node, parent, field):
    number = isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value
    if not number or isinstance(parent, ast.keyword) or (
            isinstance(parent, ast.Subscript) and field == "slice"):
        return []
    half = node.value // 2 if type(node.value) is int and node.value % 2 == 0 else node.value / 2
    found = [ast.Constant(half)]
    return found + ([ast.Constant(0)] if node.value == 1 else [])


def _is_one(node) -> bool:
    return isinstance(node, ast.Constant) and node.value == 1


def fixes(source: str) -> tuple:
    """The rules of this module for ``source`` (its divisors read from it), as ``(operator,
    rule)`` pairs for :func:`jaxmlp.verify.mutation_operators.mutants`."""
    tree = ast.parse(source)
    found, names = divisors(tree), assigned(tree)
    return (("1/B", _average(lambda: found)), ("derivative", _derivative),
            ("derivative", _forgotten(names)), ("axis", _axis), ("sign", _sign),
            ("constant", _constant), ("input", input_rule(names + arguments(tree))),
            ("term", _dropped(names + arguments(tree))))


#: the operators this module adds to
FIXES = ("1/B", "derivative", "axis", "sign", "constant", "input", "term")
