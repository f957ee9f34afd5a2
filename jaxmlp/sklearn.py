"""scikit-learn estimators on :func:`jaxmlp.fit`: :class:`MLPClassifier` and :class:`MLPRegressor`.

scikit-learn's parameter names and meanings, for ``Pipeline``, ``cross_val_score``, ``GridSearchCV``;
the training is ``jaxmlp.fit`` (the δ rule, or ``jax.grad`` with ``grad="autodiff"``, and Optax).
``alpha`` adds ``alpha / (2 B) ‖W‖²`` to each batch's mean loss (``B`` its rows), as scikit-learn
does: jaxmlp's ``l2 = alpha / batch_size``. ``X`` trains in float32 (float64 under ``jax.enable_x64``);
predictions are float64 NumPy arrays. README.md ("scikit-learn") lists what differs from scikit-learn,
the one dependency of this module only: ``pip install 'jaxmlp[examples]'``.
"""

from __future__ import annotations

import functools
import math
import warnings
from numbers import Integral, Real
from typing import Any

import jax
import numpy as np
import optax

from jaxmlp import MLP, EarlyStopping, fit, get_activation, predict

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier, is_regressor
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - only without scikit-learn
    raise ImportError("jaxmlp.sklearn needs scikit-learn >= 1.6: pip install 'jaxmlp[examples]'") from error

__all__ = ["MLPClassifier", "MLPRegressor"]

_RULES = {  # each setting: a test of its value, and what it expects (scikit-learn's constraints)
    "solver": (lambda v: v in ("adam", "sgd"), "'adam' or 'sgd'"),
    "learning_rate": (lambda v: v in ("constant", "invscaling"), "'constant' or 'invscaling'"),
    "batch_size": (lambda v: v == "auto" or _is_int(v), "'auto' or an integer >= 1"),
    "max_iter": (lambda v: _is_int(v), "an integer >= 1"),
    "n_iter_no_change": (lambda v: _is_int(v) or v == math.inf, "an integer >= 1 or inf"),
    **dict.fromkeys(("alpha", "power_t", "tol"), (lambda v: _real(v) and v >= 0, "a number >= 0")),
    **dict.fromkeys(("learning_rate_init", "epsilon"), (lambda v: _real(v) and v > 0, "a number > 0")),
    **dict.fromkeys(("beta_1", "beta_2", "validation_fraction"),
                    (lambda v: _real(v) and 0 <= v < 1, "a number in [0, 1)")),
    "momentum": (lambda v: _real(v) and 0 <= v <= 1, "a number in [0, 1]"),
}


