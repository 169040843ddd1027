"""Timing for the benchmark scripts: seconds of repeated calls, after one warm-up call."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def seconds(fn: Callable[[], object], repeats: int, warm_up: bool = True) -> list[float]:
    """Wall-clock seconds of each of `repeats` calls of `fn`."""
    if warm_up:
        fn()  # first calls pay for lazy initialisation and caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_s(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds per call (steadier than the mean on a noisy machine)."""
    return statistics.median(seconds(fn, repeats))


def best_s(fn: Callable[[], object], repeats: int = 3) -> float:
    """Fastest call in seconds: the least noise-affected figure for short, fixed work."""
    return min(seconds(fn, repeats, warm_up=False))
