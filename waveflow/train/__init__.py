"""The training engine: one loop that trains every flow model through the `Task` interface.

It imports no model family: tasks come from the registry in `waveflow.task`, configs are typed
by `waveflow.dataclass_dict`, checkpoint files are written and read by `waveflow.checkpoint`
(this package keeps only their rotation, `waveflow.train.rotation`). Public entry points
(import them from their modules so that `import waveflow.train` stays cheap):
`waveflow.train.config.load_config`, `waveflow.train.engine.train`,
`waveflow.train.rotation.latest_checkpoint`.
"""
