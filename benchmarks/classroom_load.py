"""A class opening the same page at once: server CPU per page open, the slowest tab, memory.

    python -m benchmarks.classroom_load [--tabs 10 30] [--pages home,build,convolution,...]
        [--profile stacks.txt]    # py-spy's folded stacks of the server while the tabs run
        [--baseline]              # first the same on a server without ui/server.py's changes

Starts the app (`AppServer`), opens every page once to warm it (imports, shared caches), then
for each class size N opens N headless-Chromium tabs at once, each its own browser context and
so its own Streamlit session (a first visit: the browser downloads the app), then has every tab
click each page in the sidebar at once, as a class following the teacher does, and waits until
every tab has drawn the page's title with the script finished. It reports the web server's CPU
seconds per page open (only the server process: the warm training workers are idle), the
slowest tab's seconds from the clicks, and the server's resident memory per open session. The
browsers run at low priority (`nice`): they stand in for the students' own computers. The
baseline in the same run is one tab alone. Goals (issue 20): ≤ 0.10 s of server CPU per page
open, ≤ 30 MB per idle session.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.app_server import CHROMIUM_FLAGS, CHROMIUM_PATH, WINDOW, AppServer, cpu_seconds
from ui.menu import LINK_TESTID
from ui.server import ADJUSTMENTS, SKIP_ENV

DEFAULT_PAGES = ("home", "build", "convolution", "feature_maps", "saliency", "train")
LOADED = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def resident_mb(pid: int) -> float:
    """The process's resident memory (VmRSS) in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _url(server: AppServer, page: str) -> str:
    return server.url + ("/" if page == "home" else f"/{page}")


def open_tabs(browser, server: AppServer, page: str, n: int) -> tuple[float, float, list]:
    """`n` new sessions open `page` at once, each downloading the app as a first visit does:
    (server CPU s, the slowest tab's s, the tabs)."""
    tabs = [browser.new_context(viewport=WINDOW).new_page() for _ in range(n)]
    for tab in tabs:
        tab.set_default_timeout(600_000)  # a 2-core machine shared with others can be slow
    cpu0, start = cpu_seconds(server.pid), time.monotonic()
    for tab in tabs:
        tab.goto(_url(server, page), wait_until="commit")
    slowest = max(_loaded(tab, start) for tab in tabs)
    time.sleep(1.0)  # let the last runs' bookkeeping finish before reading the CPU
    return cpu_seconds(server.pid) - cpu0, slowest, tabs


def _loaded(tab, start: float, old_title: str | None = None) -> float:
    """Seconds from `start` until the tab shows a new title with its script finished."""
    tab.wait_for_function(
        """old => { const h = document.querySelector("h1");
                    const app = document.querySelector('[data-testid="stApp"]');
                    return h && h.innerText.trim() && h.innerText !== old
                        && app && app.dataset.testScriptState === "notRunning"; }""",
        arg=old_title,
        timeout=600_000,
    )
    return time.monotonic() - start


def navigate(server: AppServer, tabs: list, page: str) -> tuple[float, float]:
    """Every tab clicks `page` in the sidebar menu at once, as a class following the teacher
    does (the app is loaded, the session lives on): (server CPU s, the slowest tab's s)."""
    titles = [tab.locator("h1").first.inner_text() for tab in tabs]
    path = "app.py" if page == "home" else f"pages/{page}.py"
    cpu0, start = cpu_seconds(server.pid), time.monotonic()
    for tab in tabs:
        link = tab.locator(f'[data-testid="{LINK_TESTID}"][data-path="{path}"]').first
        link.click(no_wait_after=True)
    slowest = max(_loaded(tab, start, old) for tab, old in zip(tabs, titles, strict=True))
    time.sleep(1.0)
    return cpu_seconds(server.pid) - cpu0, slowest


@contextlib.contextmanager
def profiled(pid: int, out: str | None) -> Iterator[None]:
    """Sample the server's stacks with py-spy into `out` (folded, one stack a line) meanwhile."""
    if not out:
        yield
        return
    args = [
        "py-spy",
        "record",
        "--pid",
        str(pid),
        "--gil",
        "--format",
        "raw",
        "-o",
        out,
        "--rate",
        "100",
    ]
    spy = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
        spy.wait(30)


