"""Presenter mode: a link or the sidebar toggle turns it on, it follows the session from page to
page, every page renders in it, and it never touches what other sessions see."""

from __future__ import annotations

import re

import plotly.io as pio
import pytest

from ui import presenter
from ui.nav import available_pages

PRESENT = {"present": "1"}


def _styled(at) -> bool:
    """Whether this run sent the presenter style sheet."""
    return any(presenter.CSS in html.proto.body for html in at.get("html"))


def _toggle(at):
    return at.toggle(key=presenter.KEY)


@pytest.mark.parametrize("info", available_pages(), ids=lambda p: p.path)
def test_every_page_renders_in_presenter_mode(open_page, info):
    name = None if info.path == "app.py" else info.path.removeprefix("pages/").removesuffix(".py")
    at = open_page(name, query_params=PRESENT)
    assert not at.exception, at.exception
    assert _toggle(at).value is True and _styled(at)


def test_without_the_link_the_app_is_not_presenting(open_page):
    at = open_page()
    assert _toggle(at).value is False and not _styled(at)


def test_present_zero_in_a_link_leaves_it_off(open_page):
    at = open_page(query_params={"present": "0"})
    assert _toggle(at).value is False and not _styled(at)


def test_the_toggle_rules_after_the_link_was_read_once(open_page):
    at = open_page(query_params=PRESENT)
    _toggle(at).set_value(False).run()
    at.run()  # the same link is still in the address bar
    assert _toggle(at).value is False and not _styled(at)


def test_presenter_mode_follows_the_session_to_other_pages_and_back(open_page):
    at = open_page("pooling", query_params=PRESENT)
    assert _styled(at)
    at.switch_page("pages/convolution.py").run()
    assert _toggle(at).value is True and _styled(at)
    _toggle(at).set_value(False).run()
    at.switch_page("app.py").run()
    assert _toggle(at).value is False and not _styled(at)
    _toggle(at).set_value(True).run()
    assert _styled(at)


def test_presenting_leaves_plotly_shared_template_alone(open_page):
    before = (pio.templates.default, pio.templates[pio.templates.default].to_plotly_json())
    open_page("pooling", query_params=PRESENT)
    assert (pio.templates.default, pio.templates[pio.templates.default].to_plotly_json()) == before


def test_the_style_sheet_enlarges_text_and_figures_and_hides_secondary_controls():
    sizes = {int(px) for px in re.findall(r"font-size: (\d+)px", presenter.CSS)}
    assert min(sizes) > 16  # Streamlit's body text and the figures' 13 px
    for hidden in ("modebar-container", "stElementToolbar", "stDownloadButton"):
        assert hidden in presenter.CSS.split("display: none")[0].rsplit("}", 1)[-1]
