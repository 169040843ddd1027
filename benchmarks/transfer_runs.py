"""The Transfer learning page's defaults, timed on the server's executor.

    CNNLAB_EXECUTOR=thread python -m benchmarks.transfer_runs [--skip-curve] [--skip-baseline]

Times, as the page runs them, from planning to the last result: the three arms (from scratch,
frozen features + new head, full fine-tuning) on 20 new-shape images per class; the learning
curve (the three arms at 5, 20 and 50 images per class); the drift slider's evaluation of
the shipped model; and the recovery runs on a few shifted images. The baseline, in the same
process, is the three arms by the engine alone, one after another. Goal: each experiment
≤ 60 s on two CPU cores, and a slider move < 1 s. It prints what each one measured.
"""

from __future__ import annotations

import argparse
import time

import torch

from models.training.checkpoint import load_shipped
from models.training.engine import train
from models.training.executor import executor_from_settings
from models.training.executor.local import default_threads
from models.training.transfer import (
    CURVE_SIZES,
    TransferSpec,
    drift_accuracy,
    drift_test_set,
    plan_curve,
    plan_recovery,
    plan_transfer,
)

PRETRAINED = "TinyVGG on shapes"


def on_executor(title: str, runs: list) -> float:
    """Seconds from submitting `runs` to the last result; prints each run's held-out accuracy."""
    executor = executor_from_settings()
    try:
        start = time.perf_counter()
        handles = [(run.label, executor.submit(run.request)) for run in runs]
        for _, handle in handles:
            handle.join(timeout=600)
        seconds = time.perf_counter() - start
        print(f"{title} ({executor.describe()}): {len(runs)} runs in {seconds:.1f} s")
        for label, handle in handles:
            result = handle.result()
            acc = f"{result.evaluation.accuracy:.1%}" if result else "no result"
            print(f"  {label:45s} {acc}")
    finally:
        executor.close()
    return seconds


def slider_move(bundle, drift: str = "blur", strength: float = 0.5) -> float:
    """Seconds for one drift evaluation (what a slider move costs), printing the accuracy."""
    data = drift_test_set(bundle.input_shape)
    drift_accuracy(bundle, data, drift, 0.0)  # warm up
    start = time.perf_counter()
    acc = drift_accuracy(bundle, data, drift, strength)
    seconds = time.perf_counter() - start
    print(f"drift {drift} at {strength}: accuracy {acc:.1%}, {seconds:.2f} s per slider move")
    return seconds


def engine_alone(bundle) -> float:
    """Seconds for the three arms by the engine alone, one after another."""
    start = time.perf_counter()
    for run in plan_transfer(TransferSpec(), bundle):
        for _ in train(run.request.model, run.request.data, run.request.config):
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-curve", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    bundle = load_shipped(PRETRAINED)
    bundle.model.eval()
    slider_move(bundle)
    arms = on_executor("three arms, 20 per class", plan_transfer(TransferSpec(), bundle))
    if not args.skip_curve:
        on_executor("learning curve", plan_curve(CURVE_SIZES, bundle))
    on_executor("recovery on blur 0.5", plan_recovery(bundle, "blur", 0.5))
    print(f"goal: ≤ 60 s per experiment on two cores (three arms: {arms:.1f} s)")
    if not args.skip_baseline:
        torch.set_num_threads(default_threads(1))
        alone = engine_alone(bundle)
        print(
            f"engine alone, one after another ({torch.get_num_threads()} thread): {alone:.1f} s;"
            f" executor ÷ engine {arms / alone:.2f}"
        )


if __name__ == "__main__":
    main()
