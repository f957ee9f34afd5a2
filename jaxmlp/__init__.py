"""jaxmlp: multi-layer perceptrons in JAX with a hand-written backprop proven equal to jax.grad.

>>> import jax, jaxmlp
>>> model = jaxmlp.MLP(sizes=(784, 32, 10), activations=("relu", "softmax"))
>>> params = model.init(jax.random.key(0))
>>> model.num_params
25450
"""

from jaxmlp import data
from jaxmlp.activations import Activation, activation_names, get_activation, register_activation
from jaxmlp.backprop import backprop, deltas, loss
from jaxmlp.check import GradientReport, check_gradients
from jaxmlp.checkpoint import Checkpoint, load, save
from jaxmlp.losses import get_loss, loss_names, penalty
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
    "data",
    "Activation",
    "GradientReport",
    "activation_names",
    "backprop",
    "check_gradients",
    "deltas",
    "get_activation",
    "get_loss",
    "loss",
    "loss_names",
    "penalty",
    "register_activation",
]
