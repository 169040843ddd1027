"""Every page on a phone (390×844, touch) and a tablet (768×1024), in a real browser.

For each page of `ui.nav.available_pages()` (Home included) and each width, the test opens the
page, waits for its run to finish and measures the drawn page from the DOM:
- no horizontal overflow: `document.scrollingElement.scrollWidth <= innerWidth + 1`;
- no Plotly figure narrower than 300 px (or than its container, where that is narrower);
- no two figure titles (`.g-gtitle`, subplot-title annotations) overlapping each other or
  Plotly's toolbar (`.modebar`, when it is displayed), and no two numbers of a heatmap colliding;
- no exception element.
It saves a full-page screenshot of each page and width as
`tests/e2e/artifacts/mobile/<width>-<page>.png` (that folder is gitignored: look at them after a
run, do not commit them), and one `tests/e2e/artifacts/mobile/measures.json` with the numbers.
A tap on a map (the pages with `on_select`) is checked in `test_a_tap_picks_a_unit_on_a_phone`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ui.nav import available_pages
from viz.narrow import PHONE_MAX, TABLET_MAX

from .conftest import ROOT
from .helpers import expect, goto, wait_for_run

ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts" / "mobile"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
TABLET = {"viewport": {"width": 768, "height": 1024}, "has_touch": True}
DEVICES = {"phone": PHONE, "tablet": TABLET}
MIN_FIGURE_PX = 300
MIN_PANEL_PX = 100  # a panel of a multi-panel figure narrower than this is unreadable
PAGES = [
    (p.path, "/" if p.path == "app.py" else "/" + Path(p.path).stem) for p in available_pages()
]

# True once every chart element holds a drawn Plotly figure.
DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
  .every((chart) => chart.querySelector('.js-plotly-plot .main-svg'))"""
# Runs in the page: what the test checks, as plain numbers and lists.
MEASURE = """() => {
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return null;
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden') return null;
    }
    return r;
  };
  const box = (r) => ({l: r.left, t: r.top, r: r.right, b: r.bottom});
  const hit = (a, b) => a.l < b.r - 1 && b.l < a.r - 1 && a.t < b.b - 1 && b.t < a.b - 1;
  const clashes = (boxes) => {
    const out = [];
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++)
        if (hit(boxes[i].box, boxes[j].box)) out.push(boxes[i].name + ' / ' + boxes[j].name);
    return out;
  };
  const figures = [];
  document.querySelectorAll('[data-testid="stPlotlyChart"]').forEach((chart, n) => {
    const plot = chart.querySelector('.js-plotly-plot');
    const r = plot && shown(plot);
    if (!r) return;
    const container = shown(chart.parentElement) || r;
    const titles = [];
    plot.querySelectorAll('.g-gtitle text, .annotation-text-g text').forEach((t, i) => {
      const b = shown(t);
      if (b && t.textContent.trim()) titles.push({name: t.textContent.trim(), box: box(b)});
    });
    const bar = plot.querySelector('.modebar');
    const barBox = bar && shown(bar) && getComputedStyle(bar).opacity !== '0' ? shown(bar) : null;
    const withBar = barBox ? [...titles, {name: 'toolbar', box: box(barBox)}] : titles;
    const numbers = [];
    plot.querySelectorAll('.hm text, .textpoint text, g.text text').forEach((t) => {
      const b = shown(t);
      if (b && t.textContent.trim()) numbers.push({name: t.textContent.trim(), box: box(b)});
    });
    const panels = [...plot.querySelectorAll('.nsewdrag')].map(shown).filter(Boolean);
    figures.push({
      index: n, width: Math.round(r.width), height: Math.round(r.height),
      panel: panels.length ? Math.round(Math.min(...panels.map((p) => p.width))) : null,
      panels: panels.length,
      container: Math.round(container.width),
      titleClashes: clashes(withBar), numberClashes: clashes(numbers).length,
      numbers: numbers.length,
    });
  });
  const main = document.querySelector('[data-testid="stMain"]');
  return {
    inner: window.innerWidth,
    tall: Math.round(main ? main.scrollHeight : window.innerHeight),
    scroll: document.scrollingElement.scrollWidth,
    exceptions: document.querySelectorAll('[data-testid="stException"]').length,
    figures,
  };
}"""


