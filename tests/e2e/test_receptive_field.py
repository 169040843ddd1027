"""The Receptive field page in a real browser: pick a unit, by keyboard or click, see its box."""

from __future__ import annotations

import re

from .helpers import expect, goto, wait_for_run

MAIN = '[data-testid="stMain"]'
EXCEPTION = '[data-testid="stException"]'
CAPTION = re.compile(r"Unit \((\d+), (\d+)\) sees rows (-?\d+)–(-?\d+), columns (-?\d+)–(-?\d+)")


def unit_caption(page):
    return page.locator(MAIN).get_by_text(CAPTION)


def caption_numbers(page) -> tuple[int, ...]:
    return tuple(int(g) for g in CAPTION.search(unit_caption(page).inner_text()).groups())


def box_outline(page):
    """The field's rectangle, drawn by plotly as a shape path in the box figure."""
    return page.locator('[data-testid="stPlotlyChart"]').nth(1).locator(".shapelayer path")


def test_moving_the_unit_slider_moves_the_box_caption(app_url, page):
    goto(page, f"{app_url}/receptive_field")
    expect(unit_caption(page)).to_be_visible(timeout=30_000)
    expect(box_outline(page).first).to_be_attached(timeout=30_000)
    before = caption_numbers(page)
    page.locator(MAIN).get_by_role("slider").first.focus()
    page.keyboard.press("ArrowRight")
    expect(unit_caption(page)).not_to_have_text(unit_caption(page).inner_text(), timeout=30_000)
    wait_for_run(page)
    after = caption_numbers(page)
    assert after[0] == before[0] + 1 and after[1] == before[1]
    jump = after[2] - before[2]  # the box moves down by the jump, keeping its size
    assert jump > 0 and after[3] - after[2] == before[3] - before[2]
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_clicking_a_unit_on_the_feature_map_picks_it(app_url, page):
    goto(page, f"{app_url}/receptive_field")
    expect(unit_caption(page)).to_be_visible(timeout=30_000)
    before = caption_numbers(page)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    h = w = 13  # TinyVGG's last layer, pool2, is 13×13: unit (r, c) sits at (c + 0.5) / 13
    row, col = 2, 10
    wanted = unit_caption(page).filter(has_text=f"Unit ({row}, {col}) sees")
    for _ in range(5):  # plotly finds the point under the cursor on hover; a busy page may miss
        wait_for_run(page)
        chart.scroll_into_view_if_needed()
        area = chart.locator(".nsewdrag").first.bounding_box()  # plotting area, axes excluded
        x = area["x"] + area["width"] * (col + 0.5) / w
        y = area["y"] + area["height"] * (row + 0.5) / h
        page.mouse.move(x - 3, y - 3)
        page.mouse.move(x, y)
        page.wait_for_timeout(500)
        page.mouse.click(x, y)
        try:
            expect(wanted).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            continue
    expect(wanted).to_be_visible()
    wait_for_run(page)
    assert caption_numbers(page) != before
    expect(page.locator(EXCEPTION)).to_have_count(0)
