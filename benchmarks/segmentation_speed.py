"""How fast the Segmentation page's U-Net reaches IoU 0.8 on validation, alone and on the executor.

    python -m benchmarks.segmentation_speed            # the engine alone, then a thread executor
    python -m benchmarks.segmentation_speed --executors thread local

Trains the page's default setup (`SegmentationSetup()`) with and without skip connections.
The baseline is the engine alone in this process, with the worker's torch thread count; each
executor run is timed from `submit` (its workers already warm) to the first epoch report at or
above IoU 0.8, and printed beside the baseline as a ratio. Goal: under 60 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import replace

import torch

from models.training.engine import train
from models.training.executor import executor_from_settings
from models.training.executor.local import default_threads
from models.training.segmentation import SegmentationSetup, segmentation_request

GOAL_IOU = 0.8


def first_at_goal(epochs: list[tuple[float, float]]) -> float:
    """Seconds of the first (seconds, IoU) epoch at or above the goal; NaN if none was."""
    return next((t for t, iou in epochs if iou >= GOAL_IOU), math.nan)


def engine_alone(setup: SegmentationSetup) -> list[tuple[float, float]]:
    """(seconds since the start, validation IoU) after each epoch, by the engine alone."""
    request = segmentation_request(setup)
    start, out = time.perf_counter(), []
    for m in train(request.model, request.data, request.config):
        if m.kind == "epoch":
            out.append((time.perf_counter() - start, m.val_acc))
    return out


def on_executor(kind: str, setup: SegmentationSetup) -> list[tuple[float, float]]:
    """The same, submitted to the executor `kind` ("thread" or "local") and polled."""
    os.environ["CNNLAB_EXECUTOR"] = kind
    pool = executor_from_settings()
    try:
        if kind == "local":
            time.sleep(8)  # let the workers import torch and warm up, as the page's open does
        request = segmentation_request(setup)
        start = time.perf_counter()
        handle = pool.submit(request)
        seen, out = 0, []
        while not handle.join(0.05):
            history = handle.snapshot().history
            for m in history[seen:]:
                if m.kind == "epoch":
                    out.append((time.perf_counter() - start, m.val_acc))
            seen = len(history)
        for m in handle.snapshot().history[seen:]:
            if m.kind == "epoch":
                out.append((time.perf_counter() - start, m.val_acc))
        return out
    finally:
        pool.close()


def line(name: str, epochs: list[tuple[float, float]], baseline: float | None) -> str:
    reach = first_at_goal(epochs)
    final = epochs[-1][1] if epochs else math.nan
    ratio = f", {reach / baseline:.2f}× the engine alone" if baseline and reach == reach else ""
    return (
        f"{name:<28} IoU ≥ {GOAL_IOU} after {reach:5.1f} s{ratio}; final IoU {final:.3f} "
        f"after {epochs[-1][0] if epochs else math.nan:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executors", nargs="*", default=["thread"], choices=["thread", "local"])
    parser.add_argument("--no-skips-too", action="store_true", help="also time the no-skip net")
    args = parser.parse_args()
    torch.set_num_threads(default_threads(1))
    setup = SegmentationSetup()
    print(f"Setup: {setup.describe()}; torch threads {torch.get_num_threads()}")
    segmentation_request(setup)  # draws and caches the scenes outside the timings
    variants = [("skips", setup)]
    if args.no_skips_too:
        variants.append(("no skips", replace(setup, skips=False)))
    for label, variant in variants:
        alone = engine_alone(variant)
        base = first_at_goal(alone)
        print(line(f"{label}: engine alone", alone, None))
        for kind in args.executors:
            print(line(f"{label}: {kind} executor", on_executor(kind, variant), base))


if __name__ == "__main__":
    main()
