"""The network and its proof: the model description, activations and losses with their
derivatives, the hand-written δ rule, and the argument checks every public function runs."""
