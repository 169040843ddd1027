"""The Imbalance page in a real browser: predict, run the four methods on small settings, and
see one set of recall bars per method."""

from __future__ import annotations

from .helpers import expect, goto, wait_for_run

MAIN = '[data-testid="stMain"]'
RECALL = ".st-key-imbalance-recall_chart .js-plotly-plot"


def _slide(page, key: str, *keys: str) -> None:
    page.locator(f'.st-key-imbalance-{key} input[type="range"]').focus()
    for key_name in keys:
        page.keyboard.press(key_name)
        wait_for_run(page)


def test_the_four_methods_run_and_draw_four_sets_of_recall_bars(app_url, page):
    goto(page, f"{app_url}/imbalance")
    main = page.locator(MAIN)
    expect(main.get_by_text("make your prediction", exact=False)).to_be_visible()
    _slide(page, "images", "Home", "ArrowRight")  # 750 images
    _slide(page, "epochs", "Home", "ArrowRight", "ArrowRight")  # 3 epochs
    main.get_by_text("pentagon", exact=True).first.click()
    wait_for_run(page)
    main.get_by_role("button", name="Run the four methods (4 quick runs)").click()
    bars = page.locator(f"{RECALL} .barlayer .trace")  # a trace of all-zero bars draws none
    expect(bars.first).to_be_attached(timeout=300_000)
    expect(page.locator(f"{RECALL} .legend .traces")).to_have_count(4)  # one per method
    for method in ("plain cross-entropy", "class weights", "resampling", "focal loss"):
        expect(page.locator(f"{RECALL} .legend").get_by_text(method)).to_be_visible()
    expect(main.get_by_text("You predicted pentagon", exact=False)).to_be_visible()
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
