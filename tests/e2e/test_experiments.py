"""Compare runs in a real browser: a three-value learning-rate experiment, drawn live, then
compared with the learning rate marked as what differs."""

from __future__ import annotations

from .helpers import click_and_wait, expect, goto

MAIN = '[data-testid="stMain"]'
CHART = '[data-testid="stPlotlyChart"]'


def test_a_three_value_learning_rate_experiment_is_drawn_and_compared(app_url, page):
    goto(page, f"{app_url}/experiments")
    main = page.locator(MAIN)
    expect(main.get_by_text("Pick a setting and its values", exact=False)).to_be_visible()
    click_and_wait(page, main.get_by_role("button", name="Run the experiment (3 quick runs)"))
    live = main.locator(CHART).first
    for value in ("0.0001", "0.003", "0.1"):  # one labelled curve per value, in the legend
        expect(live.get_by_text(f"learning rate = {value}")).to_be_visible(timeout=60_000)
    expect(main.get_by_text("Measured:", exact=False)).to_be_visible(timeout=180_000)
    expect(main.get_by_text("listed first: lr", exact=False)).to_be_visible(timeout=30_000)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
