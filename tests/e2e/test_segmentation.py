"""Segmentation in a real browser: train the U-Net for an epoch, see its masks over the images,
stop it, and read its measured IoU."""

from __future__ import annotations

from .helpers import click_and_wait, expect, goto

MAIN = '[data-testid="stMain"]'
CHART = '[data-testid="stPlotlyChart"]'


def test_a_brief_unet_run_draws_predicted_masks_over_validation_images(app_url, page):
    goto(page, f"{app_url}/segmentation")
    main = page.locator(MAIN)
    expect(main.get_by_text("Make your prediction, then press", exact=False)).to_be_visible()
    click_and_wait(page, main.get_by_role("button", name="Train the U-Net"))
    caption = main.get_by_text("Predicted masks after epoch 1", exact=False)
    expect(caption).to_be_visible(timeout=120_000)
    preview = main.locator(CHART).filter(has_text="predicted")
    expect(preview.locator("image").first).to_be_attached()
    main.get_by_role("button", name="Stop training").click()  # a brief run: one epoch is enough
    expect(main.get_by_text("U-Net with skips: mean IoU", exact=False)).to_be_visible(
        timeout=60_000
    )
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
