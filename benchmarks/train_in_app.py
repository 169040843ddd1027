"""The Train page's default run in the real app, against the engine alone on the same settings.

    python -m benchmarks.train_in_app [--epochs 10] [--images 4000] [--cold]

1. The engine alone, in this process, with the torch thread count of one of the server's
   workers (CNNLAB_JOB_THREADS, else `default_threads`: (cores − 1) ÷ workers, ≥ 1): TinyVGG on
   the page's default shapes and `TrainConfig()` with random flips, validation share 0.2, seed
   0. Timed: prepare (fit, split, statistics) + train; the shapes are drawn beforehand, as the
   page draws them before Start is pressed.
2. The app: `streamlit run app.py` (headless, 127.0.0.1, a free port), /train in headless
   Chromium, Start training with the page's defaults (Epochs and Images set only when the
   options differ from them), and the wall time from the click until the progress line says
   "Finished". The page redraws its live panel once a second, so this time is quantised to
   about a second. By default the server's worker pool is warmed first by a run that is started
   and stopped at once (as on a server that has trained before); --cold times the first run
   of a fresh server, worker start-up included.

Prints both times, `in-app/engine ratio R` (= engine seconds ÷ in-app seconds; 1.0 means the
app adds nothing) and the CPU seconds the web process, its training workers and Chromium spent
during the in-app run (from /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import time

import torch

from benchmarks.app_server import (
    AppServer,
    browser_page,
    command_name,
    cpu_by_process,
    cpu_used,
    descendants,
)
from models.data.datasets import prepare, shapes
from models.network.build import build_model
from models.network.presets import DEFAULT_PRESET, PRESETS
from models.training.engine import RANDOM_FLIPS, TrainConfig, train
from models.training.executor import default_workers
from models.training.executor.local import default_threads

PAGE_EPOCHS, PAGE_IMAGES = TrainConfig().epochs, 4000  # the Train page's defaults
APP = '[data-testid="stApp"]'
IDLE = f'{APP}[data-test-script-state="notRunning"]'
BUSY = f'{APP}:not([data-test-script-state="notRunning"])'
MAIN = '[data-testid="stMain"]'
PROGRESS = '[data-testid="stProgress"]'


def worker_threads() -> int:
    """The torch threads of one of the server's training workers, by the server's rule."""
    workers = int(os.environ.get("CNNLAB_TRAIN_WORKERS") or default_workers())
    return int(os.environ.get("CNNLAB_JOB_THREADS") or default_threads(workers))


def engine_alone(epochs: int, images: int) -> tuple[float, float]:
    """(seconds for prepare + train, final validation accuracy) in this process."""
    spec = PRESETS[DEFAULT_PRESET].spec
    data = shapes(images, 0, 0.0, 1.0, 0.3)  # the page's sliders at their defaults
    config = TrainConfig(epochs=epochs, augmentation=RANDOM_FLIPS)
    start = time.perf_counter()
    prepared = prepare(data, spec.input_shape, 0.2, config.seed)
    model = build_model(spec, seed=config.seed)
    accuracy = float("nan")
    for report in train(model, prepared, config):
        if report.kind == "epoch":
            accuracy = report.val_acc
    return time.perf_counter() - start, accuracy


def settle(page, timeout_ms: float = 120_000) -> None:
    """Wait for the rerun an input just started (if any) to finish."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # already over, or none started
        page.wait_for_selector(BUSY, state="attached", timeout=1_500)
    page.wait_for_selector(IDLE, state="attached", timeout=timeout_ms)


def set_number(page, label: str, value: int) -> None:
    box = page.locator(MAIN).get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    settle(page)


def progress(page, pattern: str, timeout_ms: float) -> str:
    """Wait until the progress line starts with `pattern`; its text."""
    line = page.locator(PROGRESS).filter(has_text=re.compile(rf"^\s*{pattern}"))
    line.first.wait_for(timeout=timeout_ms)
    return line.first.inner_text().strip()


def chromium_pids() -> list[int]:
    return [p for p in descendants(os.getpid()) if command_name(p).startswith("chrom")]


def in_app(epochs: int, images: int, cold: bool, timeout_s: float) -> dict:
    """Drive the real app; the measured seconds, the last progress line and CPU seconds."""
    with AppServer() as server, browser_page() as page:
        page.goto(f"{server.url}/train", wait_until="domcontentloaded")
        page.wait_for_selector(IDLE, state="attached", timeout=120_000)
        if images != PAGE_IMAGES:
            set_number(page, "Images", images)
        if epochs != PAGE_EPOCHS:
            set_number(page, "Epochs", epochs)
        start_button = page.locator(MAIN).get_by_role("button", name="Start training")
        if not cold:  # start the pool's workers with a run that is stopped at once
            start_button.click()
            progress(page, "Running", 300_000)
            page.locator(MAIN).get_by_role("button", name="Stop training").click()
            progress(page, "Stopped", 60_000)
            settle(page)
        watched = [server.pid, *descendants(server.pid)]
        browser = chromium_pids()
        cpu_before = cpu_by_process(watched), cpu_by_process(browser)
        start = time.perf_counter()
        start_button.click()
        line = progress(page, "Finished", timeout_s * 1000)
        seconds = time.perf_counter() - start
        workers = descendants(server.pid)
        web = cpu_used(cpu_before[0], cpu_by_process([server.pid]))
        pool = cpu_used(cpu_before[0], cpu_by_process(workers))
        chrome = cpu_used(cpu_before[1], cpu_by_process(chromium_pids()))
        errors = page.locator('[data-testid="stException"]').count()
    return {
        "seconds": seconds,
        "line": line,
        "web_cpu": web,
        "worker_cpu": pool,
        "chromium_cpu": chrome,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=PAGE_EPOCHS, help="the page's Epochs")
    parser.add_argument("--images", type=int, default=PAGE_IMAGES, help="the page's Images")
    parser.add_argument("--cold", action="store_true", help="time a fresh server's first run")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for it")
    args = parser.parse_args()
    threads = worker_threads()
    torch.set_num_threads(threads)
    print(f"engine alone: {threads} threads, {args.epochs} epochs, {args.images} shapes")
    engine_s, accuracy = engine_alone(args.epochs, args.images)
    print(f"engine alone: {engine_s:.1f} s (prepare + train), val acc {accuracy:.3f}", flush=True)
    print(f"in app: {'cold server' if args.cold else 'warm pool'}…", flush=True)
    app = in_app(args.epochs, args.images, args.cold, args.timeout)
    print(f"in app: {app['seconds']:.1f} s from the click to Finished", flush=True)
    print(f"  progress line: {app['line']}")
    print(
        f"  CPU seconds during the run: web process {app['web_cpu']:.1f}, training workers "
        f"{app['worker_cpu']:.1f}, Chromium {app['chromium_cpu']:.1f}"
    )
    if app["errors"]:
        print(f"  the page shows {app['errors']} exception(s)")
    print(
        f"engine {engine_s:.1f} s, in app {app['seconds']:.1f} s: in-app/engine ratio "
        f"{engine_s / app['seconds']:.3f} ({args.epochs} epochs, {args.images} shapes, "
        f"{threads} threads, {'cold' if args.cold else 'warm'} pool)"
    )


if __name__ == "__main__":
    main()