BROWSER_NICE = 15  # the tabs stand in for 30 students' own computers: lowest claim on the CPU


def _niced(folder: Path) -> str:
    """A Chromium launcher that runs the browser at low priority (`nice`): in a classroom the
    tabs run on the students' own machines, so here they must not take the CPU from the server
    whose CPU time is measured (with 30 tabs on 2 cores they otherwise slowed it down, and
    its CPU time per page rose with the contention)."""
    launcher = folder / "chromium-niced"
    launcher.write_text(f'#!/bin/sh\nexec nice -n {BROWSER_NICE} {CHROMIUM_PATH} "$@"\n')
    launcher.chmod(0o755)
    return str(launcher)


STOCK = {SKIP_ENV: ",".join(f.__name__ for f in ADJUSTMENTS)}  # a server as Streamlit ships


def measure(
    pages: list[str], sizes: list[int], profile: str | None = None, env: dict | None = None
) -> dict[int, float]:
    """The table for one server; returns the median CPU per page change for each class size."""
    from playwright.sync_api import sync_playwright

    with (
        AppServer(env=env) as server,
        sync_playwright() as pw,
        tempfile.TemporaryDirectory() as tmp,
    ):
        browser = pw.chromium.launch(executable_path=_niced(Path(tmp)), args=list(CHROMIUM_FLAGS))
        _, _, warm = open_tabs(browser, server, pages[0], 1)  # imports, shipped models
        for page in pages[1:]:
            navigate(server, warm, page)
        warm[0].context.close()
        with profiled(server.pid, profile):
            medians = _measure_sizes(browser, server, pages, sizes)
        browser.close()
    return medians


def _measure_sizes(
    browser, server: AppServer, pages: list[str], sizes: list[int]
) -> dict[int, float]:
    """The table: for each class size, a first visit, every page clicked at once, memory."""
    head = ("tabs", "page", "CPU s/open", "slowest tab s", "MB/session")
    print(f"{head[0]:>4} {head[1]:<24} {head[2]:>11} {head[3]:>14} {head[4]:>11}")
    per_open: dict[int, list[float]] = {}
    for n in [1, *sizes]:
        rss0 = resident_mb(server.pid)
        cpu, slowest, tabs = open_tabs(browser, server, "home", n)
        mb = (resident_mb(server.pid) - rss0) / n
        print(f"{n:>4} {'home, first visit':<24} {cpu / n:>11.3f} {slowest:>14.1f} {mb:>11.1f}")
        previous = "home"
        for page in [p for p in pages if p != "home"] + ["home"]:
            if page == previous:
                continue
            cpu, slowest = navigate(server, tabs, page)
            per_open.setdefault(n, []).append(cpu / n)
            print(f"{n:>4} {page:<24} {cpu / n:>11.3f} {slowest:>14.1f}")
            previous = page
        idle = (resident_mb(server.pid) - rss0) / n
        print(f"{n:>4} {'(memory per open session)':<24} {'':>11} {'':>14} {idle:>11.1f}")
        for tab in tabs:
            tab.context.close()
    medians = {n: statistics.median(values) for n, values in per_open.items()}
    for n, median in medians.items():
        print(f"{n} tabs: median server CPU per page change {median:.3f} s (goal ≤ 0.10 s)")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--pages", default=",".join(DEFAULT_PAGES))
    parser.add_argument("--profile", help="write py-spy's folded stacks of the server here")
    parser.add_argument("--baseline", action="store_true", help="first measure a stock server")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each row as it is measured
    pages = args.pages.split(",")
    stock = None
    if args.baseline:
        print(f"baseline: a server with {STOCK}")
        stock = measure(pages, args.tabs, env=STOCK)
        print("the app as it runs:")
    ours = measure(pages, args.tabs, args.profile)
    for n in stock or {}:
        print(f"{n} tabs: CPU per page change {ours[n] / stock[n]:.2f}x the baseline's")


if __name__ == "__main__":
    main()
