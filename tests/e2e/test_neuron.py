"""In a real browser: clicking a map on Feature maps opens the Neuron view for that channel."""

from .helpers import expect, goto, wait_for_run

DOTS = ".st-key-feature_maps-grid .js-plotly-plot .scatterlayer .points path"


def test_clicking_a_map_on_feature_maps_opens_the_neuron_view_for_that_channel(page, app_url):
    goto(page, f"{app_url}/feature_maps")
    expect(page.get_by_text("conv1 · Conv2d · 10 channels of 62×62")).to_be_visible()
    dots = page.locator(DOTS)
    expect(dots).to_have_count(10)
    dots.nth(3).scroll_into_view_if_needed()
    box = dots.nth(3).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    expect(page.get_by_text("Opened from Feature maps.")).to_be_visible(timeout=60_000)
    wait_for_run(page)
    expect(page.locator("h1", has_text="Neuron view")).to_be_visible()
    expect(page.get_by_text("Channel 3 of conv1 reads 3 input map(s)", exact=False)).to_be_visible()
    expect(page.get_by_label("Channel (0 to 9)")).to_have_value("3")
    assert page.locator('[data-testid="stException"]').count() == 0
