"""The Backpropagation page in a real browser: click a weight, see the inputs it touched lit."""

from __future__ import annotations

from viz import backprop as viz

from .helpers import expect, goto, wait_for_run

MAIN = '[data-testid="stMain"]'
EXCEPTION = '[data-testid="stException"]'
X_RANGE, Y_RANGE = viz.X_RANGE, viz.Y_RANGE[::-1]  # y runs from the top down


def outlines(chart):
    """The outline rectangles plotly draws as shape paths."""
    return chart.locator(".shapelayer path")


def test_clicking_a_weight_lights_up_the_inputs_that_sum_into_its_gradient(app_url, page):
    goto(page, f"{app_url}/backprop")
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    expect(chart.locator(".nsewdrag").first).to_be_attached()
    expect(outlines(chart)).to_have_count(0)  # step 0: nothing computed, nothing outlined
    wanted = page.locator(MAIN).get_by_text("w[0,1] touched one input in each of the 9 patches")
    x, y = viz.cell_position("w", 0, 1)
    for _ in range(5):  # plotly finds the point under the cursor on hover; a busy page may miss
        wait_for_run(page)
        chart.scroll_into_view_if_needed()
        area = chart.locator(".nsewdrag").first.bounding_box()
        px = area["x"] + area["width"] * (x - X_RANGE[0]) / (X_RANGE[1] - X_RANGE[0])
        py = area["y"] + area["height"] * (y - Y_RANGE[0]) / (Y_RANGE[1] - Y_RANGE[0])
        page.mouse.move(px - 3, py - 3)
        page.mouse.move(px, py)
        page.wait_for_timeout(500)
        page.mouse.click(px, py)
        try:
            expect(wanted).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            continue
    expect(wanted).to_be_visible()
    wait_for_run(page)
    # the weight, its gradient cell, nine inputs and nine ∂L/∂z cells: 20 outlines
    expect(outlines(chart)).to_have_count(20)
    expect(page.locator(MAIN).get_by_text("Hand formula", exact=True)).to_be_visible()
    expect(page.locator(EXCEPTION)).to_have_count(0)
