"""Deck 004 (人工知能 第4回): the general layer-k derivation, ``Δw = α δ out`` with ``δ = −∂E/∂in``.

Layer k (k = 1 … M, layer 0 is the input, layer M the output) receives
``in_j^k = Σ_i w_ij^{k−1,k} out_i^{k−1}`` and emits ``out_j^k = f(in_j^k)``; the weight
``w_ij^{k−1,k}`` runs from neuron i of layer k−1 to neuron j of layer k. Gradient descent with the
chain rule (重みの更新式)::

    Δw_ij^{k−1,k} = −α ∂E/∂w_ij^{k−1,k} = −α ∂E/∂in_j^k · out_i^{k−1} = α δ_j^k out_i^{k−1}
    δ_j^k = −∂E/∂in_j^k = −∂E/∂out_j^k · f′(in_j^k)

* **output layer M**: with ``E = ½ Σ_l (t_l − out_l^M)²``, ``∂E/∂out_j^M = −(t_j − out_j^M)``, so
  ``Δw_ij^{M−1,M} = α (t_j − out_j^M) f′(in_j^M) out_i^{M−1}`` (:func:`output_update`);
* **hidden layer k**: ``∂E/∂out_j^k = Σ_l ∂E/∂in_l^{k+1} · w_jl^{k,k+1} = −Σ_l δ_l^{k+1} w_jl^{k,k+1}``,
  so ``δ_j^k = (Σ_l δ_l^{k+1} w_jl^{k,k+1}) f′(in_j^k)``: each layer needs the δ of the layer
  after it, and the updates run from the output back to the input.

**The slide's output-layer update has the wrong sign.** It writes ``∂E/∂out_i^M = t_i − out_i^M``
(the minus sign of the derivative is lost) and then multiplies by δ's own ``−1 ×`` to print
``Δw = −α (t_i − out_i^M) f′(in_j^k) out_i^{k−1}``. That ``−1`` is the minus of ``δ = −∂E/∂in``,
which the correct derivation carries too; it does not restore the lost sign. The printed update
is ``+α ∂E/∂w``, a step of gradient ASCENT: for ``t = 1``, ``out = 0.5``, ``f′ = 0.25`` and
``out^{M−1} = 1`` it gives −0.125 where descent needs +0.125 (:func:`output_update_as_printed`
keeps the slide's line so that the test can show it). We transcribe the corrected sign.

**Indices corrected silently by earlier transcriptions, now said** (each also at the line that
uses it): the slides name δ by ``i`` where it belongs to neuron ``j`` (``δ_i^k = −∂E/∂in_j^k``,
``α δ_i^k out_i^{k−1}``; we write ``δ_j^k``); they write ``out_j^k = f(Σ_l w_lj^{k−1,k} in_l^k)``
where ``out_j^k = f(in_j^k)``; the output layer's ``(t_i − out_i^M) f′(in_j^k) out_i^{k−1}`` mixes
``i``, ``j``, ``k`` and ``M`` (we write ``(t_j − out_j^M) f′(in_j^M) out_i^{M−1}``); the hidden
layer's ``∂E/∂out_i^k`` sums ``∂E/∂in_j^{k+1} · w_lj^{k,k+1}`` over ``l``, where the summed index
is the neuron ``l`` of layer k+1 and the weight runs from ``j`` to ``l``: we write
``∂E/∂out_j^k = Σ_l ∂E/∂in_l^{k+1} · w_jl^{k,k+1}``.

The rest of the deck, transcribed here too:

* **losses** (誤差関数): the squared error above, the cross-entropy ``H(p, q) = −Σ_x p(x) log q(x)``
  of the true distribution p and the estimated q (:func:`H`, jaxmlp's ``"categorical_crossentropy"``);
* **regularisation** (正則化, slide 37): ``E(w) + λ|w|`` (L1) and ``E(w) + λ|w|²`` (L2)
  (:func:`l1_term`, :func:`l2_term`). jaxmlp's L2 term is ``λ₂/2 Σ w²`` (its gradient is ``λ₂ w``),
  so **jaxmlp's ``l2=2λ`` is the deck's λ**; jaxmlp's ``l1=λ`` is the deck's λ. Both decay weights only;
* **data** (訓練・検証・テスト): training 60–80 %, validation 10–20 %, test 10–20 % of the data
  (:data:`SPLIT`, :func:`split`), and k-fold cross-validation as the deck's table of 5 patterns,
  which validates the LAST fold first (:data:`PATTERNS`, :func:`patterns`).

The deck's δ is the NEGATIVE of jaxmlp's ``δ = ∂E/∂u`` (:func:`jaxmlp.deltas`), and its update is
``Δw = α δ out`` where optax's SGD adds ``−α ∂E/∂w``. Generalised as jaxmlp needs it: a bias
``b_j^k`` adds to ``in_j^k`` (``Δb_j^k = α δ_j^k``); f is any jaxmlp activation (softmax's ``f′``
is its Jacobian, PReLU's slope gets ``Δa_j^k = −α ∂E/∂out_j^k · ∂f/∂a``); any jaxmlp loss gives
``∂E/∂out^M``; reduction ``"mean"`` averages the samples' updates (deck 004's バッチサイズ:
"the mean error of the batch"), ``"sum"`` adds them. The deck's ``w^{k−1,k}`` is jaxmlp's
``w`` transposed (:func:`to_deck`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

import jaxmlp
from jaxmlp import data
from jaxmlp.check import Check, check_close, check_grads
from jaxmlp.core.activations import get_activation
from jaxmlp.core.losses import get_loss
from jaxmlp.problems import random_problem

__all__ = [
    "PATTERNS",
    "SPLIT",
    "H",
    "backward",
    "checks",
    "deltas",
    "f_prime_product",
    "forward",
    "from_deck",
    "grads",
    "l1_term",
    "l2_term",
    "output_update",
    "output_update_as_printed",
    "pattern_table",
    "patterns",
    "split",
    "to_deck",
    "updates",
]

Array = jax.Array
Layers = list[dict[str, Array]]
#: 訓練・検証・テスト: the share of all data each set takes, (low, high)
SPLIT = {"training": (0.6, 0.8), "validation": (0.1, 0.2), "test": (0.1, 0.2)}
#: the deck's 5-fold table as printed, パターン1 … パターン5 (訓練 train, 検証 validate): the last fold first
PATTERNS = (
    ("訓練", "訓練", "訓練", "訓練", "検証"),
    ("訓練", "訓練", "訓練", "検証", "訓練"),
    ("訓練", "訓練", "検証", "訓練", "訓練"),
    ("訓練", "検証", "訓練", "訓練", "訓練"),
    ("検証", "訓練", "訓練", "訓練", "訓練"),
)


def forward(params: Layers, x: Array, f: tuple[str, ...]) -> tuple[list, list]:
    """One sample: ``(in_, out)`` with ``in_[k] = in^k`` (``in_[0]`` unused) and ``out[0] = x``."""
    in_, out = [None], [x]
    for k, (layer, name) in enumerate(zip(params, f), start=1):
        # in_j^k = Σ_i w_ij out_i^{k−1} (+ b_j); out_j^k = f(in_j^k) (the slide: f(Σ_l w_lj in_l^k))
        in_k = jnp.einsum("i,ij->j", out[k - 1], layer["w"]) + layer["b"]
        act = get_activation(name)
        in_.append(in_k)
        out.append(act.f(in_k, layer["a"]) if act.parametric else act.f(in_k))
    return in_, out


def deltas(params: Layers, x: Array, t: Array, f: tuple[str, ...], loss: str = "sse") -> list:
    """One sample: ``[None, δ^1, …, δ^M]`` with ``δ_j^k = −∂E/∂in_j^k`` (the lecture's sign)."""
    return backward(params, x, t, f, loss)[3]


def backward(params: Layers, x: Array, t: Array, f: tuple[str, ...], loss: str = "sse") -> tuple:
    """One sample, output layer first: ``(in_, out, dE_dout, δ)``, each indexed by the layer k."""
    in_, out = forward(params, x, f)
    M = len(params)
    dE_dout, δ = [None] * (M + 1), [None] * (M + 1)
    if loss == "sse":  # E = ½ Σ_l (t_l − out_l^M)²: the slide's t_i − out_i^M lost this minus
        dE_dout[M] = -(t - out[M])
    else:
        dE_dout[M] = get_loss(loss).d(out[M], t)
    for k in range(M, 0, -1):
        if k < M:  # ∂E/∂out_j^k = −Σ_l δ_l^{k+1} w_jl^{k,k+1} (the slide: out_i^k, in_j^{k+1}, w_lj)
            dE_dout[k] = -jnp.einsum("l,jl->j", δ[k + 1], params[k]["w"])
        # δ_j^k = −∂E/∂out_j^k f′(in_j^k), which the slide names δ_i^k
        δ[k] = -f_prime_product(f[k - 1], in_[k], out[k], dE_dout[k], params[k - 1].get("a"))
    return in_, out, dE_dout, δ


def updates(params: Layers, x: Array, t: Array, f: tuple[str, ...], loss: str = "sse",
            reduction: str = "sum", α: float = 1.0) -> Layers:
    """The batch's ``Δw^{k−1,k} = α δ^k out^{k−1}`` (and ``Δb``, ``Δa``), summed or averaged over samples.

    Arguments:
        params: the deck's layers ``[{"w": (N_{k−1}, N_k), "b": (N_k,)[, "a": (N_k,)]}, …]``.
        x: inputs ``(B, N_0)``; t: targets ``(B, N_M)``; f: one activation name per layer.
    """
    def one(x_n, t_n):
        in_, out, dE_dout, δ = backward(params, x_n, t_n, f, loss)
        Δ = []
        for k in range(1, len(params) + 1):
            # Δw_ij = α δ_j^k out_i^{k−1} (the slide: α δ_i^k out_i^{k−1})
            Δk = {"w": α * jnp.einsum("j,i->ij", δ[k], out[k - 1]), "b": α * δ[k]}
            if "a" in params[k - 1]:                  # PReLU: Δa_j = −α ∂E/∂out_j · ∂f/∂a
                Δk["a"] = -α * dE_dout[k] * get_activation(f[k - 1]).df_da(in_[k], params[k - 1]["a"])
            Δ.append(Δk)
        return Δ

    per_sample = jax.vmap(one)(x, t)
    scale = 1 / x.shape[0] if reduction == "mean" else 1
    return jax.tree.map(lambda a: scale * jnp.sum(a, axis=0), per_sample)


def f_prime_product(name: str, in_k: Array, out_k: Array, g: Array, a: Array | None = None) -> Array:
    """``g · f′(in^k)``: the Hadamard product, or ``Σ_l g_l ∂out_l/∂in_j`` for softmax."""
    act = get_activation(name)
    if act.df is not None:
        return g * (act.df(in_k, a) if act.parametric else act.df(in_k))
    J = jnp.diag(out_k) - jnp.outer(out_k, out_k)     # softmax: ∂out_l/∂in_j = out_l (δ_lj − out_j)
    return jnp.einsum("l,lj->j", g, J)


def to_deck(params: Layers) -> Layers:
    """jaxmlp's ``w (N_k, N_{k−1})`` → the deck's ``w^{k−1,k} (N_{k−1}, N_k)``; b and a unchanged."""
    return [{**layer, "w": layer["w"].T} for layer in params]


def from_deck(params: Layers) -> Layers:
    """The deck's ``w^{k−1,k}`` → jaxmlp's ``w`` (transposed back)."""
    return [{**layer, "w": layer["w"].T} for layer in params]


def grads(model: jaxmlp.MLP, params: Layers, x: Array, t: Array, loss: str = "sse",
          reduction: str = "sum") -> Layers:
    """``∂E/∂params = −Δ/α`` in jaxmlp's layout, for any ``jaxmlp.MLP`` ``model``.

    Wrap it for :func:`jaxmlp.check_gradients` as ``lambda p, x, t: grads(model, p, x, t, loss, reduction)``.
    """
    Δ = updates(to_deck(params), x, t, model.activations, loss, reduction, α=1.0)
    return jax.tree.map(lambda d: -d, from_deck(Δ))


def output_update(α: float, t_j, out_j, f_prime, out_i):
    """The output layer's update, sign corrected: ``Δw_ij = α (t_j − out_j^M) f′(in_j^M) out_i^{M−1}``.

    >>> output_update(1.0, t_j=1.0, out_j=0.5, f_prime=0.25, out_i=1.0)  # descent: w grows, out grows
    0.125
    """
    return α * (t_j - out_j) * f_prime * out_i


def output_update_as_printed(α: float, t_i, out_i_M, f_prime, out_i):
    """The slide's last line, ``Δw = −α (t_i − out_i^M) f′(in_j^k) out_i^{k−1}``: ``+α ∂E/∂w``, ascent.

    >>> output_update_as_printed(1.0, t_i=1.0, out_i_M=0.5, f_prime=0.25, out_i=1.0)  # the wrong sign
    -0.125
    """
    return -α * (t_i - out_i_M) * f_prime * out_i


def H(p: Array, q: Array) -> Array:  # noqa: N802 (the deck's symbol)
    """The cross-entropy ``H(p, q) = −Σ_x p(x) log q(x)`` over the last axis (q > 0).

    >>> round(float(H(jnp.array([1.0, 0.0, 0.0]), jnp.array([0.7, 0.2, 0.1]))), 6)  # −log 0.7
    0.356675
    """
    return -jnp.sum(p * jnp.log(q), axis=-1)


def l2_term(params: Layers, λ: float) -> Array:
    """The deck's L2 term ``λ|w|² = λ Σ w²`` over every layer's weights; jaxmlp's ``penalty(l2=2λ)``."""
    return λ * sum(jnp.sum(layer["w"] ** 2) for layer in params)


def l1_term(params: Layers, λ: float) -> Array:
    """The deck's L1 term ``λ|w|`` with ``|w| = Σ |w|`` (重みの総和); jaxmlp's ``penalty(l1=λ)``."""
    return λ * sum(jnp.sum(jnp.abs(layer["w"])) for layer in params)


def split(key: Array, n: int, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)):
    """Training, validation and test indices of ``range(n)``, each share inside the deck's range.

    >>> [len(part) for part in split(jax.random.key(0), 60_000, (0.6, 0.2, 0.2))]
    [36000, 12000, 12000]
    """
    for (name, (low, high)), share in zip(SPLIT.items(), fractions):
        if not low <= share <= high:
            raise ValueError(f"deck 004 puts {low:.0%}-{high:.0%} of the data in the {name} set, got {share}")
    return data.train_val_test_split(key, n, fractions)


