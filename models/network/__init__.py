"""What the user builds: layer specs and their validation, the cost budget, the builder, geometry
and formulas, code export and presets.

Import from the modules themselves; this package re-exports nothing.
"""
