"""The sidebar's image picker in a browser: an upload stays the session's image on every page."""

from PIL import Image

from .helpers import click_and_wait, goto, sidebar_link, wait_for_run

SIDEBAR = '[data-testid="stSidebar"]'
CAPTION = '[data-testid="stSidebar"] [data-testid="stImageCaption"]'
ALERT = '[data-testid="stSidebar"] [data-testid="stAlert"]'
DROP = '[data-testid="stSidebar"] [data-testid="stFileUploaderDropzoneInput"]'


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
