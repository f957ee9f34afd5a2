"""Deck 003 (NN スクラッチ): backprop as a Δ flowing backwards through the computation graph.

The network of the deck, with samples as rows (``X`` is B × n_in, ``W`` is n_in × n_out)::

    A = X · W + B,   Z = tanh(A)          each hidden layer (affine + tanh)
    A = Z · W + B,   ŷ = softmax(A)       the output layer
    L = −(1/B) Σ_n Σ_c y_nc log ŷ_nc      cross-entropy, averaged over the batch

Backwards, the Δ (the upstream gradient) meets each node of the forward graph in reverse order
(deck 003, 計算グラフでデルタを追う):

* **dot** ``X · W``: multiply Δ by the other operand of the forward product (transposed):
  ``∂L/∂X = Δ · Wᵀ``, ``∂L/∂W = Xᵀ · Δ`` (:class:`Dot`);
* **add** ``A + B``: Δ passes through unchanged; the bias was broadcast over the batch, so its
  gradient is Δ summed over the batch (:class:`Add`);
* **activation** ``tanh``: the Hadamard product with its derivative, ``Δ ⊙ (1 − tanh²(A))``
  (:class:`Tanh`);
* **softmax with cross-entropy**: softmax is the canonical link of the cross-entropy, so the Δ
  that starts the backward pass is ``(ŷ − y)/B`` (the deck's ŷ − y, over the batch mean)
  (:class:`SoftmaxCrossEntropy`). :func:`general_output_delta` checks it against the general rule:
  the softmax Jacobian ``∂ŷ_i/∂a_j = ŷ_i (δ_ij − ŷ_j)`` times ``∂L/∂ŷ = −y/(B ŷ)``.

In jaxmlp this is ``MLP((n_in, *hidden, n_out), ("tanh", …, "softmax"))`` with loss
``"categorical_crossentropy"`` and reduction ``"mean"``; the deck's ``W`` is jaxmlp's ``w``
transposed (:func:`to_deck`, :func:`from_deck`), and targets are one-hot rows.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import jaxmlp
from jaxmlp.verify import Check, check_close, check_grads, random_problem

__all__ = ["Add", "Dot", "SoftmaxCrossEntropy", "Tanh", "backprop_graph", "checks", "from_deck",
           "general_output_delta", "grads", "to_deck"]

Array = jax.Array
Layers = list[dict[str, Array]]


class Dot:
    """``Z = X · W``; backwards, Δ is multiplied by the other operand: ``(Δ · Wᵀ, Xᵀ · Δ)``."""

    def forward(self, X: Array, W: Array) -> Array:
        self.X, self.W = X, W
        return X @ W

    def backward(self, Δ: Array) -> tuple[Array, Array]:
        return Δ @ self.W.T, self.X.T @ Δ


class Add:
    """``A + B`` with the bias row ``B`` broadcast over the batch; backwards ``(Δ, Σ_batch Δ)``."""

    def forward(self, A: Array, B: Array) -> Array:
        return A + B[None, :]

    def backward(self, Δ: Array) -> tuple[Array, Array]:
        return Δ, jnp.sum(Δ, axis=0)


class Tanh:
    """``Z = tanh(A)``; backwards the Hadamard product ``Δ ⊙ (1 − Z²)``."""

    def forward(self, A: Array) -> Array:
        self.Z = jnp.tanh(A)
        return self.Z

    def backward(self, Δ: Array) -> Array:
        return Δ * (1 - self.Z**2)


class SoftmaxCrossEntropy:
    """``ŷ = softmax(A)``, ``L = −(1/B) Σ y log ŷ``; backwards the canonical ``(ŷ − y)/B``."""

    def forward(self, A: Array, Y: Array) -> Array:
        log_ŷ = A - jax.nn.logsumexp(A, axis=1, keepdims=True)   # log softmax, computed stably
        self.ŷ, self.Y = jnp.exp(log_ŷ), Y
        return -jnp.sum(Y * log_ŷ) / A.shape[0]

    def backward(self) -> Array:
        return (self.ŷ - self.Y) / self.Y.shape[0]


def backprop_graph(params: Layers, X: Array, Y: Array) -> tuple[Array, Layers]:
    """``(L, [{"W": ∂L/∂W, "B": ∂L/∂B}, …])``: forward through the nodes, then Δ back through them.

    Arguments:
        params: the deck's layers ``[{"W": (n_in, n_out), "B": (n_out,)}, …]``.
        X: inputs ``(B, n_in)``; Y: one-hot targets ``(B, n_out)``.
    """
    nodes, Z = [], X
    for layer in params[:-1]:
        dot, add, tanh = Dot(), Add(), Tanh()
        Z = tanh.forward(add.forward(dot.forward(Z, layer["W"]), layer["B"]))
        nodes.append((dot, add, tanh))
    dot, add, head = Dot(), Add(), SoftmaxCrossEntropy()
    L = head.forward(add.forward(dot.forward(Z, params[-1]["W"]), params[-1]["B"]), Y)
    nodes.append((dot, add, None))

    Δ, grads = head.backward(), []
    for dot, add, tanh in reversed(nodes):
        if tanh is not None:
            Δ = tanh.backward(Δ)
        Δ, dB = add.backward(Δ)
        Δ, dW = dot.backward(Δ)
        grads.append({"W": dW, "B": dB})
    return L, grads[::-1]


def general_output_delta(A: Array, Y: Array) -> Array:
    """``∂L/∂A`` by the general rule: the softmax Jacobian times ``∂L/∂ŷ`` (no shortcut).

    ``∂L/∂a_j = Σ_i ∂L/∂ŷ_i · ∂ŷ_i/∂a_j`` with ``∂ŷ_i/∂a_j = ŷ_i (δ_ij − ŷ_j)`` and
    ``∂L/∂ŷ_i = −y_i / (B ŷ_i)``; it equals :meth:`SoftmaxCrossEntropy.backward`'s ``(ŷ − y)/B``.
    """
    ŷ = jax.nn.softmax(A, axis=1)
    dL_dŷ = -Y / (A.shape[0] * ŷ)
    eye = jnp.eye(A.shape[1], dtype=A.dtype)
    J = ŷ[:, :, None] * (eye[None] - ŷ[:, None, :])               # J[n, i, j] = ∂ŷ_i/∂a_j
    return jnp.einsum("ni,nij->nj", dL_dŷ, J)


def to_deck(params: Layers) -> Layers:
    """jaxmlp's ``{"w": (n_out, n_in), "b"}`` → the deck's ``{"W": (n_in, n_out), "B"}``."""
    return [{"W": layer["w"].T, "B": layer["b"]} for layer in params]


def from_deck(params: Layers) -> Layers:
    """The deck's ``{"W", "B"}`` → jaxmlp's ``{"w": Wᵀ, "b": B}``."""
    return [{"w": layer["W"].T, "b": layer["B"]} for layer in params]


def grads(params: Layers, x: Array, t: Array) -> Layers:
    """:func:`backprop_graph` in jaxmlp's layout, ready for :func:`jaxmlp.check_gradients`."""
    return from_deck(backprop_graph(to_deck(params), x, t)[1])


def checks(seed: int = 0) -> list[Check]:
    """The graph against ``jax.grad``, and ``(ŷ − y)/B`` against the general rule."""
    model = jaxmlp.MLP((5, 4, 4, 3), ("tanh", "tanh", "softmax"))
    params, x, t = random_problem(model, "categorical_crossentropy", seed, batch=8)
    out = [check_grads("deck 003 Δ through dot/add/tanh/softmax nodes", grads, model, params, x, t,
                       "categorical_crossentropy", "mean")]

    def shortcut_and_rule(A, Y):
        node = SoftmaxCrossEntropy()
        node.forward(A, Y)
        return node.backward(), general_output_delta(A, Y)

    A = 3 * x[:, :3]
    out.append(check_close("deck 003 (ŷ − y)/B", "= softmax Jacobian · ∂L/∂ŷ",
                           *jax.jit(shortcut_and_rule)(A, t)))
    return out
