"""The lecture derivations, transcribed literally, one module per deck (see README.md).

Installed as ``jaxmlp.derivations``: ``from jaxmlp.derivations import deck001_sigmoid_network``.
Every module has ``checks(seed) -> list[jaxmlp.check.Check]``, which ``jaxmlp verify`` runs.
"""

MODULES = (
    "deck000_two_three_one",
    "deck001_sigmoid_network",
    "deck002_perceptron",
    "deck003_computation_graph",
    "deck004_layer_k",
)
