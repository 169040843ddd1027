"""Time the Gradient flow page's defaults: one redraw of the norms, and its two experiments.

    CNNLAB_EXECUTOR=thread python -m benchmarks.gradient_flow_runs

The norms are measured as the page does on its defaults (four networks, depth 20). Each
experiment (plain-20 against residual-20; the 2 × 2 depth × width sweep, depths 8 and 14) is
planned and run to its end on the executor the settings choose (CNNLAB_EXECUTOR=thread:
threads of this process, as many at once as the server's workers), from planning to the last
run's end.
Goals: a redraw in < 1 s and each experiment in ≤ 60 s on two cores; CPU seconds are printed
beside the wall-clock ones, since a busy machine stretches only the latter.
"""

from __future__ import annotations

import time

import torch

from models.inspect import gradient_flow as flow
from models.training.executor import default_workers, executor_from_settings
from models.training.executor.local import default_threads
from models.training.experiments import PlannedRun

REDRAW_GOAL_S, EXPERIMENT_GOAL_S = 1.0, 60.0
DEFAULT_VARIANTS = ["plain", "residual", "batchnorm", "plain, sigmoid"]


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def redraw() -> tuple[float, float]:
    """Wall and CPU seconds of the page's default gradient measurement (after one warm-up)."""
    flow.compare_flow(DEFAULT_VARIANTS[:1], flow.FlowSettings())
    wall, cpu = _clock()
    flow.compare_flow(DEFAULT_VARIANTS, flow.FlowSettings())
    return time.perf_counter() - wall, time.process_time() - cpu


def experiment(make_runs) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU seconds from planning to the last run's end, and each run's accuracy."""
    wall, cpu = _clock()
    runs: list[PlannedRun] = make_runs()
    executor = executor_from_settings()
    handles = [(run.label, executor.submit(run.request)) for run in runs]
    accuracy = {}
    for label, handle in handles:
        handle.join(600)
        epochs = [m for m in handle.snapshot().history if m.kind == "epoch"]
        accuracy[label] = epochs[-1].val_acc if epochs else float("nan")
    return time.perf_counter() - wall, time.process_time() - cpu, accuracy


def main() -> None:
    torch.set_num_threads(default_threads(default_workers()))
    wall, cpu = redraw()
    print(
        f"norms, 4 networks at depth 20: {wall:.2f} s wall, {cpu:.2f} s CPU "
        f"(goal < {REDRAW_GOAL_S:.0f} s; CPU/goal {cpu / REDRAW_GOAL_S:.2f})"
    )
    for name, make in (
        ("plain-20 vs residual-20", lambda: flow.plan_degradation(20)),
        ("depth (8, 14) × width (4, 8)", lambda: flow.plan_sweep((8, 14), (4, 8))),
    ):
        wall, cpu, accuracy = experiment(make)
        print(
            f"{name}: {wall:.1f} s wall, {cpu:.1f} s CPU ({default_workers()} worker, "
            f"{torch.get_num_threads()} thread; goal ≤ {EXPERIMENT_GOAL_S:.0f} s, "
            f"wall/goal {wall / EXPERIMENT_GOAL_S:.2f})"
        )
        for label, acc in accuracy.items():
            print(f"  {label}: {acc:.1%} validation accuracy")


if __name__ == "__main__":
    main()