def patterns(n: int, k: int = 5) -> list[tuple]:
    """k-fold cross-validation in the deck's order: pattern p = 1 … k validates fold k − p + 1.

    ``jaxmlp.data.kfold`` validates fold 1 first; the deck's table starts from the last fold, so
    this is kfold's list reversed (contiguous folds, no shuffle, as the table draws them).
    """
    return list(data.kfold(None, n, k, shuffle=False))[::-1]


def pattern_table(n: int, k: int = 5) -> tuple:
    """:func:`patterns` drawn as the deck's table: one row per pattern, 検証 where a fold validates."""
    folds = [held for _, held in data.kfold(None, n, k, shuffle=False)]
    return tuple(tuple("検証" if set(fold.tolist()) <= set(held.tolist()) else "訓練" for fold in folds)
                 for _, held in patterns(n, k))


def checks(seed: int = 0) -> list[Check]:
    """Layer k against ``jax.grad`` for several depths, activations and losses."""
    cases = [
        ((3, 5, 4, 2), ("relu", "tanh", "identity"), "sse", "sum"),
        ((4, 3, 3, 3, 3), ("elu", "prelu", "swish", "softmax"), "categorical_crossentropy", "mean"),
        ((2, 4, 1), ("mish", "sigmoid"), "binary_crossentropy", "mean"),
    ]
    out = []
    for sizes, acts, loss, reduction in cases:
        model = jaxmlp.MLP(sizes, acts)
        params, x, t = random_problem(model, loss, seed, batch=6)
        grad_fn = functools.partial(grads, model, loss=loss, reduction=reduction)
        out.append(check_grads(f"deck 004 layer k {'→'.join(acts)}, {loss}, {reduction}", grad_fn,
                               model, params, x, t, loss, reduction))
    model = jaxmlp.MLP((3, 4, 2), ("tanh", "sigmoid"))
    params, x, t = random_problem(model, "sse", seed)

    def both(params, x, t):
        mine = jax.vmap(lambda x_n, t_n: deltas(to_deck(params), x_n, t_n, model.activations)[1:])(x, t)
        return mine, [-d for d in jaxmlp.deltas(model, params, x, t, "sse")]

    out.append(check_close("deck 004 δ = −∂E/∂in", "= −jaxmlp.deltas", *jax.jit(both)(params, x, t)))
    q, p = jax.nn.softmax(x[:, :2]), jax.nn.softmax(t)  # two distributions per row
    tables = [jnp.asarray([[c == "検証" for c in row] for row in table], float)
              for table in (pattern_table(10), PATTERNS)]
    sizes = [len(part) for part in split(jax.random.key(seed), 60_000, (0.6, 0.2, 0.2))]
    out += [
        check_close("deck 004 output Δw, t = 1, out = 0.5, f′ = 0.25", "deck: 0.125",
                    jnp.asarray(output_update(1.0, 1.0, 0.5, 0.25, 1.0)), jnp.asarray(0.125)),
        check_close("deck 004 output Δw as the slide prints it (ascent)", "deck: −0.125",
                    jnp.asarray(output_update_as_printed(1.0, 1.0, 0.5, 0.25, 1.0)), jnp.asarray(-0.125)),
        check_close("deck 004 H(p, q) = −Σ p log q", "= categorical_crossentropy", H(p, q),
                    jax.vmap(get_loss("categorical_crossentropy").fn)(q, p)),
        check_close("deck 004 λ|w|² (L2), λ = 0.3", "= jaxmlp.penalty(l2=0.6)", l2_term(params, 0.3),
                    jaxmlp.penalty(params, l2=0.6)),
        check_close("deck 004 split 60/20/20 of 60,000 rows", "36,000 / 12,000 / 12,000",
                    jnp.asarray(sizes, float), jnp.asarray([36_000, 12_000, 12_000], float), rtol=0.0),
        check_close("deck 004 5-fold table, last fold first", "the deck's パターン1-5", *tables, rtol=0.0),
    ]
    return out
