"""The three Explain pages in a real browser: saliency maps, attention weights, an attack."""

from PIL import Image

from .helpers import click_and_wait, expect, goto, sidebar_link, wait_for_run

CHART = '[data-testid="stPlotlyChart"]'
SIDEBAR = '[data-testid="stSidebar"]'
DROP = f'{SIDEBAR} [data-testid="stFileUploaderDropzoneInput"]'
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


def _explained_class(page) -> str:
    """What the "Explain the class" control shows: "name (p%)"."""
    return page.get_by_role("combobox", name="Explain the class").input_value()


def _top_bar(page) -> str:
    """The top bar of the probabilities beside the control, as drawn: "name (p%)"."""
    chart = page.locator(CHART).filter(has_text="probability")
    names = chart.locator(".ytick text").all_text_contents()
    shares = chart.locator(".bartext").all_text_contents()
    return f"{names[-1]} ({shares[-1]})"  # bars run from the least likely up to the answer


def test_after_an_upload_the_class_to_explain_is_the_top_prediction_beside_it(
    page, app_url, tmp_path
):
    from sklearn.datasets import load_sample_image

    photo = tmp_path / "flower.jpg"
    Image.fromarray(load_sample_image("flower.jpg")).save(photo)
    goto(page, f"{app_url}/saliency")
    expect(page.locator(CHART).filter(has_text="Integrated gradients")).to_be_visible(timeout=WAIT)
    assert _explained_class(page) == _top_bar(page)
    page.get_by_role("combobox", name="Explain the class").click()
    click_and_wait(page, page.get_by_role("option").nth(1))  # explain another class first
    assert _explained_class(page) != _top_bar(page)
    click_and_wait(page, page.locator(SIDEBAR).get_by_text("Upload", exact=True))
    page.locator(DROP).set_input_files(str(photo))
    page.wait_for_timeout(1_000)
    wait_for_run(page)
    expect(page.locator(f'{SIDEBAR} [data-testid="stImageCaption"]')).to_have_text(
        "flower.jpg · 640×427", timeout=WAIT
    )
    expect(page.locator(CHART).filter(has_text="Integrated gradients")).to_be_visible(timeout=WAIT)
    assert _explained_class(page) == _top_bar(page)
