"""One training engine for one or many models on one or many devices and processes.

The walk from :func:`jaxmlp.fit` to the compiled epoch, and the types met on it:

1. **The doors.** :func:`~jaxmlp.training.fit.fit` (one model),
   :func:`~jaxmlp.training.many.fit_many` (N stacked models: ``model.init(keys)``) and their
   ``*_as_processes`` twins pass the user's keywords, unchanged, to one builder.
2. **The builder** (:func:`~jaxmlp.training.build.train_run`) checks every argument before any
   work, turns the model and optimizer into a :class:`~jaxmlp.training.step.Config` (the static
   description of one update, a jit argument), places the rows on a
   :class:`~jaxmlp.parallel.layout.Layout` (one device, rows or models over a ``Mesh``, or one
   shard per process), records the optimizer (its rate and a digest of its first updates,
   :mod:`~jaxmlp.training.optimizer_record`), agrees with the other processes, holds out the
   validation rows
   (:class:`~jaxmlp.training.setup.Data`), and describes everything by keyword as one
   :class:`~jaxmlp.training.loop.Run`.
3. **The host loop** (:func:`~jaxmlp.training.loop.train`): hold the checkpoint path (one writer,
   :mod:`~jaxmlp.training.writer`), start or resume, then per epoch run
   the compiled epoch, stop a diverged model (:class:`~jaxmlp.TrainingError` when none is left),
   record, report (:class:`~jaxmlp.training.progress.Progress`), checkpoint, stop early
   (:class:`~jaxmlp.EarlyStopping` and its per-model
   :class:`~jaxmlp.training.stopping.Tracker`).
4. **The epoch** (:func:`~jaxmlp.training.epoch.epoch_program`): one compiled call per epoch,
   described by a :class:`~jaxmlp.training.epoch.Plan` and kept in jaxmlp's bounded program cache
   (:data:`jaxmlp.core.programs.PROGRAMS`); ``lax.scan`` over the batches of
   :func:`~jaxmlp.training.step.step`: the δ rule (or ``jax.grad``) and one Optax update. N
   models are its ``jax.vmap``.

The caller gets back the parameters and a :class:`~jaxmlp.History`. Twelve jaxmlp types in all
(fourteen before the one builder): MLP, Config, Layout (over JAX's Mesh), Data, Run, Plan,
Programs, Progress, Tracker, EarlyStopping, History and TrainingError; the optimizer is Optax's
``GradientTransformation`` (a :class:`~jaxmlp.training.optimizers.NamedOptimizer` when named).
"""
