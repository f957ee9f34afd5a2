"""The MLP: a frozen, hashable description of the network; its parameters live outside it.

Layer ``l`` computes ``u = w @ o_prev + b`` and ``o = f(u)`` for one example, with ``w`` of shape
``(fan_out, fan_in)``: a row per neuron, as the lectures write ``u_1 = w_1 x_1 + w_2 x_2 + b_1``
(deck 000) and ``o^1 = σ(w^1 x + θ^1)`` (deck 001). A mini-batch ``(B, fan_in)`` is the same
function under ``jax.vmap``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxmlp.core.activations import PRELU_INIT, get_activation
from jaxmlp.core.memory import check_fits, format_bytes
from jaxmlp.core.params import check_params
from jaxmlp.core.programs import LAYERS
from jaxmlp.core.values import check_key, check_rows

__all__ = ["INITIALIZERS", "MLP", "Params"]

Array = jax.Array
Params = list[dict[str, Array]]
INITIALIZERS = ("glorot_uniform", "he_uniform", "he_normal", "lecun_normal", "normal")
_TRUNCATED_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2] (as Keras)


@dataclasses.dataclass(frozen=True)
class MLP:
    """A multi-layer perceptron description: layer sizes and one activation per layer.

    Arguments:
        sizes: ``(n_in, n_hidden..., n_out)``, each an integer ≥ 1 (at least two entries).
        activations: one activation name per layer (``len(sizes) - 1`` of them).

    The description holds no arrays, so it is hashable and can be a ``jit`` static argument.

    >>> model = MLP(sizes=(784, 32, 10), activations=("relu", "softmax"))
    >>> model.num_params
    25450
    >>> params = model.init(jax.random.key(0))
    >>> [layer["w"].shape for layer in params]
    [(32, 784), (10, 32)]
    >>> model.apply(params, jnp.zeros(784)).shape
    (10,)
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]

    def __post_init__(self) -> None:
        if isinstance(self.sizes, (str, bytes)) or not hasattr(self.sizes, "__iter__"):
            raise TypeError(f"sizes: expected a sequence of integers, got {self.sizes!r}")
        sizes = tuple(self.sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes: expected at least (n_in, n_out), got {sizes!r}")
        for n in sizes:
            if isinstance(n, bool) or (not isinstance(n, int) and not hasattr(n, "__index__")):
                raise TypeError(f"sizes: expected integers, got {n!r} in {sizes!r}")
            if int(n) < 1:
                raise ValueError(f"sizes: expected every size >= 1, got {n!r} in {sizes!r}")
        if isinstance(self.activations, str):
            raise TypeError(
                f"activations: expected a sequence of names, one per layer, got the string "
                f"{self.activations!r}; write ({self.activations!r},)"
            )
        activations = tuple(self.activations)
        if len(activations) != len(sizes) - 1:
            raise ValueError(
                f"activations: expected {len(sizes) - 1} (one per layer), got {len(activations)}"
            )
        for name in activations:
            get_activation(name)  # raises for an unknown name
        object.__setattr__(self, "sizes", tuple(int(n) for n in sizes))
        object.__setattr__(self, "activations", activations)

    @property
    def num_layers(self) -> int:
        """The number of weight layers (``len(sizes) - 1``)."""
        return len(self.sizes) - 1

    @property
    def num_params(self) -> int:
        """The number of parameters: ``(fan_in + 1) × fan_out`` per layer, plus PReLU slopes."""
        return sum(self.layer_params(i) for i in range(self.num_layers))

    def layer_params(self, i: int) -> int:
        """The parameter count of layer ``i`` (deck 002: ``(784 + 1) × 32 = 25,120``)."""
        fan_in, fan_out = self.sizes[i], self.sizes[i + 1]
        slopes = fan_out if get_activation(self.activations[i]).parametric else 0
        return (fan_in + 1) * fan_out + slopes

    def init(
        self, key: Array, init: str = "glorot_uniform", sigma: float = 0.01, dtype: Any = None
    ) -> Params:
        """Draw parameters: ``[{"w": (fan_out, fan_in), "b": (fan_out,)}, ...]``.

        Arguments:
            key: a ``jax.random`` key (``jax.random.key(0)``), or a batch of N keys
                (``jax.random.split(key, N)``) for N models stacked on a leading axis: every leaf
                gets shape ``(N, ...)`` and model i equals ``init(keys[i])``
                (see :func:`jaxmlp.fit_many`).
            init: ``"glorot_uniform"`` (default, Keras's), ``"he_uniform"``, ``"he_normal"``,
                ``"lecun_normal"`` or ``"normal"`` (``N(0, sigma²)``). Biases start at zero; a PReLU
                layer's slopes ``"a"`` (shape ``(fan_out,)``) at 0.25.
            sigma: the standard deviation for ``init="normal"``.
            dtype: float dtype of the parameters (default: float32, float64 under
                ``jax.enable_x64``).

        >>> MLP((3, 2), ("softmax",)).init(jax.random.split(jax.random.key(0), 5))[0]["w"].shape
        (5, 2, 3)
        """
        if init not in INITIALIZERS:
            raise ValueError(f"init: expected one of {INITIALIZERS}, got {init!r}")
        if not (isinstance(sigma, (int, float)) and sigma > 0 and math.isfinite(sigma)):
            raise ValueError(f"sigma: expected a positive finite number, got {sigma!r}")
        dtype = jnp.dtype(jax.dtypes.canonicalize_dtype(jnp.float64) if dtype is None else dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"dtype: expected a floating dtype, got {dtype}")
        ndim = getattr(key, "ndim", None)
        batch = ndim == 2 or (ndim == 1 and jnp.issubdtype(key.dtype, jax.dtypes.prng_key))
        key = check_key(key, "key", batch=batch)
        models = key.shape[0] if batch else 1
        check_fits("params", models * self.num_params * dtype.itemsize,
                   f"{models * self.num_params:,} parameters ({dtype.name})")

        split = LAYERS.get(("split", self.num_layers), batch,
                           lambda: _splitter(self.num_layers, batch))
        return [self._layer(i, k, init, sigma, dtype, batch) for i, k in enumerate(split(key))]

    def _layer(self, i: int, key: Array, init: str, sigma: float, dtype: Any, batch: bool) -> dict:
        """Layer ``i``'s initial parameters from its key, drawn by a program per layer shape (every
        layer of that shape, in any network and at any depth, shares it)."""
        fan_in, fan_out = self.sizes[i], self.sizes[i + 1]
        parametric = get_activation(self.activations[i]).parametric

        def build():
            def one(k):
                layer = {"w": _draw(k, init, (fan_out, fan_in), sigma, dtype),
                         "b": jnp.zeros((fan_out,), dtype)}
                if parametric:
                    layer["a"] = jnp.full((fan_out,), PRELU_INIT, dtype)
                return layer

            return jax.jit(jax.vmap(one) if batch else one)

        shape = ("layer", fan_in, fan_out, parametric)
        spread = sigma if init == "normal" else None  # the others do not read it
        return LAYERS.get(shape, (init, spread, dtype.name, batch), build)(key)

    def forward(self, params: Params, x: Array) -> tuple[list[Array], list[Array]]:
        """The forward pass of one example, keeping every layer (the backprop cache).

        Arguments:
            params: the parameter pytree.
            x: one input vector, shape ``(n_in,)``.

        Returns ``(us, os)``: ``us[l]`` is layer ``l``'s pre-activation ``(fan_out,)`` and
        ``os`` the outputs, with ``os[0] = x`` and ``os[-1]`` the network output ``(n_out,)``.
        The structure, shapes and dtypes of ``params`` are checked first (also under ``jit``: it
        costs nothing at run time), a ``ValueError`` / ``TypeError`` naming ``params[i]['w']``;
        their values are not.
        """
        params = _checked_params(self, params)
        us, os = [], [x]
        for name, layer in zip(self.activations, params):
            act = get_activation(name)
            u = layer["w"] @ os[-1] + layer["b"]
            o = act.f(u, layer["a"]) if act.parametric else act.f(u)
            us.append(u)
            os.append(o)
        return us, os

    def apply(self, params: Params, x: Array) -> Array:
        """The network output: ``(n_in,) -> (n_out,)``, or ``(B, n_in) -> (B, n_out)`` via ``vmap``.

        ``params`` may hold NumPy arrays or nested Python lists; its structure and shapes are
        checked as in :meth:`forward` (the values are not: see :func:`jaxmlp.predict`).
        """
        params = _checked_params(self, params)
        x = jnp.asarray(x)
        check_rows("x", x.shape, self.sizes[0], one=True)
        if x.ndim == 2:
            return jax.vmap(self.apply, in_axes=(None, 0))(params, x)
        return self.forward(params, x)[1][-1]

    def summary(self) -> Summary:
        """A Keras-style table: Layer (type), Output Shape, Param #, and the totals.

        The table is a ``str`` (write it to a file, search it) that shows itself as the table, so
        a REPL or notebook prints it as Keras does; :meth:`print_summary` prints it.

        >>> MLP((784, 32, 10), ("relu", "softmax")).summary()
        Model: "mlp"
        ┌──────────────────────────┬──────────────┬─────────┐
        │ Layer (type)             │ Output Shape │ Param # │
        ├──────────────────────────┼──────────────┼─────────┤
        │ input (Input)            │ (None, 784)  │       0 │
        │ dense (Dense, relu)      │ (None, 32)   │  25,120 │
        │ dense_1 (Dense, softmax) │ (None, 10)   │     330 │
        └──────────────────────────┴──────────────┴─────────┘
         Total params: 25,450 (101.8 kB)
         Trainable params: 25,450 (101.8 kB)
         Non-trainable params: 0 (0 B)
        """
        rows = [("input (Input)", f"(None, {self.sizes[0]})", "0")]
        for i, name in enumerate(self.activations):
            label = f"dense{'_' + str(i) if i else ''} (Dense, {name})"
            rows.append((label, f"(None, {self.sizes[i + 1]})", f"{self.layer_params(i):,}"))
        heads = ("Layer (type)", "Output Shape", "Param #")
        widths = [max(len(h), *(len(r[c]) for r in rows)) + 2 for c, h in enumerate(heads)]

        def row(cells):
            left, shape, count = (f" {c:{a}{w - 2}} " for c, a, w in zip(cells, "<<>", widths))
            return f"│{left}│{shape}│{count}│"

        def rule(left, mid, right):
            return left + mid.join("─" * w for w in widths) + right

        n, size = self.num_params, format_bytes(self.num_params * 4)
        out = ['Model: "mlp"', rule("┌", "┬", "┐"), row(heads), rule("├", "┼", "┤")]
        out += [row(r) for r in rows]
        out += [
            rule("└", "┴", "┘"),
            f" Total params: {n:,} ({size})",
            f" Trainable params: {n:,} ({size})",
            f" Non-trainable params: 0 ({format_bytes(0)})",
        ]
        return Summary("\n".join(out))

    def print_summary(self) -> None:
        """Print :meth:`summary`'s table (Keras's ``model.summary()``).

        >>> MLP((2, 1), ("sigmoid",)).print_summary()  # doctest: +ELLIPSIS
        Model: "mlp"
        ...
         Total params: 3 (12 B)
        ...
        """
        print(self.summary())


class Summary(str):
    """:meth:`MLP.summary`'s table: a ``str`` whose ``repr`` is the table itself.

    The table is printed as Keras prints it.
    """

    def __repr__(self) -> str:
        return str(self)


def _checked_params(model: MLP, params: Any) -> list[dict[str, Array]]:
    check_params(model, params, finite=False)
    return [{name: jnp.asarray(leaf) for name, leaf in layer.items()} for layer in params]


def _draw(key: Array, init: str, shape: tuple[int, int], sigma: float, dtype: Any) -> Array:
    fan_out, fan_in = shape
    if init == "glorot_uniform":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return jax.random.uniform(key, shape, dtype, -limit, limit)
    if init == "he_uniform":
        limit = math.sqrt(6.0 / fan_in)
        return jax.random.uniform(key, shape, dtype, -limit, limit)
    if init == "normal":
        return sigma * jax.random.normal(key, shape, dtype)
    scale = 2.0 if init == "he_normal" else 1.0  # he_normal or lecun_normal: truncated normal
    std = math.sqrt(scale / fan_in) / _TRUNCATED_STD
    return std * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)


def _splitter(layers: int, batch: bool):
    """A program ``key -> (k_1, ..., k_layers)``, layer i's key ``jax.random.split(key)[i]``
    (with ``batch``: of each of N keys, each ``k_i`` of shape ``(N,)``)."""
    def split(key):
        keys = jax.random.split(key, layers)
        return tuple(keys[i] for i in range(layers))

    return jax.jit(jax.vmap(split) if batch else split)
