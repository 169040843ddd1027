"""Engine against a bare PyTorch loop, each in a worker process: same model, data and batch.

    python -m benchmarks.train_throughput [--rounds 3] [--images 1280] [--batch 64]

The engine trains one epoch through a `LocalPool` of one warm worker (as the app runs it), and
its images per second are read off the run's own step reports (images so far ÷ seconds so far
at the last step report; validation is not counted). The bare loop trains one epoch in a fresh
interpreter of its own (`--bare-worker`, started with subprocess like a pool worker, with the
same torch thread count and the same warm-up) and prints its images per second. Rounds
alternate, so a noisy machine slows both alike; prints each round and the median of the
per-round ratios (goal: the engine keeps ≥ 0.95 of the bare loop's speed with its live
reports on).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from models.data.datasets import prepare, shapes
from models.network.build import build_model
from models.network.presets import DEFAULT_PRESET, PRESETS
from models.training.engine import TrainConfig
from models.training.executor import LocalPool, TrainRequest
from models.training.executor.local import REPO_ROOT, default_threads
from models.training.jobs import FINISHED


def bench_data(images: int):
    spec = PRESETS[DEFAULT_PRESET].spec
    return spec, prepare(shapes(images + images // 4, 0), spec.input_shape, 0.2, 0)


def bare_loop(model, data, batch_size: int) -> float:
    """One epoch of the plainest loop; returns images per second."""
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)
    model.train()
    start = time.perf_counter()
    order = torch.randperm(len(data.train_y))
    for idx in order.split(batch_size):
        x = (data.train_x[idx].float() / 255 - mean) / std
        loss = F.cross_entropy(model(x), data.train_y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(order) / (time.perf_counter() - start)


def bare_worker(images: int, batch_size: int, seed: int, threads: int) -> None:
    """The bare loop's process: the pool worker's thread count and warm-up, then one epoch."""
    torch.set_num_threads(threads)
    conv = torch.nn.Conv2d(3, 8, 3)  # the same warm-up as a pool worker's
    conv(torch.zeros(2, 3, 16, 16)).sum().backward()
    spec, data = bench_data(images)
    print(f"{bare_loop(build_model(spec, seed), data, batch_size):.3f}", flush=True)


def bare(images: int, batch_size: int, seed: int, threads: int) -> float:
    """Images per second of the bare loop in a fresh interpreter."""
    command = [sys.executable, "-m", "benchmarks.train_throughput", "--bare-worker"]
    command += ["--images", str(images), "--batch", str(batch_size)]
    command += ["--seed", str(seed), "--threads", str(threads)]
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=1800
    )
    return float(done.stdout.split()[-1])


def engine(pool: LocalPool, spec, data, batch_size: int, seed: int) -> float:
    """Images per second of one engine epoch in the pool's worker, from its step reports."""
    config = TrainConfig(epochs=1, batch_size=batch_size, device="cpu", log_every=5)
    handle = pool.submit(TrainRequest("throughput", build_model(spec, seed), data, config, spec))
    handle.join()
    snap = handle.snapshot()
    if snap.status != FINISHED:
        raise RuntimeError(f"the engine's run ended {snap.status}: {snap.error or snap.note}")
    last = [m for m in snap.history if m.kind == "step"][-1]
    return last.examples / last.elapsed_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=1280)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="default: the pool's rule")
    parser.add_argument("--bare-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    threads = args.threads or default_threads(1)  # a one-worker pool's default
    if args.bare_worker:
        bare_worker(args.images, args.batch, args.seed, threads)
        return
    pool = LocalPool(1, threads)
    try:
        if not pool.wait_ready():
            raise RuntimeError("the worker did not start")
        spec, data = bench_data(args.images)
        bares, engines = [], []
        for r in range(args.rounds):
            bares.append(bare(args.images, args.batch, r, threads))
            engines.append(engine(pool, spec, data, args.batch, r))
            print(f"round {r + 1}: bare {bares[-1]:.0f} img/s, engine {engines[-1]:.0f} img/s")
    finally:
        pool.close()
    ratios = sorted(e / b for e, b in zip(engines, bares, strict=True))
    b, e = sorted(bares)[len(bares) // 2], sorted(engines)[len(engines) // 2]
    print(
        f"median: bare {b:.0f} img/s, engine {e:.0f} img/s; median of per-round ratios "
        f"{ratios[len(ratios) // 2]:.3f} (TinyVGG, {len(data.train_y)} shapes, "
        f"batch {args.batch}, {threads} threads, each in a worker process)"
    )


if __name__ == "__main__":
    main()
