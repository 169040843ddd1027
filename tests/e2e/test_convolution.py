"""In a real browser: moving the Convolution page's position slider moves the highlighted window."""

from __future__ import annotations

from .helpers import expect, goto, wait_for_run

WINDOW_X0 = """() => {
    for (const plot of document.querySelectorAll('.js-plotly-plot')) {
        const shapes = (plot.layout && plot.layout.shapes) || [];
        const window = shapes.find(s => s.name === 'window');
        if (window) return [window.x0, window.y0];
    }
    return null;
}"""


def test_the_position_slider_moves_the_highlighted_window(app_url, page):
    goto(page, f"{app_url}/convolution")
    caption = page.get_by_text("window at row", exact=False)
    expect(caption).to_contain_text("Step 1 of 9: window at row 0, column 0")
    page.wait_for_function(WINDOW_X0)
    assert page.evaluate(WINDOW_X0) == [-0.5, -0.5]

    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Position (step)")
    thumb = slider.get_by_role("slider")
    thumb.focus()
    for step in range(2, 6):  # one key at a time: each press is a run of the fragment
        thumb.press("ArrowRight")
        expect(caption).to_contain_text(f"Step {step} of 9")
        wait_for_run(page)

    expect(caption).to_contain_text("window at row 1, column 1")
    page.wait_for_function(f"() => ({WINDOW_X0})()?.[0] === 0.5")
    assert page.evaluate(WINDOW_X0) == [0.5, 0.5]  # one cell right and one down


def test_go_deeper_renders_the_receptive_field_rule_with_the_jump(app_url, page):
    goto(page, f"{app_url}/convolution")
    page.get_by_text("Go deeper").click()
    rule = page.locator("annotation").filter(has_text=r"(k_l - 1)\,d_l\,j_{l-1}")
    expect(rule.first).to_be_attached()
    expect(page.locator("annotation").filter(has_text="RF_{l}")).to_have_count(0)