class _BaseMLP(BaseEstimator):
    """What both estimators share: scikit-learn's parameters, their checks, the one fit."""

    def __init__(
        self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *, solver: str = "adam",
        alpha: float = 0.0001, batch_size: int | str = "auto", learning_rate: str = "constant",
        learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
        shuffle: bool = True, random_state: Any = None, tol: float = 1e-4, verbose: bool = False,
        warm_start: bool = False, momentum: float = 0.9, nesterovs_momentum: bool = True,
        early_stopping: bool = False, validation_fraction: float = 0.1, beta_1: float = 0.9,
        beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
        grad: str = "backprop", output_activation: str | None = None,
    ):
        self.hidden_layer_sizes, self.activation, self.solver = hidden_layer_sizes, activation, solver
        self.alpha, self.batch_size, self.learning_rate = alpha, batch_size, learning_rate
        self.learning_rate_init, self.power_t, self.max_iter = learning_rate_init, power_t, max_iter
        self.shuffle, self.random_state, self.tol, self.verbose = shuffle, random_state, tol, verbose
        self.warm_start, self.momentum, self.nesterovs_momentum = warm_start, momentum, nesterovs_momentum
        self.early_stopping, self.validation_fraction = early_stopping, validation_fraction
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.n_iter_no_change, self.grad, self.output_activation = n_iter_no_change, grad, output_activation

    def fit(self, X: Any, y: Any) -> _BaseMLP:
        """Train up to ``max_iter`` epochs: ``X (n_samples, n_features)``, ``y (n_samples[, n_outputs])``."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any) -> _BaseMLP:
        """One epoch over ``X (n_samples, n_features)``, ``y (n_samples[, n_outputs])`` from the weights."""
        return self._fit(X, y, incremental=True)

    coefs_ = property(lambda self: [layer["w"].T for layer in self._params],
                      doc="Weights in scikit-learn's layout, ``(fan_in, fan_out)`` per layer: jaxmlp's w.T.")
    intercepts_ = property(lambda self: [layer["b"] for layer in self._params],
                           doc="The biases: ``(fan_out,)`` per layer.")

    def _fit(self, X, y, incremental, classes=None):
        self._check_settings(incremental)
        first = not hasattr(self, "_params") or not (self.warm_start or incremental)
        X, y = validate_data(self, X, y, reset=first, multi_output=True, y_numeric=is_regressor(self),
                             dtype=(np.float64, np.float32))
        y = column_or_1d(y, warn=True) if y.ndim == 2 and y.shape[1] == 1 else y
        X = X.astype(jax.dtypes.canonicalize_dtype(np.float64))  # float32 unless jax.enable_x64
        T = self._encode(y, first, classes).astype(X.dtype)
        if first:
            hidden, out = _hidden_sizes(self.hidden_layer_sizes), self._output_activation()
            self._mlp = MLP((X.shape[1], *hidden, T.shape[1]),
                            (_act("activation", self.activation),) * len(hidden) + (out,))
            self.out_activation_ = "logistic" if out == "sigmoid" else out
            self.n_outputs_, self.n_layers_ = T.shape[1], len(hidden) + 2
            self.n_iter_, self.t_, self.loss_curve_ = 0, 0, []
            self.validation_scores_ = [] if self.early_stopping else None
            self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            self._params = self._mlp.init(jax.random.key(self._seed, impl="rbg"))  # RBG: compiles fast
        elif T.shape[1] != self.n_outputs_:
            raise ValueError(f"y: expected {self.n_outputs_} outputs as in the first fit, got {T.shape[1]}")
        validation, monitor, scale = None, self._monitor(), self.n_outputs_ if is_regressor(self) else 1
        if self.early_stopping:
            stratify = T if monitor == "val_accuracy" else None
            X, X_val, T, T_val = train_test_split(X, T, test_size=self.validation_fraction,
                                                  random_state=self._seed, stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError(f"validation_fraction: {self.validation_fraction} of the rows leaves "
                                 f"{X_val.shape[0]} for validation; give more rows or a larger fraction")
            validation = (X_val, T_val)
        n = X.shape[0]
        batch = min(200 if self.batch_size == "auto" else int(self.batch_size), n)  # clipped, as scikit-learn
        schedule = (self.power_t, n, -(-n // batch), self.t_) if self.learning_rate == "invscaling" else None
        optimizer = _solver(self.solver, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon,
                            self.momentum, bool(self.nesterovs_momentum), schedule, scale)
        key = jax.random.fold_in(jax.random.key(self._seed, impl="rbg"), 1 + self.t_)  # the shuffles
        params, history = fit(
            self._mlp, self._params, X, T, optimizer=optimizer, loss=self._loss(),
            epochs=1 if incremental else self.max_iter, batch_size=batch, validation_data=validation,
            metrics=("accuracy",) if monitor == "val_accuracy" else (), key=key,
            grad=self.grad, l2=scale * self.alpha / batch, verbose=2 if self.verbose else 0,
            early_stopping=None if incremental else self._stopping(monitor, scale), shuffle=self.shuffle)
        self._params = [{k: np.asarray(v) for k, v in layer.items()} for layer in params]
        epochs = len(history["loss"])
        self.loss_curve_ += [value / scale for value in history["loss"]]
        self.loss_, self.t_ = self.loss_curve_[-1], self.t_ + n * epochs
        self.n_iter_ = self.n_iter_ + 1 if incremental else epochs
        self.best_loss_ = None if self.early_stopping else min(self.loss_curve_)
        if self.early_stopping:
            self.validation_scores_ += history[monitor]
        if not incremental and epochs == self.max_iter:
            warnings.warn(f"max_iter: all {self.max_iter} epochs ran and the loss still changes by more "
                          f"than tol={self.tol}; raise max_iter or tol", ConvergenceWarning, stacklevel=3)
        return self

    def _outputs(self, X) -> np.ndarray:
        """The outputs ``(n_samples, n_outputs_)`` in float64, where no row depends on the batch's others."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        with jax.enable_x64(True):
            params = jax.tree.map(lambda a: jax.numpy.asarray(a, np.float64), self._params)
            return np.asarray(predict(self._mlp, params, X.astype(np.float64)))

    def _check_settings(self, incremental: bool) -> None:
        for name, (test, expected) in _RULES.items():
            if not test(getattr(self, name)):
                raise ValueError(f"{name}: expected {expected}, got {getattr(self, name)!r}")
        if self.early_stopping and (incremental or self.validation_fraction == 0):
            raise ValueError("early_stopping: needs validation_fraction > 0; partial_fit cannot stop early")

    def _stopping(self, monitor: str, scale: float) -> EarlyStopping:  # scikit-learn's count
        delta = self.tol if monitor == "val_accuracy" else self.tol * scale
        return EarlyStopping(monitor, int(min(self.n_iter_no_change, self.max_iter)) + 1, delta,
                             restore_best=monitor != "loss")

    def _monitor(self) -> str:
        if not self.early_stopping:
            return "loss"
        return "val_accuracy" if is_classifier(self) and not self._multilabel else "val_loss"

    _multilabel = False

    def _encode(self, y, first, classes):  # the regressor's; the classifier one-hot encodes
        return y.reshape(len(y), -1)

    def _output_activation(self) -> str:
        return _act("output_activation", self.output_activation or "identity")

    def _loss(self) -> str:
        return "sse"


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """scikit-learn's ``MLPClassifier`` on :func:`jaxmlp.fit`: the log-loss of a softmax output for
    several classes, of a sigmoid for two or a multilabel ``y`` (``output_activation`` overrides).

    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 4)
    >>> clf = MLPClassifier((8,), max_iter=3, random_state=0).fit(X, ["a", "b", "b", "c"] * 4)
    >>> clf.predict(X[:2]).shape, clf.predict_proba(X[:2]).shape, [w.shape for w in clf.coefs_]
    ((2,), (2, 3), [(2, 8), (8, 3)])
    """

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over ``(X, y)`` from the current weights; the first needs all labels in ``classes``."""
        if not hasattr(self, "_params") and classes is None:
            raise ValueError("classes: the first call to partial_fit needs every label, classes=[...]")
        return self._fit(X, y, incremental=True, classes=classes)

    def predict(self, X: Any) -> np.ndarray:
        """Labels ``(n_samples,)``, or the ``(n_samples, n_classes)`` indicators for multilabel ``y``."""
        o = self._outputs(X)
        return self._binarizer.inverse_transform(o[:, 1:] if self._two_columns else o)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities ``(n_samples, n_classes)``; one-vs-rest sigmoids are normalised per row."""
        o = self._outputs(X)
        if o.shape[1] == 1:
            return np.hstack([1 - o, o])
        one_vs_rest = self.out_activation_ == "logistic" and not self._multilabel
        return o / o.sum(axis=1, keepdims=True) if one_vs_rest else o

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _encode(self, y, first, classes):
        check_classification_targets(y)
        if first:
            self._binarizer = LabelBinarizer().fit(y if classes is None else classes)
            self.classes_ = self._binarizer.classes_
        elif y.ndim == 1 and len(unseen := np.setdiff1d(y, self.classes_)):
            raise ValueError(f"y: labels {unseen} are not among classes_ {self.classes_}")
        T = self._binarizer.transform(y)
        self._two_columns = self.output_activation == "softmax" and T.shape[1] == 1
        return np.hstack([1 - T, T]) if self._two_columns else T

    @property
    def _multilabel(self) -> bool:
        return self._binarizer.y_type_.startswith("multilabel")

    def _output_activation(self) -> str:
        if self.output_activation is None:
            return "softmax" if self._binarizer.y_type_ == "multiclass" else "sigmoid"
        name = _act("output_activation", self.output_activation)
        if name not in ("softmax", "sigmoid") or (name == "softmax" and self._multilabel):
            raise ValueError(f"output_activation: expected 'softmax' or 'sigmoid' ('logistic'; the only "
                             f"one for multilabel y), got {self.output_activation!r}")
        return name

    def _loss(self) -> str:
        return "categorical_crossentropy" if self.out_activation_ == "softmax" else "binary_crossentropy"



