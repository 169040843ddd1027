"""Compare runs' quick runs in the real app, against the same runs by the engine alone.

    python -m benchmarks.quick_runs

Opens /experiments in headless Chromium on a fresh `streamlit run app.py`, waits for the
worker pool, presses "Run the experiment" with the page's default (learning rate 0.0001, 0.003
and 0.1: three quick runs), and times the click until the page shows the measured conclusion,
that is until the last run's final curve is drawn. The same three runs by the engine alone, in
this process with the worker's thread count, are the baseline. Goal: one quick run in the app
in ≤ 15 s (the three run one after another on a one-worker pool, so the time per run is the
total ÷ 3 there), and a clear difference between the learning rates.
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.app_server import AppServer, browser_page
from models.training.engine import train
from models.training.executor import default_workers
from models.training.executor.local import default_threads
from models.training.experiments import VARIABLES, parse_values, plan

APP = '[data-testid="stApp"]'
IDLE = f'{APP}[data-test-script-state="notRunning"]'
MAIN = '[data-testid="stMain"]'


def engine_alone() -> tuple[float, dict[str, float]]:
    """Seconds for the three runs (planning included), and each run's final accuracy."""
    variable = VARIABLES["learning rate"]
    start = time.perf_counter()
    _, runs = plan(variable, parse_values(variable, variable.values))
    accuracy = {}
    for run in runs:
        r = run.request
        epochs = [m for m in train(r.model, r.data, r.config) if m.kind == "epoch"]
        accuracy[run.label] = epochs[-1].val_acc
    return time.perf_counter() - start, accuracy


def in_app(timeout_s: float) -> tuple[float, str]:
    with AppServer() as server, browser_page() as page:
        page.goto(f"{server.url}/experiments", wait_until="domcontentloaded")
        page.wait_for_selector(IDLE, state="attached", timeout=120_000)
        time.sleep(10)  # the page started the pool as it opened; let the worker finish warming
        button = page.locator(MAIN).get_by_role("button", name="Run the experiment (3 quick runs)")
        start = time.perf_counter()
        button.click()
        measured = page.locator(MAIN).get_by_text("Measured:", exact=False)
        measured.first.wait_for(timeout=timeout_s * 1000)
        return time.perf_counter() - start, measured.first.inner_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    workers = default_workers()
    torch.set_num_threads(default_threads(workers))
    engine_s, accuracy = engine_alone()
    print(f"engine alone: 3 quick runs in {engine_s:.1f} s ({torch.get_num_threads()} thread)")
    for label, acc in accuracy.items():
        print(f"  {label}: {acc:.1%} validation accuracy after 5 epochs")
    app_s, line = in_app(args.timeout)
    print(f"in app: {app_s:.1f} s from the click to the conclusion ({workers} worker)")
    print(f"  {line.splitlines()[0]}")
    per_run = app_s / 3 * min(workers, 3)
    print(
        f"one quick run in the app: {per_run:.1f} s (goal ≤ 15 s); engine alone "
        f"{engine_s / 3:.1f} s per run; in-app/engine ratio {engine_s / app_s:.2f}"
    )


if __name__ == "__main__":
    main()
