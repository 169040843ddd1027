"""Moving around CNN Lab in a real browser: the home page, our sidebar menu and deep links."""

from __future__ import annotations

import re

from ui.nav import available_pages

from .helpers import click_and_wait, expect, goto, sidebar_link

BUILD_LABEL, BUILD_TITLE, BUILD_URL_PATH = "Build a CNN", "Build a CNN", "build"
MAIN = '[data-testid="stMain"]'
EXCEPTION = '[data-testid="stException"]'
AUTO_NAV = '[data-testid="stSidebarNav"]'


def page_title(page, title: str):
    """The page's own title: the h1 in the main area (the sidebar has its own heading)."""
    return page.locator(MAIN).locator("h1").filter(has_text=re.compile(rf"^{re.escape(title)}"))


def test_home_page_shows_its_title_and_a_sidebar_link_to_every_page(app_url, page):
    goto(page, app_url)
    expect(page_title(page, "CNN Lab")).to_be_visible()
    for info in available_pages():
        expect(sidebar_link(page, info.label)).to_be_visible()
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_sidebar_link_opens_the_build_page(app_url, page):
    goto(page, app_url)
    click_and_wait(page, sidebar_link(page, BUILD_LABEL))
    expect(page).to_have_url(re.compile(rf"/{BUILD_URL_PATH}/?(\?.*)?$"))
    expect(page_title(page, BUILD_TITLE)).to_be_visible()
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_deep_link_opened_first_on_a_fresh_server_shows_that_page_in_our_frame(
    start_app_server, page
):
    # With a pages/ folder, a first visit that lands on a deep link could make Streamlit fall
    # back to its own auto-discovered menu and skip our frame (DESIGN.md); a new server is
    # needed because only the first visit after start-up shows it.
    url = start_app_server()
    goto(page, f"{url}/{BUILD_URL_PATH}")
    expect(page_title(page, BUILD_TITLE)).to_be_visible()
    expect(sidebar_link(page, "Home")).to_be_visible()
    expect(page.locator(AUTO_NAV)).to_have_count(0)
    expect(page.locator(EXCEPTION)).to_have_count(0)
