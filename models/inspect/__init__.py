"""Looking inside a model: activations, filters and feature visualization, receptive fields
(theoretical and effective).

Import from the modules themselves; this package re-exports nothing.
"""
