"""Where images come from: the user's images, samples, the shapes generator, data sets (built-in,
downloaded, zipped) and augmentation.

Import from the modules themselves; this package re-exports nothing.
"""