class MLPRegressor(RegressorMixin, _BaseMLP):
    """scikit-learn's ``MLPRegressor`` on :func:`jaxmlp.fit`: ``½ mean (y − ŷ)²`` (jaxmlp's ``sse``,
    its gradient scaled by ``1 / n_outputs_``) through an identity or any jaxmlp ``output_activation``.

    >>> import numpy as np
    >>> X = np.linspace(-1.0, 1.0, 20).reshape(10, 2)
    >>> reg = MLPRegressor((4,), max_iter=3, random_state=0).fit(X, X.sum(axis=1))
    >>> reg.predict(X[:3]).shape, reg.n_layers_, reg.out_activation_
    ((3,), 3, 'identity')
    """

    def predict(self, X: Any) -> np.ndarray:
        """Predictions ``(n_samples,)``, or ``(n_samples, n_outputs_)`` for a two-dimensional ``y``."""
        o = self._outputs(X)
        return o.ravel() if self.n_outputs_ == 1 else o

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags



def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1


def _real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _hidden_sizes(sizes) -> tuple[int, ...]:
    sizes = tuple(sizes) if hasattr(sizes, "__iter__") else (sizes,)
    if not all(_is_int(s) for s in sizes):
        raise ValueError(f"hidden_layer_sizes: expected integers >= 1, got {sizes!r}")
    return tuple(int(s) for s in sizes)


def _act(argument: str, name: str) -> str:
    """scikit-learn's activation name (``"logistic"``) or jaxmlp's, as jaxmlp's name."""
    try:
        return get_activation("sigmoid" if name == "logistic" else name).name
    except ValueError as error:
        raise ValueError(f"{argument}: {error}") from None


@functools.lru_cache(maxsize=64)
def _solver(solver, rate, beta_1, beta_2, epsilon, momentum, nesterov, schedule, scale):
    """scikit-learn's solver as one Optax transformation, cached so that compiled epochs are reused."""
    if solver == "adam":
        optimizer = optax.adam(rate, b1=beta_1, b2=beta_2, eps=epsilon)
    else:
        rate = rate if schedule is None else functools.partial(_invscaling, rate, *schedule)
        optimizer = optax.sgd(rate, momentum=momentum or None, nesterov=nesterov and momentum > 0)
    return optimizer if scale == 1 else optax.chain(optax.scale(1.0 / scale), optimizer)


def _invscaling(rate, power_t, n, steps, t0, count):  # scikit-learn's rate / (t + 1)^power_t, t: rows seen
    return rate / ((count // steps) * n + t0 + 1.0) ** power_t
