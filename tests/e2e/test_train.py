"""Training in a real browser: start it, watch the curves grow while it runs, stop it, and read
the learning rate off its chart."""

from __future__ import annotations

import re
import time

from .helpers import click_and_wait, expect, goto

MAIN = '[data-testid="stMain"]'
PROGRESS = '[data-testid="stProgress"]'
CHART = '[data-testid="stPlotlyChart"]'
LINE = f"{CHART} path.js-line"


def _step(page) -> int:
    text = page.locator(PROGRESS).first.inner_text()
    found = re.search(r"step ([\d,]+) of", text)
    return int(found.group(1).replace(",", "")) if found else 0


def _line_length(page) -> int:
    lines = page.locator(LINE)
    return len(lines.first.get_attribute("d") or "") if lines.count() else 0


def _wait_until(predicate, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_training_curves_grow_live_and_stop_ends_the_run(app_url, page):
    goto(page, f"{app_url}/train")
    expect(page.locator(MAIN).get_by_text("Press Start training", exact=False)).to_be_visible()
    click_and_wait(page, page.locator(MAIN).get_by_role("button", name="Start training"))
    assert _wait_until(lambda: _step(page) > 0), "no training step was reported"
    first_step, first_length = _step(page), _line_length(page)
    assert _wait_until(lambda: _step(page) > first_step and _line_length(page) > first_length), (
        "the progress and the loss curve did not move"
    )
    page.locator(MAIN).get_by_role("button", name="Stop training").click()
    expect(page.locator(MAIN).get_by_text(re.compile(r"Stopped at step"))).to_be_visible(
        timeout=30_000
    )
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    lr_chart = page.locator(MAIN).locator(CHART).filter(has_text="learning rate")
    ticks = lr_chart.locator(".ytick text")  # a log axis over the one-cycle plan's decades
    expect(ticks.first).to_be_visible()
    expect(ticks.filter(has_text=re.compile(r"^[−-]?1$"))).to_have_count(0)  # not −1…1 at 0
