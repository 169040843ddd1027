"""Why a model decided: attribution methods (Captum), the sanity check, adversarial attacks and
attention maps.

Import from the modules themselves; this package re-exports nothing.
"""
