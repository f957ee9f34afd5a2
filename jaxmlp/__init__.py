"""jaxmlp: multi-layer perceptrons in JAX with a hand-written backprop proven equal to jax.grad.

>>> import jax, jaxmlp
>>> model = jaxmlp.MLP(sizes=(784, 32, 10), activations=("relu", "softmax"))
>>> params = model.init(jax.random.key(0))
>>> model.num_params
25450
"""

from jaxmlp import compiles, data, progress
from jaxmlp.activations import Activation, activation_names, get_activation, register_activation
from jaxmlp.backprop import backprop, checked, deltas, loss
from jaxmlp.check import GradientReport, check_gradients
from jaxmlp.checkpoint import Checkpoint, load, save
from jaxmlp.history import History
from jaxmlp.losses import get_loss, loss_names, penalty
from jaxmlp.many import ensemble, evaluate_many, fit_many, predict_many
from jaxmlp.model import INITIALIZERS, MLP
from jaxmlp.train import (
    EarlyStopping,
    TrainingError,
    evaluate,
    fit,
    get_optimizer,
    make_train_step,
    predict,
)

__version__ = "0.1.0"

__all__ = [
    "INITIALIZERS",
    "MLP",
    "Activation",
    "Checkpoint",
    "EarlyStopping",
    "GradientReport",
    "History",
    "TrainingError",
    "activation_names",
    "backprop",
    "check_gradients",
    "checked",
    "compiles",
    "data",
    "deltas",
    "ensemble",
    "evaluate",
    "evaluate_many",
    "fit",
    "fit_many",
    "get_activation",
    "get_loss",
    "get_optimizer",
    "load",
    "loss",
    "loss_names",
    "make_train_step",
    "penalty",
    "predict",
    "predict_many",
    "progress",
    "register_activation",
    "save",
]
