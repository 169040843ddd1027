"""Seeded randomness that other sessions cannot disturb, and that disturbs no one.

Prefer a `torch.Generator` passed as an argument. Some library code draws from torch's global
generator and offers no such argument (torchvision's v2 transforms sample their parameters with
`torch.rand`, dropout draws its masks there). For those, `private_stream` runs a block on a
stream of its own: under one process-wide lock, it swaps in the stream's state, runs the block,
saves the advanced state and puts back the global one. Every user of the global generator that
must be reproducible goes through it, so two sessions never interleave their draws.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

GLOBAL_RNG_LOCK = threading.RLock()  # held while a private stream owns the global generators


class RandomStream:
    """The saved state of a private stream of torch's (and NumPy's) global generators.

    Made from a seed without touching the global generators: the states are those that
    `torch.manual_seed(seed)` and `np.random.seed(seed)` would leave. With `numpy=False` the
    stream covers torch's generator alone: enough for torchvision's transforms and dropout, and
    a step cheaper by NumPy's slow state copy (about 0.1 ms each way).
    """

    def __init__(self, seed: int, numpy: bool = True) -> None:
        self.torch_state = torch.Generator().manual_seed(seed).get_state()
        self.np_state = np.random.RandomState(seed % 2**32).get_state() if numpy else None


@contextmanager
def private_stream(stream: RandomStream | int) -> Iterator[RandomStream]:
    """Run a block on `stream` (or a fresh stream seeded with an int), leaving the global alone.

    CPU generators only: CUDA kernels draw from per-device generators that this does not swap.
    """
    if isinstance(stream, int):
        stream = RandomStream(stream)
    with_numpy = stream.np_state is not None
    with GLOBAL_RNG_LOCK:
        torch_before = torch.get_rng_state()
        torch.set_rng_state(stream.torch_state)
        if with_numpy:
            np_before = np.random.get_state()
            np.random.set_state(stream.np_state)
        try:
            yield stream
        finally:
            stream.torch_state = torch.get_rng_state()
            torch.set_rng_state(torch_before)
            if with_numpy:
                stream.np_state = np.random.get_state()
                np.random.set_state(np_before)
