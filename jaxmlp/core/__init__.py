"""The network and its proof: the model description, activations and losses with their
derivatives, the hand-written δ rule, the argument checks every public function runs, and the
random problems (:mod:`jaxmlp.core.random_problem`) the derivations and ``jaxmlp verify`` are
checked on."""
