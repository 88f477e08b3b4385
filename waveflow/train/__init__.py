"""The training engine: one loop that trains every flow model through the `Task` interface.

Public entry points (import them from their modules so that `import waveflow.train` stays
cheap): `waveflow.train.task.Task`, `waveflow.train.registry.get_task`,
`waveflow.train.config.load_config`, `waveflow.train.engine.train`,
`waveflow.train.checkpoint.load_checkpoint` / `load_model`.
"""
