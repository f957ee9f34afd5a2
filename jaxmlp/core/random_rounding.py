"""How far a computation's own rounding can move its result: Monte Carlo arithmetic on a jaxpr.

A right derivation and ``jax.grad`` compute the same mathematical function by different sequences
of floating-point operations, so they differ by rounding, and at some points (a saturated tanh,
whose ``1 − h²`` is a difference of two numbers near 1) that rounding is a large part of the
result. Whether a discrepancy *is* rounding is a question about each side's computation, and it
can be answered by measurement, as Monte Carlo arithmetic does it (Parker 1997; the tools CADNA
and Verificarlo): run the computation again with every floating-point operation's result
perturbed by a random relative error of one machine epsilon, ``r ← r (1 + ε ξ)`` with
``ξ ~ U(−1, 1)``, and see how far the result moves. Every decision (a comparison, an argmax) is
taken on the unperturbed values, so the perturbed runs follow the same branches: at a kink (a
margin exactly 0) a flipped comparison would measure the kink's convention, not rounding. An
entry that moves by ``s`` under such perturbations is known to about ``s``; an entry that does not
move is known to all its digits.

:func:`rounding_spread` traces a function to its jaxpr (``jax.make_jaxpr``), evaluates it with
each floating-point equation's result perturbed, ``samples`` times (``jax.vmap`` over the
perturbations' keys, one compiled program), and returns, per output entry, the range of the
perturbed results: ``max − min`` over the samples. The equations inside ``jit`` and ``custom_jvp``
/ ``custom_vjp`` calls are perturbed one by one; loops and conditionals (``scan``, ``while``,
``cond``) as a whole, on their results. The operands of a sum (``reduce_sum``, ``dot_general``,
``cumsum``, a convolution, a scatter-add) are perturbed as well as its result, which stands for the
rounding of its partial sums: a sum whose terms cancel is known only to about ε times its largest
term, whatever its total. Operations that round nothing are left exact: data
movement (reshape, transpose, slice, gather, select, concatenate, pad), negation, absolute
value, maximum, minimum and comparisons.

It is the rounding evidence of :func:`jaxmlp.tolerance.compare` for any function (its
``noise`` rule): a hand gradient and ``jax.grad`` that differ by less than a few times the sum of
their spreads differ by rounding, which every right implementation has.

>>> import jax.numpy as jnp
>>> f = lambda h: 1 - h**2                 # tanh′ at a saturated unit: all digits cancel
>>> h = jnp.float32(0.9999)
>>> spread = rounding_spread(f, h)
>>> bool(spread > 1e-4 * f(h))             # known to a few digits only
True
>>> bool(rounding_spread(lambda v: -v, h) == 0)  # exact: no spread
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.extend.core import ClosedJaxpr, Jaxpr, Literal

__all__ = ["EAGER", "EXACT", "SAMPLES", "SUMS", "rounding_spread"]

SAMPLES = 8  #: perturbed evaluations per measurement
EAGER = 2  #: calls of a function measured op by op before it is compiled
#: primitives whose float results are exact: they move, select or negate values, never round
EXACT = frozenset({
    "reshape", "broadcast_in_dim", "transpose", "squeeze", "expand_dims", "slice",
    "dynamic_slice", "dynamic_update_slice", "gather", "concatenate", "pad", "rev", "select_n",
    "neg", "abs", "max", "min", "reduce_max", "reduce_min", "argmax", "argmin", "sign", "copy",
    "copy_p", "stop_gradient", "floor", "ceil", "round", "clamp", "sort", "iota", "scatter",
    "device_put", "real", "imag", "conj", "optimization_barrier",
})
#: primitives that add many terms: their operands are perturbed too, for the partial sums' rounding
SUMS = frozenset({"reduce_sum", "dot_general", "cumsum", "conv_general_dilated", "scatter-add",
                  "scatter_add"})
#: the parameter holding the body of a call-like primitive, whose equations are perturbed one by one
_BODIES = ("jaxpr", "call_jaxpr", "fun_jaxpr")
_CALLS = frozenset({"pjit", "jit", "closed_call", "core_call", "custom_jvp_call",
                    "custom_vjp_call", "custom_vjp_call_jaxpr", "remat", "checkpoint"})


def rounding_spread(fn: Callable, *args, samples: int = SAMPLES, seed: int = 0):
    """Per output entry, ``max − min`` of ``fn(*args)`` over ``samples`` randomly rounded runs.

    Arguments:
        fn: a JAX-traceable function of ``args`` (any pytrees of arrays).
        args: its arguments; their float dtype sets the epsilon of the perturbations.
        samples: how many perturbed evaluations.
        seed: the seed of the perturbations.

    Returns a pytree shaped like ``fn(*args)``: the spread of each float entry (0 for other
    dtypes). Raises whatever tracing ``fn`` raises (a function that is not traceable has no
    jaxpr to perturb).
    """
    flat, tree = jax.tree.flatten(args)
    return _program(fn, tree, samples)(jax.random.key(seed), *flat)


class _Measurement:
    """The measurement of one function: op by op for its first :data:`EAGER` calls (each
    primitive compiled once per shape for every function: a function met once, a mutant or an
    edit, costs no compilation of its own), then as one compiled program (a function measured
    again and again, in a search, pays one compilation per shape)."""

    def __init__(self, eager, compiled):
        self.eager, self.compiled, self.calls = eager, jax.jit(compiled), 0

    def __call__(self, *args):
        self.calls += 1
        return self.eager(*args) if self.calls <= EAGER else self.compiled(*args)


@functools.lru_cache(maxsize=16)
def _program(fn: Callable, tree, samples: int) -> _Measurement:
    """The measurement of ``fn``, kept for the function's next calls."""
    return _Measurement(_spread(fn, tree, samples, eager=True),
                        _spread(fn, tree, samples, eager=False))


