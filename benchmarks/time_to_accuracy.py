"""Seconds until the Train page's default run first reaches a validation accuracy.

    python -m benchmarks.time_to_accuracy [--target 0.95] [--epochs 30]

The page's defaults: 4,000 shapes (position spread 0.3), TinyVGG, Adam one-cycle at 3e-3, batch 32
(TrainConfig's defaults) and random flips (on by default for shapes), with more epochs allowed
so the target can be reached. Prints the time and epoch at which the
target was first met, or the best accuracy reached.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from models.data.datasets import prepare, shapes
from models.network.build import build_model
from models.network.presets import DEFAULT_PRESET, PRESETS
from models.training.engine import RANDOM_FLIPS, TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--images", type=int, default=4000)
    args = parser.parse_args()
    spec = PRESETS[DEFAULT_PRESET].spec
    data = prepare(shapes(args.images, 0), spec.input_shape, 0.2, 0)
    config = replace(TrainConfig(), epochs=args.epochs, augmentation=RANDOM_FLIPS)
    best = 0.0
    for report in train(build_model(spec, 0), data, config):
        if report.kind != "epoch":
            continue
        best = max(best, report.val_acc)
        print(
            f"epoch {report.epoch}: val acc {report.val_acc:.3f} at {report.elapsed_s:.0f} s",
            flush=True,
        )
        if report.val_acc >= args.target:
            print(
                f"reached {args.target:.0%} after {report.elapsed_s:.0f} s (epoch {report.epoch})"
            )
            return
    print(f"did not reach {args.target:.0%} in {args.epochs} epochs; best {best:.3f}")


if __name__ == "__main__":
    main()
