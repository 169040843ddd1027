"""Four Train-page default runs submitted at once (four sessions), against one run alone.

    python -m benchmarks.concurrent_runs [--epochs 2] [--images 4000] [--workers N]

A `LocalPool` with the server's default sizes (workers = cores − 1, ≥ 1; threads = (cores − 1) ÷
workers; the per-run memory cap of CNNLAB_JOB_MEMORY_MB, default 2048), or --workers N. Each
run is the page's default (TinyVGG, 4,000 shapes, `TrainConfig()` with random flips, val 0.2,
seed 0) but for --epochs, 2 by default to keep the benchmark short (the page trains 10).
After one small warm-up run per worker, one run alone, then four submitted together: the wall
time from submit to the end of each run (evaluation included), and throughput as training
images over seconds. Prints total throughput of the four ÷ the
run alone (about the number of workers at best, when cores are not shared out further) and the
peak resident memory of each worker (VmHWM: the high-water mark over the process's life, so
the second reading covers the lone run too).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from models.data.datasets import shapes
from models.network.presets import DEFAULT_PRESET, PRESETS
from models.training.engine import RANDOM_FLIPS, TrainConfig
from models.training.executor import (
    LocalPool,
    default_workers,
    job_memory_mb,
    training_request,
)
from models.training.jobs import FINISHED

RUNS = 4


def peak_mb(pid: int | None) -> float:
    """VmHWM of `pid` in MB (nan when it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return float("nan")


def batch(pool: LocalPool, data, config: TrainConfig, n: int) -> list[tuple[float, int]]:
    """Submit `n` runs at once; (seconds from submit to end, images trained) of each."""
    spec = PRESETS[DEFAULT_PRESET].spec
    requests = [
        training_request(spec, None, data, config, 0.2, f"run {i + 1}", pool.memory_mb)
        for i in range(n)
    ]
    start = time.perf_counter()
    handles = [pool.submit(r) for r in requests]
    out = []
    for handle in handles:  # in submission order; each one's own end time
        handle.join()
        ended = time.perf_counter() - start
        snap = handle.snapshot()
        if snap.status != FINISHED:
            raise RuntimeError(f"{handle.name} ended {snap.status}: {snap.error or snap.note}")
        out.append((ended, snap.history[-1].examples))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="per run (the page trains 10)")
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=None, help="default: cores − 1, ≥ 1")
    args = parser.parse_args()
    pool = LocalPool(args.workers or default_workers(), None, job_memory_mb())
    try:
        start = time.perf_counter()
        if not pool.wait_ready():
            raise RuntimeError("the workers did not start")
        print(f"{pool.describe()}; ready in {time.perf_counter() - start:.1f} s", flush=True)
        config = TrainConfig(epochs=args.epochs, augmentation=RANDOM_FLIPS)
        # one small run per worker first: a worker's first run pays for lazy set-up
        batch(pool, shapes(200, 1), TrainConfig(epochs=1), pool.slots)
        data = shapes(args.images, 0, 0.0, 1.0, 0.3)
        [(alone_s, alone_n)] = batch(pool, data, config, 1)
        alone = alone_n / alone_s
        alone_peaks = [peak_mb(p) for p in pool.pids()]
        print(f"one run alone: {alone_s:.1f} s, {alone:.0f} images/s", flush=True)
        print("  worker peak RSS: " + ", ".join(f"{m:.0f} MB" for m in alone_peaks), flush=True)
        runs = batch(pool, data, config, RUNS)
        wall = max(s for s, _ in runs)
        total = sum(n for _, n in runs) / wall
        for i, (seconds, _) in enumerate(runs, 1):
            print(f"run {i} of {RUNS}: ended after {seconds:.1f} s")
        peaks = [peak_mb(p) for p in pool.pids()]
        print("  worker peak RSS (lifetime): " + ", ".join(f"{m:.0f} MB" for m in peaks))
        print(
            f"{RUNS} at once: {total:.0f} images/s in all over {wall:.1f} s; ÷ one alone "
            f"{total / alone:.2f} ({pool.slots} workers × {pool.threads} threads, "
            f"{args.epochs} epochs, {args.images} shapes; max worker peak {max(peaks):.0f} MB)"
        )
    finally:
        pool.close()


if __name__ == "__main__":
    main()
