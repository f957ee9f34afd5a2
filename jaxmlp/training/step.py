"""One Optax update of one model: the hand-written δ rule (or ``jax.grad``) handed to an optimizer.

:class:`Config` holds everything static about the update (a ``jax.jit`` static argument);
:func:`step` is the update itself, the one function every compiled epoch, the replay and
:func:`make_train_step` run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxmlp.core.backprop import loss_and_grads, objective_and_output
from jaxmlp.core.checks import check_model, check_reduction, prepare
from jaxmlp.core.losses import get_loss
from jaxmlp.core.model import MLP, Params
from jaxmlp.core.values import check_rate
from jaxmlp.parallel.devices import batch_sharding, make_mesh
from jaxmlp.training.optimizers import get_optimizer

__all__ = ["GRADS", "Config", "count_correct", "make_config", "make_train_step", "step"]

Array = jax.Array
GRADS = ("backprop", "autodiff")


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything static about one model's update (hashable: a jit static argument)."""

    model: MLP
    loss: str
    optimizer: Any
    grad: str
    reduction: str
    l2: float
    l1: float


def make_config(model, loss, optimizer, grad, reduction, l2, l1) -> Config:
    """The checked :class:`Config` of a run (errors name the argument)."""
    check_model(model)
    get_loss(loss)
    if grad not in GRADS:
        raise ValueError(f"grad: expected one of {GRADS}, got {grad!r}")
    check_reduction(reduction)
    l2, l1 = check_rate("l2", l2), check_rate("l1", l1)
    return Config(model, loss, get_optimizer(optimizer), grad, reduction, l2, l1)


def step(c: Config, params, opt_state, x, t, weights=None):
    """One update on the batch ``(x, t)``: ``(params, opt_state, E, outputs)``.

    ``weights`` (optional, ``(B,)`` of 0 and 1) counts only the rows of weight 1: the update is
    the one a batch of those rows alone would give (a padded batch of unequal folds).
    """
    if c.grad == "backprop":
        (value, out), grads = loss_and_grads(c.model, c.loss, c.reduction, params, x, t, c.l2, c.l1,
                                             weights)
    else:
        (value, out), grads = jax.value_and_grad(objective_and_output, argnums=3, has_aux=True)(
            c.model, c.loss, c.reduction, params, x, t, c.l2, c.l1, weights)
    updates, opt_state = c.optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value, out


def count_correct(out, t, weights=None):
    """How many rows the outputs classify right (a 0.5 threshold for one output column); with
    ``weights`` (``(B,)`` of 0 and 1), how many of the rows of weight 1."""
    if out.shape[-1] == 1:
        right = (out[:, 0] > 0.5) == (t[:, 0] > 0.5)
    else:
        right = jnp.argmax(out, axis=-1) == jnp.argmax(t, axis=-1)
    if weights is not None:
        right = right & (weights > 0)
    return jnp.sum(right, dtype=jnp.int32)


def make_train_step(
    model: MLP, loss: str = "categorical_crossentropy",
    optimizer: str | optax.GradientTransformation = "adam", grad: str = "backprop",
    reduction: str = "mean", l2: float = 0.0, l1: float = 0.0, mesh: Any = None,
) -> Callable[[Params, Any, tuple[Array, Array]], tuple[Params, Any, dict[str, Array]]]:
    """A pure, jitted ``step(params, opt_state, (x, t)) -> (params, opt_state, {"loss": E})``.

    ``x`` is ``(B, n_in)`` and ``t`` integer labels ``(B,)`` or targets ``(B, n_out)``, checked and
    one-hot encoded as :func:`jaxmlp.fit` does, outside the compiled function (``step.jitted`` is
    the bare compiled step, for prepared targets inside your own ``jit``); ``grad`` picks the
    hand-written δ rule (``"backprop"``) or ``jax.grad`` (``"autodiff"``). Initialise the optimizer
    state with ``get_optimizer(optimizer).init(params)``. With a ``mesh`` (see
    :mod:`jaxmlp.parallel`) the batch rows are split over its ``"data"`` axis and the parameters
    replicated: data-parallel training, also across hosts with global batches.

    >>> import jax, jax.numpy as jnp, optax
    >>> model = MLP((2, 3, 1), ("tanh", "sigmoid"))
    >>> params = model.init(jax.random.key(0))
    >>> step = make_train_step(model, "binary_crossentropy", optax.sgd(0.1))
    >>> batch = (jnp.ones((4, 2)), jnp.ones((4, 1)))
    >>> params, state, metrics = step(params, optax.sgd(0.1).init(params), batch)
    >>> metrics["loss"].shape
    ()
    """
    config = make_config(model, loss, optimizer, grad, reduction, l2, l1)
    mesh = make_mesh(None, mesh)
    states: dict = {}  # the optimizer state's structure for each parameter structure seen

    @jax.jit
    def jitted(params, opt_state, batch):
        x, t = (split_rows(a, mesh) for a in batch)
        params, opt_state, value, _ = step(config, params, opt_state, x, t)
        return params, opt_state, {"loss": value}

    def checked_step(params, opt_state, batch):
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError(f"batch: expected a pair (x, t), got {type(batch).__name__}")
        names = ("batch[0] (x)", "batch[1] (t)")
        x, t = prepare(model, params, *batch, loss, reduction, l2, l1, names=names)
        shapes = jax.tree.structure(params), tuple(jnp.shape(v) for v in jax.tree.leaves(params))
        want = states.setdefault(
            shapes, jax.tree.structure(jax.eval_shape(config.optimizer.init, params)))
        if jax.tree.structure(opt_state) != want:
            raise TypeError(f"opt_state: expected the state of this step's optimizer, "
                            f"optimizer.init(params) ({want}), got {jax.tree.structure(opt_state)}")
        return jitted(params, opt_state, (x, t))

    checked_step.jitted = jitted  # the bare compiled step: no checks, for use inside your own jit
    return checked_step


def split_rows(a, mesh):
    """Split a batch's rows over the mesh's devices (when they divide evenly)."""
    if mesh is None or a.shape[0] % mesh.size:
        return a
    return jax.lax.with_sharding_constraint(a, batch_sharding(mesh))