@pytest.fixture(scope="module")
def measures() -> Iterator[dict[str, Any]]:
    """Every page's measures, written to measures.json when the module ends."""
    found: dict[str, Any] = {}
    yield found
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "measures.json").write_text(json.dumps(found, indent=1), encoding="utf-8")


@pytest.fixture(scope="module", params=list(DEVICES))
def device(request: Any, chromium_browser: Any) -> Iterator[tuple[str, Any]]:
    """A phone or a tablet: one browser context and page per device for all the pages."""
    context = chromium_browser.new_context(**DEVICES[request.param])
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield request.param, page
    finally:
        context.close()


def _problems(found: dict[str, Any]) -> list[str]:
    problems = []
    if found["scroll"] > found["inner"] + 1:
        problems.append(f"the page is {found['scroll']} px wide in a {found['inner']} px window")
    if found["exceptions"]:
        problems.append(f"{found['exceptions']} exception(s) on the page")
    for fig in found["figures"]:
        floor = min(MIN_FIGURE_PX, fig["container"])
        if fig["width"] < floor - 1:
            problems.append(f"figure {fig['index']} is {fig['width']} px wide (< {floor})")
        if fig["panel"] is not None and fig["panels"] > 1 and fig["panel"] < MIN_PANEL_PX:
            problems.append(f"figure {fig['index']} has a {fig['panel']} px wide panel")
        if fig["titleClashes"]:
            problems.append(f"figure {fig['index']} titles overlap: {fig['titleClashes'][:3]}")
        if fig["numberClashes"]:
            problems.append(f"figure {fig['index']}: {fig['numberClashes']} numbers collide")
    return problems


@pytest.mark.parametrize(("path", "route"), PAGES, ids=[route for _, route in PAGES])
def test_every_page_fits_a_phone_and_a_tablet(
    device: tuple[str, Any], app_url: str, measures: dict[str, Any], path: str, route: str
) -> None:
    name, page = device
    open_and_settle(page, app_url + route)
    found = page.evaluate(MEASURE)
    measures[f"{name} {route}"] = found
    _screenshot(page, found["tall"], ARTIFACTS / f"{name}-{route.strip('/') or 'home'}.png")
    problems = _problems(found)
    assert problems == [], f"{path} on a {name}"


def open_and_settle(page: Any, url: str) -> None:
    """Open `url`, wait until the server knows the window's width (ui/responsive.py) and the
    run that follows is over, then until every figure is drawn (Plotly loads after the run)."""
    goto(page, url, timeout=120_000)
    width = page.viewport_size["width"]
    drawn_for = "phone" if width <= PHONE_MAX else "tablet" if width <= TABLET_MAX else "wide"
    page.wait_for_selector(f'[data-cnnlab-layout="{drawn_for}"]', state="attached", timeout=60_000)
    wait_for_run(page, 120_000)
    page.wait_for_function(DRAWN, polling=250, timeout=15_000)


def _screenshot(page: Any, tall: int, path: Path) -> None:
    """The whole page (Streamlit scrolls inside its main element, so grow the window first)."""
    size = page.viewport_size
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": size["width"], "height": min(max(tall, 400), 12_000)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def test_a_tap_picks_a_unit_on_a_phone(chromium_browser: Any, app_url: str) -> None:
    """Receptive field: tapping a unit on the feature map picks it, as a click does."""
    context = chromium_browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(60_000)
    unit = re.compile(r"Unit \(\d+, \d+\) sees")
    caption = page.locator('[data-testid="stMain"]').get_by_text(unit)
    try:
        open_and_settle(page, f"{app_url}/receptive_field")
        before = caption.inner_text()
        chart = page.locator('[data-testid="stPlotlyChart"]').first
        for _ in range(3):  # a busy machine may drop a tap while Plotly is still busy
            chart.scroll_into_view_if_needed()
            area = chart.locator(".nsewdrag").first.bounding_box()
            assert area is not None
            page.touchscreen.tap(area["x"] + area["width"] * 0.8, area["y"] + area["height"] * 0.2)
            with contextlib.suppress(AssertionError):
                expect(caption).not_to_have_text(before, timeout=10_000)
                break
        expect(caption).not_to_have_text(before)
        wait_for_run(page)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    finally:
        context.close()
