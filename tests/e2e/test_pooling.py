"""The Pooling page in a real browser: a wider window gives a smaller output, shown at once."""

from .helpers import expect, goto, wait_for_run


def test_changing_the_window_changes_the_output_size_text(page, app_url):
    goto(page, f"{app_url}/pooling")
    expect(page.get_by_role("heading", name="Pooling")).to_be_visible()
    page.get_by_role("tab", name="Your image or a feature map").click()
    size = page.locator("p").filter(has_text="Output size:")
    expect(size).to_have_text("Output size: 48×48 (from 96×96)")
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Window K")
    slider.get_by_role("slider").focus()
    page.keyboard.press("ArrowRight")
    wait_for_run(page)
    expect(size).to_have_text("Output size: 47×47 (from 96×96)")


def test_the_shift_tab_draws_the_measurement_and_its_conclusion(page, app_url):
    goto(page, f"{app_url}/pooling")
    page.get_by_role("tab", name="Shifts").click()
    conclusion = page.locator("li").filter(has_text="Without downsampling the edge map")
    expect(conclusion).to_be_visible()
    expect(page.locator("li").filter(has_text="Off the grid (1, 3, 5, 7 px)")).to_be_visible()
    expect(page.locator("li").filter(has_text="answers “star”")).to_be_visible()
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Downsampling factor")
    slider.get_by_role("slider").focus()
    page.keyboard.press("ArrowRight")
    wait_for_run(page)
    expect(page.locator("li").filter(has_text="on its grid (3, 6 px)")).to_be_visible()


def test_ceil_mode_shows_the_drop_rule_in_the_rendered_formula(page, app_url):
    goto(page, f"{app_url}/pooling")
    page.get_by_role("tab", name="Your image or a feature map").click()
    page.locator("label").filter(has_text="ceil_mode").first.click()
    wait_for_run(page)
    # ⌈(96 − 2)/2⌉ = 47 windows after the first; 47·2 = 94 < 96 + 0, so the last one is kept
    formula = page.locator("annotation").filter(has_text=r"[94 \ge 96] = 48").first
    expect(formula).to_be_attached()
