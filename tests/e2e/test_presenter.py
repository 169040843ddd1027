"""Presenter mode on a 1280×720 projector: larger text and figure labels than without it, measured
in the browser, nothing wider than the screen, no exception. Screenshots of each page, with and
without it, go to tests/e2e/artifacts/ for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import expect, goto

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PROJECTOR = {"width": 1280, "height": 720}
LOAD_MS = 180_000  # a first run on a busy two-core machine imports torch and draws figures
MAIN = '[data-testid="stMain"]'
TEXT = f'{MAIN} [data-testid="stMarkdownContainer"] p'
LABEL = f'{MAIN} [data-testid="stWidgetLabel"] p'
TICK = f"{MAIN} .js-plotly-plot .xtick text"
EXCEPTION = '[data-testid="stException"]'
# Each page once plain and once presented; a figure is on screen when each page opens.
PAGES = {"home": "", "pooling": "/pooling", "convolution": "/convolution"}

ROOT_FONT_CHANGED_JS = "() => getComputedStyle(document.documentElement).fontSize !== '16px'"
OVERFLOW_JS = """() => [document.documentElement, document.querySelector('[data-testid="stMain"]')]
    .filter(Boolean).map(e => e.scrollWidth - e.clientWidth)"""


@pytest.fixture
def projector(chromium_browser: Any) -> Iterator[Any]:
    """A fresh page in a 1280×720 window, the size of a common classroom projector."""
    context = chromium_browser.new_context(viewport=PROJECTOR)
    page = context.new_page()
    page.set_default_timeout(LOAD_MS)
    try:
        yield page
    finally:
        context.close()


def _font_px(page: Any, selector: str) -> float | None:
    """The computed font size of the first element matching `selector`, or None if none."""
    found = page.locator(selector).first
    if page.locator(selector).count() == 0:
        return None
    return float(found.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px"))


def _measure(page: Any, url: str, shot: Path) -> dict[str, float | None]:
    goto(page, url, timeout=LOAD_MS)
    expect(page.get_by_text("Presenter mode", exact=True)).to_be_visible()
    if "present=1" in url:  # the style sheet arrives with the run: wait until it applies
        page.wait_for_function(ROOT_FONT_CHANGED_JS)
    if "home" not in shot.name:
        page.wait_for_selector(TICK, state="attached")
    expect(page.locator(EXCEPTION)).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(shot))
    if "home" not in shot.name:  # the first figure, scrolled into view, for a look at its labels
        figure = page.locator(f"{MAIN} .js-plotly-plot").first
        figure.screenshot(path=str(shot.with_name(f"{shot.stem}-figure.png")))
    overflow = max(page.evaluate(OVERFLOW_JS))
    assert overflow <= 1, f"{url} is {overflow} px wider than a 1280 px screen"
    return {
        "text": _font_px(page, TEXT),
        "label": _font_px(page, LABEL),
        "tick": _font_px(page, TICK),
    }


@pytest.mark.parametrize("name", sorted(PAGES))
def test_presenter_mode_is_larger_and_fits_a_1280_by_720_projector(app_url, projector, name):
    url = f"{app_url}{PAGES[name]}"
    plain = _measure(projector, url, ARTIFACTS / f"{name}-plain.png")
    presented = _measure(projector, f"{url}?present=1", ARTIFACTS / f"{name}-present.png")
    for part, size in plain.items():
        if size is not None:
            assert presented[part] is not None and presented[part] > size * 1.15, (
                part,
                plain,
                presented,
            )
    assert plain["text"] is not None
    modebar = projector.locator(".modebar-container")
    if modebar.count():
        assert modebar.first.evaluate("e => getComputedStyle(e).display") == "none"
