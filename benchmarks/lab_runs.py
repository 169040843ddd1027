"""The Regularization and Ensembles pages' default experiments, timed on the server's executor.

    CNNLAB_EXECUTOR=thread python -m benchmarks.lab_runs [--only overfit,bn,inputs,ensemble]

Plans each comparison as its page does, submits its runs to the executor the settings name
(threads of this process with CNNLAB_EXECUTOR=thread, as a test server runs them; it trains up
to cores − 1 runs at once), and times planning plus training until the last run has handed over
its model. Goal: ≤ 60 s per comparison on two CPU cores. It prints what each one showed: every
arm's best epoch and the validation loss and accuracy it ended with; for the ensemble, each
member's accuracy against the averaged and the voted ensemble's. The baseline, in the same
process, is the overfitting comparison's runs by the engine alone, one after another.
"""

from __future__ import annotations

import argparse
import time

import torch

from models.training.engine import train
from models.training.ensembles import (
    combine,
    member_probabilities,
    plan_members,
    validation_data,
)
from models.training.executor import executor_from_settings
from models.training.executor.local import default_threads
from models.training.experiments import PlannedRun
from models.training.regularization import COMPARISONS, plan_comparison, summarize

SHORT = {c.key.removeprefix("regularization."): name for name, c in COMPARISONS.items()}


def timed(runs: list[PlannedRun], start: float) -> tuple[float, list]:
    """Seconds from `start` until every run ended on the executor, and (label, handle) pairs."""
    executor = executor_from_settings()
    try:
        handles = [(run.label, executor.submit(run.request)) for run in runs]
        for _, handle in handles:
            handle.join(timeout=600)
        seconds = time.perf_counter() - start
        print(f"  executor ({executor.describe()}): {len(runs)} runs in {seconds:.1f} s")
    finally:
        executor.close()
    return seconds, handles


def comparison(name: str) -> float:
    """Time one regularization comparison and print each arm's curve read off."""
    print(f"{name}:")
    start = time.perf_counter()
    seconds, handles = timed(plan_comparison(name), start)
    for label, handle in handles:
        s = summarize(handle.snapshot().history)
        if s is None:
            print(f"    {label}: no epoch")
            continue
        print(
            f"    {label:28s} best epoch {s.best_epoch:2d} (val loss {s.best_val_loss:.3f}) · "
            f"last {s.last_epoch:2d}: val loss {s.last_val_loss:.3f}, train loss "
            f"{s.last_train_loss:.3f} · kept: val loss {s.kept_val_loss:.3f}, "
            f"acc {s.kept_val_acc:.1%}"
        )
    return seconds


def ensemble() -> float:
    """Time the five members and print their accuracies against the two ensembles'."""
    print("Ensemble:")
    start = time.perf_counter()
    seconds, handles = timed(plan_members(), start)
    bundles = [h.result().bundle for _, h in handles if h.result() is not None]
    data = validation_data()
    result = combine(member_probabilities(bundles, data.val_x), data.val_y)
    members = ", ".join(f"{a:.1%}" for a in result.member_acc)
    print(
        f"    members {members} · averaged {result.average_acc:.1%} · voted "
        f"{result.vote_acc:.1%} · {len(result.disagree)} of {len(data.val_y)} images disputed"
    )
    return seconds


def engine_alone(name: str) -> float:
    """Seconds for the comparison's runs by the engine alone, one after another."""
    start = time.perf_counter()
    for run in plan_comparison(name):
        for _ in train(run.request.model, run.request.data, run.request.config):
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="overfit,bn,inputs,ensemble")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    times = {}
    for part in args.only.split(","):
        times[part] = ensemble() if part == "ensemble" else comparison(SHORT[part])
    for part, seconds in times.items():
        print(f"{part}: {seconds:.1f} s, goal ≤ 60 s: {'met' if seconds <= 60 else 'NOT met'}")
    if not args.skip_baseline and "overfit" in times:
        torch.set_num_threads(default_threads(1))
        alone = engine_alone(SHORT["overfit"])
        print(
            f"overfit by the engine alone ({torch.get_num_threads()} thread): {alone:.1f} s; "
            f"executor ÷ engine {times['overfit'] / alone:.2f}"
        )


if __name__ == "__main__":
    main()
