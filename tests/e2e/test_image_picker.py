"""The sidebar's image picker in a browser: an upload stays the session's image on every page."""

from PIL import Image

from .helpers import click_and_wait, goto, sidebar_link, wait_for_run

SIDEBAR = '[data-testid="stSidebar"]'
CAPTION = '[data-testid="stSidebar"] [data-testid="stImageCaption"]'
ALERT = '[data-testid="stSidebar"] [data-testid="stAlert"]'
DROP = '[data-testid="stSidebar"] [data-testid="stFileUploaderDropzoneInput"]'
EXCEPTION = '[data-testid="stException"]'


def _choose_upload(page) -> None:
    click_and_wait(page, page.locator(SIDEBAR).get_by_text("Upload", exact=True))


def _upload(page, path) -> None:
    page.locator(DROP).set_input_files(str(path))
    page.wait_for_timeout(1_000)
    wait_for_run(page)


def test_an_uploaded_image_follows_the_user_from_page_to_page(page, app_url, tmp_path):
    picture = tmp_path / "blue.png"
    Image.new("RGB", (300, 200), (0, 120, 255)).save(picture)
    goto(page, app_url)
    _choose_upload(page)
    _upload(page, picture)
    assert page.locator(CAPTION).inner_text() == "blue.png · 300×200"
    for label in ("Pooling", "Convolution", "Build a CNN", "Home"):
        click_and_wait(page, sidebar_link(page, label))
        assert page.locator(CAPTION).inner_text() == "blue.png · 300×200", label


def test_a_file_that_is_not_an_image_is_refused_and_the_image_kept(page, app_url, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("plain text pretending to be a picture")
    goto(page, app_url)
    _choose_upload(page)
    before = page.locator(CAPTION).inner_text()
    _upload(page, fake)
    assert "not an image" in page.locator(ALERT).first.inner_text()
    assert page.locator(CAPTION).inner_text() == before


def test_a_70000_by_8_strip_is_refused_plainly_and_another_image_can_be_picked(
    page, app_url, tmp_path
):
    strip, photo = tmp_path / "strip.png", tmp_path / "green.png"
    Image.new("RGB", (70000, 8), (0, 160, 0)).save(strip)
    Image.new("RGB", (120, 90), (0, 160, 0)).save(photo)
    goto(page, app_url)
    _choose_upload(page)
    before = page.locator(CAPTION).inner_text()
    _upload(page, strip)
    refusal = page.locator(ALERT).first.inner_text()
    assert "strip.png" in refusal and "70000×8" in refusal and "50:1" in refusal
    assert page.locator(CAPTION).inner_text() == before
    assert page.locator(EXCEPTION).count() == 0
    _upload(page, photo)
    assert page.locator(CAPTION).inner_text() == "green.png · 120×90"
    for label in ("Pooling", "Home"):
        click_and_wait(page, sidebar_link(page, label))
        assert page.locator(CAPTION).inner_text() == "green.png · 120×90", label
        assert page.locator(EXCEPTION).count() == 0, label
