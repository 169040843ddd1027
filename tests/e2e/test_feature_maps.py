"""In a real browser: the Feature maps page draws a grid, and the depth slider changes it."""

from .helpers import expect, goto, wait_for_run

GRID = ".st-key-feature_maps-grid .js-plotly-plot"
SIGNATURE = """(selector) => {
    const plot = document.querySelector(selector);
    if (!plot || !plot._fullData || !plot._fullData.length) return null;
    const z = plot._fullData[0].z;
    let total = 0, cells = 0;
    for (const row of z) for (const v of row) if (Number.isFinite(v)) { total += v; cells += 1; }
    return `${z.length}x${z[0].length}:${cells}:${total.toFixed(4)}`;
}"""


CHANGED = (
    "([selector, previous]) => { const s = (" + SIGNATURE + ")(selector); "
    "return s !== null && s !== previous; }"
)


def _grid_signature(page, previous: str | None = None) -> str:
    """Wait until the grid is drawn (and differs from `previous`); its shape and value sum."""
    page.wait_for_selector(GRID, state="visible")
    page.wait_for_function(CHANGED, arg=[GRID, previous])
    return page.evaluate(SIGNATURE, GRID)


def test_moving_the_depth_slider_redraws_the_grid_for_the_next_layer(page, app_url):
    goto(page, f"{app_url}/feature_maps")
    expect(page.get_by_text("conv1 · Conv2d · 10 channels of 62×62")).to_be_visible()
    before = _grid_signature(page)
    assert ":38440:" in before  # 10 channels × 62 × 62 cells drawn

    thumb = page.locator('.st-key-feature_maps-layer input[type="range"]')
    thumb.focus()
    for _ in range(4):  # conv1 → relu1 → conv2 → relu2 → pool1
        thumb.press("ArrowRight")
    wait_for_run(page)
    expect(page.get_by_text("pool1 · MaxPool2d · 10 channels of 30×30")).to_be_visible()
    after = _grid_signature(page, previous=before)
    assert after != before
    assert ":9000:" in after  # 10 channels × 30 × 30 now
    assert page.locator('[data-testid="stException"]').count() == 0
