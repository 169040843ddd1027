"""Single operations taught on their own: convolution (and its step-by-step arithmetic), kernels and
pooling.

Import from the modules themselves; this package re-exports nothing.
"""
