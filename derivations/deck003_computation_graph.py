"""Deck 003 (NN スクラッチ): backprop as a Δ flowing backwards through the computation graph.

The network of the deck, with samples as rows (``X`` is nb × n_in, ``W`` is n_in × n_out)::

    A = X · W + B,   Z = tanh(A)          each hidden layer (affine + tanh)
    A = Z · W + B,   ŷ = softmax(A)       the output layer
    L = −(1/nb) Σ_n Σ_c y_nc log ŷ_nc     cross-entropy, averaged over the batch of nb rows

Backwards, the Δ (the upstream gradient) meets each node of the forward graph in reverse order
(deck 003, 計算グラフでデルタを追う):

* **dot** ``X · W``: multiply Δ by the other operand of the forward product (transposed):
  ``∂L/∂X = Δ · Wᵀ``, ``∂L/∂W = Xᵀ · Δ`` (:class:`Dot`);
* **add** ``A + B``: Δ passes through unchanged; the bias was broadcast over the batch, so its
  gradient is Δ summed over the batch (:class:`Add`);
* **activation** ``tanh``: the Hadamard product with its derivative, ``Δ ⊙ (1 − tanh²(A))``
  (:class:`Tanh`);
* **softmax with cross-entropy**: softmax is the canonical link of the cross-entropy, so the Δ
  that starts the backward pass is ``(ŷ − y)/nb`` (the deck's ŷ − y, over the batch mean)
  (:class:`SoftmaxCrossEntropy`). :func:`general_output_delta` checks it against the general rule:
  the softmax Jacobian ``∂ŷ_i/∂a_j = ŷ_i (δ_ij − ŷ_j)`` times ``∂L/∂ŷ = −y/(nb ŷ)``.

``B`` is always the bias and ``nb`` the number of rows in the batch (the deck names neither).

The deck's other derivations, transcribed here too:

* **the chain rule** (合成関数の微分について), equations (1)–(4)::

    (1) y = f(u), u = g(x), y = f(g(x))
    (2) dy/dx = dy/du · du/dx
    (3) z = f(y1, y2, …, ym), yi = gi(x1, x2, …, xn)
    (4) ∂z/∂xi = ∂f/∂y1 · ∂y1/∂xi + ∂f/∂y2 · ∂y2/∂xi + … + ∂f/∂ym · ∂ym/∂xi

  (:func:`chain_rule_2`, :func:`chain_rule_4`); every node's backward above is (4) for its own f;
* **the delta rule** (デルタ則): the weights follow ``w_{t+1} = w_t + Δw_t`` (:func:`delta_rule`);
  with ``Δw_t = −lr ∂L/∂w`` from the graph it is gradient descent;
* **logistic regression as the one-layer case**: no hidden layer, one output node and the sigmoid
  give ``Y = sigmoid(W_0 X_0 + W_1 X_1 + … + W_784 X_784)`` (:func:`logistic_regression`). The deck
  counts 785 weights for 784 pixels; we read ``X_0 = 1``, so ``W_0`` is the bias (the slide before
  calls the node's sum a linear combination "with bias"). Sigmoid is the canonical link of the
  binary cross-entropy, so the backward pass starts at ``(Y − y)/nb`` here too, and the one dot
  node gives ``∂L/∂W = X1ᵀ (Y − y)/nb`` with ``X1 = [1, X]`` (:func:`logistic_regression_grad`).

In jaxmlp this is ``MLP((n_in, *hidden, n_out), ("tanh", …, "softmax"))`` with loss
``"categorical_crossentropy"`` and reduction ``"mean"``; the deck's ``W`` is jaxmlp's ``w``
transposed (:func:`to_deck`, :func:`from_deck`), and targets are one-hot rows.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import jaxmlp
from jaxmlp.check import Check, check_close, check_grads
from jaxmlp.core.random_problem import random_problem

__all__ = [
    "Add",
    "Dot",
    "SoftmaxCrossEntropy",
    "Tanh",
    "backprop_graph",
    "chain_rule_2",
    "chain_rule_4",
    "checks",
    "delta_rule",
    "from_deck",
    "general_output_delta",
    "grads",
    "logistic_regression",
    "logistic_regression_grad",
    "to_deck",
]

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
    """``ŷ = softmax(A)``, ``L = −(1/nb) Σ y log ŷ``; backwards the canonical ``(ŷ − y)/nb``."""

    def forward(self, A: Array, Y: Array) -> Array:
        log_ŷ = A - jax.nn.logsumexp(A, axis=1, keepdims=True)   # log softmax, computed stably
        self.ŷ, self.Y, self.nb = jnp.exp(log_ŷ), Y, A.shape[0]
        return -jnp.sum(Y * log_ŷ) / self.nb

    def backward(self) -> Array:
        return (self.ŷ - self.Y) / self.nb


def backprop_graph(params: Layers, X: Array, Y: Array) -> tuple[Array, Layers]:
    """``(L, [{"W": ∂L/∂W, "B": ∂L/∂B}, …])``: forward through the nodes, then Δ back through them.

    Arguments:
        params: the deck's layers ``[{"W": (n_in, n_out), "B": (n_out,)}, …]``.
        X: inputs ``(nb, n_in)``; Y: one-hot targets ``(nb, n_out)``.
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
    ``∂L/∂ŷ_i = −y_i / (nb ŷ_i)``; it equals :meth:`SoftmaxCrossEntropy.backward`'s ``(ŷ − y)/nb``.
    """
    ŷ = jax.nn.softmax(A, axis=1)
    nb = A.shape[0]
    dL_dŷ = -Y / (nb * ŷ)
    eye = jnp.eye(A.shape[1], dtype=A.dtype)
    J = ŷ[:, :, None] * (eye[None] - ŷ[:, None, :])               # J[n, i, j] = ∂ŷ_i/∂a_j
    return jnp.einsum("ni,nij->nj", dL_dŷ, J)


def chain_rule_2(dy_du: Array, du_dx: Array) -> Array:
    """Equation (2): ``dy/dx = dy/du · du/dx`` for ``y = f(u)``, ``u = g(x)`` (equation (1))."""
    return dy_du * du_dx


def chain_rule_4(df_dy: Array, dy_dx: Array) -> Array:
    """Equation (4): ``∂z/∂x_i = Σ_j ∂f/∂y_j · ∂y_j/∂x_i``.

    For ``z = f(y_1 … y_m)``, ``y_j = g_j(x_1 … x_n)``. Returns ``(n,)``.

    Arguments:
        df_dy: ``(m,)``, the ``∂f/∂y_j``.
        dy_dx: ``(m, n)``, ``dy_dx[j, i] = ∂y_j/∂x_i``.
    """
    return jnp.einsum("j,ji->i", df_dy, dy_dx)


def delta_rule(w: Layers, Δw: Layers) -> Layers:
    """デルタ則: ``w_{t+1} = w_t + Δw_t``, leaf by leaf."""
    return jax.tree.map(lambda w_t, Δw_t: w_t + Δw_t, w, Δw)


def logistic_regression(W: Array, X: Array) -> Array:
    """``Y = sigmoid(W_0 X_0 + W_1 X_1 + … + W_784 X_784)``, ``X_0 = 1``.

    ``W (1 + n_in,)``, ``X (nb, n_in)``: the deck's 784 pixels; any ``n_in`` here.
    """
    X1 = jnp.concatenate([jnp.ones((X.shape[0], 1), X.dtype), X], axis=1)   # X_0 = 1
    return 1 / (1 + jnp.exp(-(X1 @ W)))


def logistic_regression_grad(W: Array, X: Array, y: Array) -> Array:
    """``∂L/∂W`` of the batch-mean binary cross-entropy.

    ``Δ = (Y − y)/nb``, then the dot node ``X1ᵀ Δ``.
    """
    nb = X.shape[0]
    X1 = jnp.concatenate([jnp.ones((nb, 1), X.dtype), X], axis=1)
    Δ = (logistic_regression(W, X) - y) / nb      # the canonical link: the error starts at Y − y
    return X1.T @ Δ


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
    """The graph and ``(ŷ − y)/nb`` against ``jax.grad``.

    Then the chain rules, the delta rule and logistic regression.
    """
    model = jaxmlp.MLP((5, 4, 4, 3), ("tanh", "tanh", "softmax"))
    params, x, t = random_problem(model, "categorical_crossentropy", seed, batch=8)
    out = [check_grads("deck 003 Δ through dot/add/tanh/softmax nodes", grads, model, params, x, t,
                       "categorical_crossentropy", "mean")]

    def shortcut_and_rule(A, Y):
        node = SoftmaxCrossEntropy()
        node.forward(A, Y)
        return node.backward(), general_output_delta(A, Y)

    A = 3 * x[:, :3]
    out.append(check_close("deck 003 (ŷ − y)/nb", "= softmax Jacobian · ∂L/∂ŷ",
                           *jax.jit(shortcut_and_rule)(A, t)))

    u = x[:, 0]                                               # (2) for y = tanh(u), u = sin(x)
    by_hand = chain_rule_2(1 - jnp.tanh(jnp.sin(u)) ** 2, jnp.cos(u))
    out.append(check_close("deck 003 chain rule (2) dy/dx = dy/du · du/dx", "= jax.grad", by_hand,
                           jax.vmap(jax.grad(lambda x: jnp.tanh(jnp.sin(x))))(u)))
    W, x0 = params[0]["w"], x[0]                              # (4) for z = Σ_j tanh(y_j), y = W x
    by_hand = chain_rule_4(1 - jnp.tanh(W @ x0) ** 2, W)
    out.append(check_close("deck 003 chain rule (4) ∂z/∂x_i = Σ_j ∂f/∂y_j ∂y_j/∂x_i",
                           "= jax.grad", by_hand,
                           jax.grad(lambda x: jnp.sum(jnp.tanh(W @ x)))(x0)))
    lr = 0.1
    Δw = jax.tree.map(lambda g: -lr * g, grads(params, x, t))
    descent = jax.tree.map(lambda w, g: w - lr * g, params, jax.grad(
        lambda p: jaxmlp.loss(model, p, x, t, "categorical_crossentropy", "mean"))(params))
    out.append(check_close("deck 003 delta rule w + Δw, Δw = −lr ∂L/∂w", "= w − lr · jax.grad",
                           delta_rule(params, Δw), descent))

    # logistic regression: one layer, one node
    one = jaxmlp.MLP((5, 1), ("sigmoid",))
    (layer,), _, y = random_problem(one, "binary_crossentropy", seed, batch=8)
    W = jnp.concatenate([layer["b"], layer["w"][0]])          # W_0 is the bias
    library = jaxmlp.backprop(one, [layer], x, y, "binary_crossentropy", "mean")[0]
    out += [check_close("deck 003 logistic regression Y", "= MLP((5, 1), sigmoid)",
                        logistic_regression(W, x), one.apply([layer], x)[:, 0]),
            check_close("deck 003 logistic regression ∂L/∂W", "= jaxmlp.backprop",
                        logistic_regression_grad(W, x, y[:, 0]),
                        jnp.concatenate([library["b"], library["w"][0]]))]
    return out