def _spread(fn, tree, samples, eager: bool):
    """``spread(key, *flat)``: the ranges of ``fn``'s outputs over ``samples`` perturbed runs.

    Op by op (``eager``), each value draws its own ``ξ`` (a generator per shape, compiled once
    for every function); compiled, every ``ξ`` is drawn at once and sliced (one generator in the
    program: XLA compiles many slowly)."""
    def spread(key, *flat):
        args = jax.tree.unflatten(tree, flat)
        closed, shape = jax.make_jaxpr(fn, return_shape=True)(*args)
        leaves = jax.tree.leaves(args)
        size = _count(closed.jaxpr)

        def one(k):
            xi = _Xi(k) if eager else _Xi(k, jax.random.uniform(k, (size,), jnp.float32, -1, 1))
            return [p for _, p in _evaluate(closed.jaxpr, closed.consts, leaves, xi)]

        runs = jax.vmap(one)(jax.random.split(key, samples))
        ranges = [jnp.max(r, 0) - jnp.min(r, 0) if jnp.issubdtype(r.dtype, jnp.floating)
                  else jnp.zeros(r.shape[1:]) for r in runs]
        return jax.tree.unflatten(jax.tree.structure(shape), ranges)

    return spread


class _Xi:
    """The perturbations ``ξ``, handed out in order: each perturbed value takes the next ones,
    sliced from ``flat`` (all drawn at once) or drawn for it from ``key``."""

    def __init__(self, key, flat=None):
        self.key, self.flat, self.used = key, flat, 0

    def perturbed(self, value):
        """``value (1 + ε ξ)`` for a float array, a ``ξ`` per entry; other values as they are."""
        dtype = jnp.result_type(value)
        if not jnp.issubdtype(dtype, jnp.floating):
            return value
        shape = jnp.shape(value)
        size = math.prod(shape)
        if self.flat is None:
            key = jax.random.fold_in(self.key, self.used)
            xi = jax.random.uniform(key, shape, jnp.float32, -1, 1).astype(dtype)
        else:
            xi = self.flat[self.used:self.used + size].reshape(shape).astype(dtype)
        self.used += size
        return value * (1 + jnp.finfo(dtype).eps * xi)


def _evaluate(jaxpr: Jaxpr, consts, args, xi: _Xi):
    """``jaxpr`` on ``args`` with every rounding equation's float values perturbed.

    Every value is a pair ``(exact, perturbed)``; a decision (a comparison, an ``argmax``: any
    result that is not a float) is taken on the exact values, so that the perturbed run follows
    the exact run's branches. A comparison at an exact tie (a kink) would otherwise flip under
    the perturbation, and its spread would be the kink's convention, not rounding.
    """
    env = {}

    def read(v):
        return (v.val, v.val) if isinstance(v, Literal) else env[v]

    for var, value in zip(jaxpr.constvars, consts):
        env[var] = (value, value)
    for var, value in zip(jaxpr.invars, args):
        env[var] = value if isinstance(value, tuple) else (value, value)
    for eqn in jaxpr.eqns:
        values = [read(v) for v in eqn.invars]
        body = _body(eqn)
        if body is not None:
            outs = _evaluate(body[0], body[1], values, xi)
        else:
            exact = _listed(eqn, _bind(eqn, [e for e, _ in values]))
            noisy = [p for _, p in values]
            if eqn.primitive.name in SUMS:  # each summand's rounding, not only the total's
                noisy = [xi.perturbed(value) for value in noisy]
            noisy = _listed(eqn, _bind(eqn, noisy))
            if eqn.primitive.name not in EXACT:
                noisy = [xi.perturbed(out) for out in noisy]
            outs = [(e, p if _is_float(e) else e) for e, p in zip(exact, noisy)]
        for var, value in zip(eqn.outvars, outs):
            env[var] = value
    return [read(v) for v in jaxpr.outvars]


def _listed(eqn, outs) -> list:
    return list(outs) if eqn.primitive.multiple_results else [outs]


def _is_float(value) -> bool:
    return jnp.issubdtype(jnp.result_type(value), jnp.floating)


def _count(jaxpr: Jaxpr) -> int:
    """How many ``ξ`` :func:`_evaluate` takes on ``jaxpr``: the same decisions, on the types."""
    def floats(variables):
        return sum(math.prod(v.aval.shape) for v in variables
                   if jnp.issubdtype(v.aval.dtype, jnp.floating))

    count = 0
    for eqn in jaxpr.eqns:
        body = _body(eqn)
        if body is not None:
            count += _count(body[0])
            continue
        count += floats(eqn.invars) if eqn.primitive.name in SUMS else 0
        count += floats(eqn.outvars) if eqn.primitive.name not in EXACT else 0
    return count


def _bind(eqn, values):
    """The equation's primitive applied to ``values``, as ``jax.core.eval_jaxpr`` applies it."""
    params = eqn.primitive.get_bind_params(eqn.params)
    subfuns = []
    if isinstance(params, tuple):  # (subfuns, params) before JAX 0.9
        subfuns, params = params
    return eqn.primitive.bind(*subfuns, *values, **params)


def _body(eqn):
    """``(jaxpr, consts)`` of a call-like equation's body, or ``None``."""
    if eqn.primitive.name not in _CALLS:
        return None
    for name in _BODIES:
        body = eqn.params.get(name)
        if isinstance(body, ClosedJaxpr):
            return body.jaxpr, body.consts
        if isinstance(body, Jaxpr) and not body.constvars:
            return body, []
    return None
