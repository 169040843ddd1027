"""Training runs: the engine, background jobs, evaluation, checkpoints, the shipped models'
pretraining and the augmentation experiment.

Import from the modules themselves; this package re-exports nothing.
"""
