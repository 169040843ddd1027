"""The Augmentation page in a real browser: "New draw" gives a different grid of samples."""

from .helpers import click_and_wait, expect, goto


def _sources(page) -> list[str]:
    images = page.locator('[data-testid="stImage"] img')
    return [images.nth(i).get_attribute("src") for i in range(images.count())]


def test_a_new_draw_changes_the_samples(page, app_url):
    goto(page, f"{app_url}/augmentation")
    expect(page.get_by_role("heading", name="Augmentation")).to_be_visible()
    expect(page.get_by_text("sample 15")).to_be_visible()
    before = _sources(page)
    assert len(before) >= 17  # the original and sixteen samples (and the sidebar's image)
    click_and_wait(page, page.get_by_role("button", name="New draw"))
    expect(page.get_by_text("sample 15")).to_be_visible()
    after = _sources(page)
    assert len(after) == len(before)
    assert sum(a != b for a, b in zip(before, after, strict=True)) >= 16
