"""The three Explain pages in a real browser: saliency maps, attention weights, an attack."""

from .helpers import click_and_wait, expect, goto, sidebar_link, wait_for_run

CHART = '[data-testid="stPlotlyChart"]'
WAIT = 30_000  # ms: a figure may still be drawing after the run ends


def _use_session_model(page) -> None:
    """Pick the session's own network in the page's model menu (not a shipped checkpoint)."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Model").first.click()
    click_and_wait(page, page.get_by_role("option", name="Your model"))


def test_saliency_draws_the_default_maps_and_switches_the_overlay(page, app_url):
    goto(page, app_url)
    click_and_wait(page, sidebar_link(page, "Saliency"))
    expect(page.get_by_role("heading", name="Saliency", exact=True)).to_be_visible(timeout=WAIT)
    figure = page.locator(CHART).filter(has_text="Integrated gradients")
    expect(figure).to_be_visible(timeout=WAIT)
    expect(figure).to_contain_text("Grad-CAM", timeout=WAIT)
    click_and_wait(page, page.get_by_text("heatmap", exact=True))
    expect(page.locator(CHART).filter(has_text="importance")).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("button", name="Overlay (.png)")).to_be_visible(timeout=WAIT)


def test_attention_offers_the_preset_and_then_shows_the_gates(page, app_url):
    goto(page, f"{app_url}/attention")
    _use_session_model(page)
    expect(page.get_by_text("has no squeeze-and-excitation or CBAM block")).to_be_visible(
        timeout=WAIT
    )
    click_and_wait(
        page, page.get_by_role("button", name="Use the Attention CNN (SE + CBAM) preset")
    )
    wait_for_run(page)
    expect(page.get_by_role("heading", name="Which: channel weights")).to_be_visible(timeout=WAIT)
    expect(page.locator(CHART).filter(has_text="cbam1.spatial_gate")).to_be_visible(timeout=WAIT)
    expect(page.locator(CHART).filter(has_text="se1.gate")).to_be_visible(timeout=WAIT)


def test_adversarial_shows_the_attack_and_its_size(page, app_url):
    goto(page, f"{app_url}/adversarial")
    figure = page.locator(CHART).filter(has_text="Perturbation")
    expect(figure).to_be_visible(timeout=WAIT)
    expect(figure).to_contain_text("L∞ = 8.0/255", timeout=WAIT)
    click_and_wait(page, page.get_by_text("PGD", exact=True))
    expect(page.locator(CHART).filter(has_text="Perturbation")).to_contain_text("L∞", timeout=WAIT)
    expect(page.get_by_text("Loss of the original answer")).to_be_visible(timeout=WAIT)
