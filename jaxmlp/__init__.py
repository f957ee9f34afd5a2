"""jaxmlp: multi-layer perceptrons in JAX with a hand-written backprop proven equal to jax.grad.

>>> import jax, jaxmlp
>>> model = jaxmlp.MLP(sizes=(784, 32, 10), activations=("relu", "softmax"))
>>> params = model.init(jax.random.key(0))
>>> model.num_params
25450
"""

from jaxmlp import data, parallel, plot
from jaxmlp.cache import compile_cache
from jaxmlp.check import GradientReport, check_gradients
from jaxmlp.core.activations import (
    Activation,
    activation_names,
    get_activation,
    register_activation,
)
from jaxmlp.core.backprop import backprop, checked, deltas, loss
from jaxmlp.core.losses import get_loss, loss_names, penalty
from jaxmlp.core.model import INITIALIZERS, MLP
from jaxmlp.training.checkpoint import Checkpoint, load, save
from jaxmlp.training.fit import evaluate, fit, predict
from jaxmlp.training.history import History
from jaxmlp.training.many import ensemble, evaluate_many, fit_many, predict_many
from jaxmlp.training.optimizers import get_optimizer
from jaxmlp.training.step import make_train_step
from jaxmlp.training.stopping import EarlyStopping, TrainingError

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
    "compile_cache",
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
    "parallel",
    "penalty",
    "plot",
    "predict",
    "predict_many",
    "register_activation",
    "save",
]
