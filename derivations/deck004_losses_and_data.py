"""Deck 004 (人工知能 第4回), the rest of the deck: the losses, regularisation and the data's split.

The layer-k derivation is :mod:`deck004_layer_k`, which re-exports the names here (it is the
deck's module in ``MODULES``, and its ``checks`` include these).

* **losses** (誤差関数): the squared error of the derivation, the cross-entropy
  ``H(p, q) = −Σ_x p(x) log q(x)`` of the true distribution p and the estimated q (:func:`H`,
  jaxmlp's ``"categorical_crossentropy"``);
* **regularisation** (正則化, slide 37): ``E(w) + λ|w|`` (L1) and ``E(w) + λ|w|²`` (L2)
  (:func:`l1_term`, :func:`l2_term`). jaxmlp's L2 term is ``λ₂/2 Σ w²`` (its gradient is
  ``λ₂ w``), so **jaxmlp's ``l2=2λ`` is the deck's λ**; jaxmlp's ``l1=λ`` is the deck's λ. Both
  decay weights only;
* **data** (訓練・検証・テスト): training 60–80 %, validation 10–20 %, test 10–20 % of the data
  (:data:`SPLIT`, :func:`split`), and k-fold cross-validation as the deck's table of 5 patterns,
  which validates the LAST fold first (:data:`PATTERNS`, :func:`patterns`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import jaxmlp
from jaxmlp import data
from jaxmlp.check import Check, check_close
from jaxmlp.core.losses import get_loss
from jaxmlp.core.random_problem import random_problem

__all__ = [
    "PATTERNS",
    "SPLIT",
    "H",
    "checks",
    "l1_term",
    "l2_term",
    "pattern_table",
    "patterns",
    "split",
]

Array = jax.Array
Layers = list[dict[str, Array]]
#: 訓練・検証・テスト: the share of all data each set takes, (low, high)
SPLIT = {"training": (0.6, 0.8), "validation": (0.1, 0.2), "test": (0.1, 0.2)}
#: the deck's 5-fold table as printed, パターン1 … パターン5 (訓練 train, 検証 validate):
#: the last fold first
PATTERNS = (
    ("訓練", "訓練", "訓練", "訓練", "検証"),
    ("訓練", "訓練", "訓練", "検証", "訓練"),
    ("訓練", "訓練", "検証", "訓練", "訓練"),
    ("訓練", "検証", "訓練", "訓練", "訓練"),
    ("検証", "訓練", "訓練", "訓練", "訓練"),
)


def H(p: Array, q: Array) -> Array:  # noqa: N802 (the deck's symbol)
    """The cross-entropy ``H(p, q) = −Σ_x p(x) log q(x)`` over the last axis (q > 0).

    >>> round(float(H(jnp.array([1.0, 0.0, 0.0]), jnp.array([0.7, 0.2, 0.1]))), 6)  # −log 0.7
    0.356675
    """
    return -jnp.sum(p * jnp.log(q), axis=-1)


def l2_term(params: Layers, λ: float) -> Array:
    """The deck's L2 term ``λ|w|² = λ Σ w²`` over every layer's weights.

    jaxmlp's ``penalty(l2=2λ)``.
    """
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
            raise ValueError(f"fractions: expected the {name} set's share inside deck 004's "
                             f"{low:.0%}-{high:.0%}, got {share}")
    return data.train_val_test_split(key, n, fractions)


def patterns(n: int, k: int = 5) -> list[tuple]:
    """k-fold cross-validation in the deck's order: pattern p = 1 … k validates fold k − p + 1.

    ``jaxmlp.data.kfold`` validates fold 1 first; the deck's table starts from the last fold, so
    this is kfold's list reversed (contiguous folds, no shuffle, as the table draws them).
    """
    return list(data.kfold(None, n, k, shuffle=False))[::-1]


def pattern_table(n: int, k: int = 5) -> tuple:
    """:func:`patterns` drawn as the deck's table.

    One row per pattern, 検証 where a fold validates.
    """
    folds = [held for _, held in data.kfold(None, n, k, shuffle=False)]
    return tuple(_pattern_row(folds, held) for _, held in patterns(n, k))


def _pattern_row(folds: list, held: Array) -> tuple:
    validated = set(held.tolist())
    return tuple("検証" if set(fold.tolist()) <= validated else "訓練" for fold in folds)


def checks(seed: int = 0) -> list[Check]:
    """The cross-entropy, the L2 term, the 60/20/20 split and the 5-fold table."""
    model = jaxmlp.MLP((3, 4, 2), ("tanh", "sigmoid"))
    params, x, t = random_problem(model, "sse", seed)
    q, p = jax.nn.softmax(x[:, :2]), jax.nn.softmax(t)  # two distributions per row
    tables = [jnp.asarray([[c == "検証" for c in row] for row in table], float)
              for table in (pattern_table(10), PATTERNS)]
    sizes = [len(part) for part in split(jax.random.key(seed), 60_000, (0.6, 0.2, 0.2))]
    return [
        check_close("deck 004 H(p, q) = −Σ p log q", "= categorical_crossentropy", H(p, q),
                    jax.vmap(get_loss("categorical_crossentropy").fn)(q, p)),
        check_close("deck 004 λ|w|² (L2), λ = 0.3", "= jaxmlp.penalty(l2=0.6)",
                    l2_term(params, 0.3), jaxmlp.penalty(params, l2=0.6)),
        check_close("deck 004 split 60/20/20 of 60,000 rows", "36,000 / 12,000 / 12,000",
                    jnp.asarray(sizes, float), jnp.asarray([36_000, 12_000, 12_000], float),
                    rtol=0.0),
        check_close("deck 004 5-fold table, last fold first", "the deck's パターン1-5", *tables,
                    rtol=0.0),
    ]
