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
