"""One training engine for one or many models on one or many devices and processes: the Optax
step, the epoch written once for one model (many models are its ``vmap``), and the host loop."""
