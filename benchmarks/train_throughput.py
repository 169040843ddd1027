"""Engine against a bare PyTorch loop: same model, data and batch size, alternating rounds.

    python -m benchmarks.train_throughput [--rounds 3] [--images 1024]

Prints images per second for each, round by round, and the median of the per-round ratios
(goal: the engine keeps ≥ 0.95 of the bare loop's speed with its live metrics on). Both run in
this process, one right after the other, so a noisy machine slows both alike.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from models.data.datasets import prepare, shapes
from models.network.build import build_model
from models.network.presets import DEFAULT_PRESET, PRESETS
from models.training.engine import TrainConfig, train


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


def engine(model, data, batch_size: int) -> float:
    """One epoch of the engine with live reports every 5 steps, without validation time."""
    config = TrainConfig(epochs=1, batch_size=batch_size, device="cpu", log_every=5)
    start = time.perf_counter()
    for report in train(model, data, config):
        if report.kind == "step":
            end = time.perf_counter()
    return report.examples / (end - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=1280)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    spec = PRESETS[DEFAULT_PRESET].spec
    data = prepare(shapes(args.images + args.images // 4, 0), spec.input_shape, 0.2, 0)
    bare, eng = [], []
    for r in range(args.rounds):
        bare.append(bare_loop(build_model(spec, r), data, args.batch))
        eng.append(engine(build_model(spec, r), data, args.batch))
        print(f"round {r + 1}: bare {bare[-1]:.0f} img/s, engine {eng[-1]:.0f} img/s", flush=True)
    ratios = sorted(e / b for e, b in zip(eng, bare, strict=True))
    b, e = sorted(bare)[len(bare) // 2], sorted(eng)[len(eng) // 2]
    print(
        f"median: bare {b:.0f} img/s, engine {e:.0f} img/s; median of per-round ratios "
        f"{ratios[len(ratios) // 2]:.3f} (TinyVGG, {len(data.train_y)} shapes, "
        f"batch {args.batch}, {torch.get_num_threads()} threads)"
    )


if __name__ == "__main__":
    main()
