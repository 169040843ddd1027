"""The Imbalance page's default comparison: four quick runs, timed on the server's executor.

    CNNLAB_EXECUTOR=thread python -m benchmarks.imbalance_runs [--ratio 10] [--images 1250]

Plans the four arms (plain cross-entropy, class weights, resampling, focal loss) as the page
does, submits them to the executor the settings name (threads of this process with
CNNLAB_EXECUTOR=thread, as a test server would run them), and times planning plus training
until the last run has handed over its model. The baseline, in the same process, is the same
four runs by the engine alone, one after another. Goal: ≤ 60 s in all on two CPU cores. It also
prints what the comparison showed: each method's rare-class recall, accuracy, balanced accuracy
and macro-F1.
"""

from __future__ import annotations

import argparse
import time

import torch

from models.data.shapes import SHAPE_CLASSES
from models.training.engine import train
from models.training.executor import executor_from_settings
from models.training.executor.local import default_threads
from models.training.imbalance import ImbalanceSpec, compute_metrics, plan_imbalance


def on_executor(spec: ImbalanceSpec) -> float:
    """Seconds from planning to the last result, on the configured executor; prints scores."""
    executor = executor_from_settings()
    try:
        start = time.perf_counter()
        handles = [(run.label, executor.submit(run.request)) for run in plan_imbalance(spec)]
        for _, handle in handles:
            handle.join(timeout=600)
        results = {label: handle.result() for label, handle in handles}
        seconds = time.perf_counter() - start
        print(f"executor ({executor.describe()}): 4 runs in {seconds:.1f} s")
    finally:
        executor.close()
    rare = len(SHAPE_CLASSES) - 1
    for label, result in results.items():
        if result is None:
            print(f"  {label}: no result")
            continue
        m = compute_metrics(result.evaluation.confusion)
        print(
            f"  {label:20s} {SHAPE_CLASSES[rare]} recall {m.recall[rare]:.0%} "
            f"({m.support[rare]} images) · accuracy {m.accuracy:.1%} · balanced "
            f"{m.balanced_accuracy:.1%} · macro-F1 {m.macro_f1:.1%}"
        )
    return seconds


def engine_alone(spec: ImbalanceSpec) -> float:
    """Seconds for the same four runs by the engine alone, one after another."""
    start = time.perf_counter()
    for run in plan_imbalance(spec):
        for _ in train(run.request.model, run.request.data, run.request.config):
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratio", type=float, default=ImbalanceSpec.ratio)
    parser.add_argument("--images", type=int, default=ImbalanceSpec.images)
    parser.add_argument("--epochs", type=int, default=ImbalanceSpec.epochs)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    spec = ImbalanceSpec(ratio=args.ratio, images=args.images, epochs=args.epochs)
    seconds = on_executor(spec)
    print(f"goal: ≤ 60 s in all on two cores: {'met' if seconds <= 60 else 'NOT met'}")
    if not args.skip_baseline:
        torch.set_num_threads(default_threads(1))
        alone = engine_alone(spec)
        print(
            f"engine alone, one after another ({torch.get_num_threads()} thread): {alone:.1f} s;"
            f" executor ÷ engine {seconds / alone:.2f}"
        )


if __name__ == "__main__":
    main()
