"""scikit-learn estimators on :func:`jaxmlp.fit`: :class:`MLPClassifier` and :class:`MLPRegressor`.

scikit-learn's parameter names and meanings, for ``Pipeline``, ``cross_val_score``,
``GridSearchCV``; the training is ``jaxmlp.fit`` (the δ rule, or ``jax.grad`` with
``grad="autodiff"``, and Optax). ``alpha`` adds ``alpha / (2 B) ‖W‖²`` to each batch's mean loss
(``B`` its rows), as scikit-learn does: jaxmlp's ``l2 = alpha / batch_size``. ``X`` trains in
float32 (float64 under ``jax.enable_x64``); predictions are float64 NumPy arrays. README.md
("scikit-learn") lists what differs from scikit-learn, the one dependency of this package only:
``pip install 'jaxmlp[examples]'``. Its settings become jaxmlp's in :mod:`jaxmlp.sklearn.settings`.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import numpy as np

from jaxmlp import MLP, EarlyStopping, fit, predict
from jaxmlp.sklearn.settings import (
    activation_name,
    check_settings,
    hidden_sizes,
    solver,
    validation_rows,
)

try:
    from sklearn.base import (
        BaseEstimator,
        ClassifierMixin,
        RegressorMixin,
        is_classifier,
        is_regressor,
    )
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - only without scikit-learn
    raise ImportError("jaxmlp.sklearn needs scikit-learn >= 1.6: pip install "
                      "'jaxmlp[examples]'") from error

__all__ = ["MLPClassifier", "MLPRegressor"]

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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.grad = grad
        self.output_activation = output_activation

    def fit(self, X: Any, y: Any) -> _BaseMLP:
        """Train up to ``max_iter`` epochs: ``X (n_samples, n_features)``,
        ``y (n_samples[, n_outputs])``."""
        return self._train(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any) -> _BaseMLP:
        """One epoch over ``X (n_samples, n_features)``, ``y (n_samples[, n_outputs])`` from the
        current weights."""
        return self._train(X, y, incremental=True)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weights in scikit-learn's layout, ``(fan_in, fan_out)`` per layer: jaxmlp's ``w.T``."""
        check_is_fitted(self, "n_outputs_")
        return [layer["w"].T for layer in self._params]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The biases: ``(fan_out,)`` per layer."""
        check_is_fitted(self, "n_outputs_")
        return [layer["b"] for layer in self._params]

    def _train(self, X, y, incremental, classes=None):
        check_settings(self, incremental)
        first = not hasattr(self, "_params") or not (self.warm_start or incremental)
        X, y = validate_data(self, X, y, reset=first, multi_output=True,
                             y_numeric=is_regressor(self),
                             dtype=(np.float64, np.float32))
        y = column_or_1d(y, warn=True) if y.ndim == 2 and y.shape[1] == 1 else y
        X = X.astype(jax.dtypes.canonicalize_dtype(np.float64))  # float32 unless jax.enable_x64
        T = self._encode(y, first, classes).astype(X.dtype)
        if first:
            hidden, out = hidden_sizes(self.hidden_layer_sizes), self._output_activation()
            inner = activation_name("activation", self.activation)
            self._mlp = MLP((X.shape[1], *hidden, T.shape[1]), (inner,) * len(hidden) + (out,))
            self.out_activation_ = "logistic" if out == "sigmoid" else out
            self.n_outputs_ = T.shape[1]
            self.n_layers_ = len(hidden) + 2
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_ = []
            self.validation_scores_ = [] if self.early_stopping else None
            self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            # RBG keys: their programs compile fast
            self._params = self._mlp.init(jax.random.key(self._seed, impl="rbg"))
        elif T.shape[1] != self.n_outputs_:
            raise ValueError(f"y: expected {self.n_outputs_} outputs as in the first fit, got "
                             f"{T.shape[1]}")
        validation, monitor = None, self._monitor()
        scale = self.n_outputs_ if is_regressor(self) else 1
        if self.early_stopping:
            X, X_val, T, T_val = validation_rows(X, T, self.validation_fraction, self._seed,
                                                 stratify=monitor == "val_accuracy")
            validation = (X_val, T_val)
        n = X.shape[0]
        # clipped to the rows, as scikit-learn does
        batch = min(200 if self.batch_size == "auto" else int(self.batch_size), n)
        schedule = None
        if self.learning_rate == "invscaling":
            schedule = (self.power_t, n, -(-n // batch), self.t_)
        optimizer = solver(self.solver, self.learning_rate_init, self.beta_1, self.beta_2,
                            self.epsilon, self.momentum, bool(self.nesterovs_momentum), schedule,
                            scale)
        # the shuffles
        key = jax.random.fold_in(jax.random.key(self._seed, impl="rbg"), 1 + self.t_)
        params, history = fit(
            self._mlp, self._params, X, T, optimizer=optimizer, loss=self._loss(),
            epochs=1 if incremental else self.max_iter, batch_size=batch,
            validation_data=validation,
            metrics=("accuracy",) if monitor == "val_accuracy" else (), key=key,
            grad=self.grad, l2=scale * self.alpha / batch, verbose=2 if self.verbose else 0,
            early_stopping=None if incremental else self._stopping(monitor, scale),
            shuffle=self.shuffle)
        self._params = [{k: np.asarray(v) for k, v in layer.items()} for layer in params]
        epochs = len(history["loss"])
        self.loss_curve_ += [value / scale for value in history["loss"]]
        self.loss_ = self.loss_curve_[-1]
        self.t_ = self.t_ + n * epochs
        self.n_iter_ = self.n_iter_ + 1 if incremental else epochs
        self.best_loss_ = None if self.early_stopping else min(self.loss_curve_)
        if self.early_stopping:
            self.validation_scores_ += history[monitor]
        if not incremental and epochs == self.max_iter:
            warnings.warn(f"max_iter: all {self.max_iter} epochs ran and the loss still changes by "
                          f"more than tol={self.tol}; raise max_iter or tol", ConvergenceWarning,
                          stacklevel=3)
        return self

    def _outputs(self, X) -> np.ndarray:
        """The outputs ``(n_samples, n_outputs_)`` in float64 (no row depends on the others)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        with jax.enable_x64(True):
            params = jax.tree.map(lambda a: jax.numpy.asarray(a, np.float64), self._params)
            return np.asarray(predict(self._mlp, params, X.astype(np.float64)))

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
        return activation_name("output_activation", self.output_activation or "identity")

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
        """One epoch over ``(X, y)`` from the current weights; the first call needs every label
        in ``classes``."""
        if not hasattr(self, "_params") and classes is None:
            raise ValueError("classes: the first call to partial_fit needs every label, "
                             "classes=[...]")
        return self._train(X, y, incremental=True, classes=classes)

    def predict(self, X: Any) -> np.ndarray:
        """Labels ``(n_samples,)``, or ``(n_samples, n_classes)`` indicators (multilabel ``y``)."""
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
        name = activation_name("output_activation", self.output_activation)
        if name not in ("softmax", "sigmoid") or (name == "softmax" and self._multilabel):
            raise ValueError(f"output_activation: expected 'softmax' or 'sigmoid' ('logistic'; "
                             "the only "
                             f"one for multilabel y), got {self.output_activation!r}")
        return name

    def _loss(self) -> str:
        softmax = self.out_activation_ == "softmax"
        return "categorical_crossentropy" if softmax else "binary_crossentropy"


class MLPRegressor(RegressorMixin, _BaseMLP):
    """scikit-learn's ``MLPRegressor`` on :func:`jaxmlp.fit`: ``½ mean (y − ŷ)²`` (jaxmlp's
    ``sse``, its gradient scaled by ``1 / n_outputs_``) through an identity or any jaxmlp
    ``output_activation``.

    >>> import numpy as np
    >>> X = np.linspace(-1.0, 1.0, 20).reshape(10, 2)
    >>> reg = MLPRegressor((4,), max_iter=3, random_state=0).fit(X, X.sum(axis=1))
    >>> reg.predict(X[:3]).shape, reg.n_layers_, reg.out_activation_
    ((3,), 3, 'identity')
    """

    def predict(self, X: Any) -> np.ndarray:
        """Predictions ``(n_samples,)``, or ``(n_samples, n_outputs_)`` for a two-dimensional
        ``y``."""
        o = self._outputs(X)
        return o.ravel() if self.n_outputs_ == 1 else o

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
