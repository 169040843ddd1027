"""Which recipe should the Train page's default run use? Candidates side by side, same data.

    python -m benchmarks.default_recipe [--seeds 0] [--epochs 10] [--only NAME ...]

Every candidate trains TinyVGG (the default network, unchanged) on the page's default data
(4,000 shapes, position spread 0.3, random flips) for the same number of epochs, and prints its
final and best validation accuracy and its time. The Train page's default (`TrainConfig()`)
is the recipe chosen from this table; the README quotes the run.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from models.data.datasets import prepare, shapes
from models.network.build import build_model
from models.network.presets import DEFAULT_PRESET, PRESETS
from models.training.engine import RANDOM_FLIPS, TrainConfig, train

BASE = TrainConfig(augmentation=RANDOM_FLIPS, device="cpu")
CANDIDATES = {
    "first wave (Adam 1e-3, constant, batch 32)": replace(
        BASE, optimizer="Adam", lr=1e-3, schedule="constant", batch_size=32
    ),
    "Adam 3e-3 one-cycle, batch 32": replace(BASE, lr=3e-3, schedule="one-cycle"),
    "Adam 3e-3 one-cycle, batch 64": replace(BASE, lr=3e-3, schedule="one-cycle", batch_size=64),
    "Adam 1e-2 one-cycle, batch 64": replace(BASE, lr=1e-2, schedule="one-cycle", batch_size=64),
    "Adam 3e-3 cosine, batch 32, smoothing 0.1": replace(
        BASE, lr=3e-3, schedule="cosine", label_smoothing=0.1
    ),
    "Adam 3e-3 one-cycle, batch 32, smoothing 0.1": replace(
        BASE, lr=3e-3, schedule="one-cycle", label_smoothing=0.1
    ),
}


def run(config: TrainConfig, seed: int, data) -> tuple[float, float, float]:
    spec = PRESETS[DEFAULT_PRESET].spec
    config = replace(config, seed=seed)
    start = time.perf_counter()
    accs = [r.val_acc for r in train(build_model(spec, seed), data, config) if r.kind == "epoch"]
    return accs[-1], max(accs), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--only", nargs="*", default=None, help="candidate names (substrings)")
    args = parser.parse_args()
    spec = PRESETS[DEFAULT_PRESET].spec
    print(f"{torch.get_num_threads()} threads, {args.epochs} epochs", flush=True)
    for name, config in CANDIDATES.items():
        if args.only and not any(part in name for part in args.only):
            continue
        for seed in args.seeds:
            data = prepare(shapes(4000, 0, 0.0, 1.0, 0.3), spec.input_shape, 0.2, seed)
            last, best, seconds = run(replace(config, epochs=args.epochs), seed, data)
            print(
                f"{name:48s} seed {seed}: final {last:.3f}, best {best:.3f}, {seconds:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
