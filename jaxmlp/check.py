"""Compare any gradient function with ``jax.grad`` of the same loss, leaf by leaf.

The error of a leaf is ``max |g − g_ref|`` divided by the largest ``|g_ref|`` anywhere in the
pytree (a normwise relative error: entries that are zero in the reference do not blow it up). It
passes at ``1e-10`` in float64 and ``1e-5`` in float32 unless ``rtol`` says otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.backprop import loss as batch_loss
from jaxmlp.backprop import prepare
from jaxmlp.model import MLP, Params

__all__ = ["GradientReport", "LeafError", "check_gradients", "default_rtol"]


@dataclasses.dataclass(frozen=True)
class LeafError:
    """How far one gradient leaf is from ``jax.grad``'s."""

    path: str
    shape: tuple[int, ...]
    max_ref: float
    max_abs: float
    rel: float
    passed: bool


@dataclasses.dataclass(frozen=True)
class GradientReport:
    """The result of :func:`check_gradients`; ``str(report)`` is a table, ``report.passed`` the verdict."""

    leaves: tuple[LeafError, ...]
    rtol: float
    dtype: str

    @property
    def passed(self) -> bool:
        """Whether every leaf is within ``rtol``."""
        return all(leaf.passed for leaf in self.leaves)

    @property
    def max_rel(self) -> float:
        """The largest normwise relative error over all leaves."""
        return max((leaf.rel for leaf in self.leaves), default=0.0)

    @property
    def failures(self) -> tuple[LeafError, ...]:
        """The leaves that are out of tolerance."""
        return tuple(leaf for leaf in self.leaves if not leaf.passed)

    def __str__(self) -> str:
        head = ("leaf", "shape", "max |jax.grad|", "max |Δ|", "rel. error", "ok")
        rows = [
            (leaf.path, str(leaf.shape), f"{leaf.max_ref:.3e}", f"{leaf.max_abs:.3e}",
             f"{leaf.rel:.2e}", "yes" if leaf.passed else "NO")
            for leaf in self.leaves
        ]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
        lines += [fmt.format(*r) for r in rows]
        if self.passed:
            verdict = f"PASS: max rel. error {self.max_rel:.2e} ≤ {self.rtol:.0e}"
        else:
            verdict = (f"FAIL ({len(self.failures)} leaves out of tolerance): max rel. error "
                       f"{self.max_rel:.2e} > {self.rtol:.0e}")
        lines.append(f"{verdict} ({self.dtype})")
        return "\n".join(line.rstrip() for line in lines)


def default_rtol(dtype) -> float:
    """``1e-10`` for float64, ``1e-5`` for float32, ``1e-2`` for 16-bit floats."""
    bits = jnp.finfo(dtype).bits
    return 1e-10 if bits >= 64 else 1e-5 if bits >= 32 else 1e-2


def check_gradients(
    grad_fn: Callable[[Params, jax.Array, jax.Array], Params], model: MLP, params: Params,
    x: jax.Array, t: jax.Array, loss: str = "categorical_crossentropy", reduction: str = "mean",
    l2: float = 0.0, l1: float = 0.0, rtol: float | None = None,
) -> GradientReport:
    """Compare ``grad_fn(params, x, t)`` with ``jax.grad`` of :func:`jaxmlp.loss`.

    Arguments:
        grad_fn: the gradient to check; returns a pytree shaped like ``params``.
        model, params, x, t, loss, reduction, l2, l1: as for :func:`jaxmlp.loss`.
        rtol: tolerance of the normwise relative error (default by dtype, see :func:`default_rtol`).

    Raises ``ValueError`` when the result's structure or a leaf's shape differs from ``params``.

    >>> import jaxmlp
    >>> model = jaxmlp.MLP((3, 4, 2), ("tanh", "softmax"))
    >>> params = model.init(jax.random.key(0))
    >>> x, t = jnp.ones((5, 3)), jnp.array([0, 1, 1, 0, 1])
    >>> grad_fn = lambda p, x, t: jaxmlp.backprop(model, p, x, t)
    >>> check_gradients(grad_fn, model, params, x, t).passed
    True
    """
    prepare(model, params, x, t, loss, reduction, l2, l1)  # clear errors before anything else
    reference = jax.device_get(
        jax.grad(lambda p: batch_loss(model, p, x, t, loss, reduction, l2, l1))(params))
    got = grad_fn(params, x, t)
    ref_leaves, ref_tree = jax.tree_util.tree_flatten_with_path(reference)
    got_leaves, got_tree = jax.tree_util.tree_flatten_with_path(got)
    if got_tree != ref_tree:
        raise ValueError(
            f"grad_fn: returned a pytree of structure {got_tree}, expected {ref_tree} "
            "(a list with one dict per layer, keys as in params)"
        )
    dtype = jnp.result_type(ref_leaves[0][1])
    rtol = default_rtol(dtype) if rtol is None else float(rtol)
    scale = max((float(np.max(np.abs(leaf))) for _, leaf in ref_leaves if leaf.size), default=0.0) or 1.0
    rows = []
    for (path, ref), (_, mine) in zip(ref_leaves, got_leaves):
        name = jax.tree_util.keystr(path)
        if jnp.shape(mine) != ref.shape:
            raise ValueError(f"grad_fn: leaf {name} has shape {jnp.shape(mine)}, expected {ref.shape}")
        diff = np.abs(np.asarray(mine, np.float64) - np.asarray(ref, np.float64))
        max_abs = float(np.max(diff)) if diff.size else 0.0
        if not np.all(np.isfinite(np.asarray(mine))):
            max_abs = float("inf")
        rel = max_abs / scale
        max_ref = float(np.max(np.abs(ref))) if ref.size else 0.0
        rows.append(LeafError(name, tuple(ref.shape), max_ref, max_abs, rel, rel <= rtol))
    return GradientReport(tuple(rows), rtol, str(dtype))
