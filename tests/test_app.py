"""The home page, app.py: it opens, names the app and links every page.

Each page's own smoke run, from this home page, is in tests/test_pages.py.
"""

from __future__ import annotations

from ui.nav import available_pages


def test_home_page_runs_and_shows_the_app_title(open_page):
    at = open_page()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert [t.value for t in at.title] == ["CNN Lab"]


def test_home_page_has_a_card_for_every_page(open_page):
    at = open_page()
    captions = " ".join(c.value for c in at.caption)
    for page in available_pages():
        if page.path != "app.py":
            assert page.teaches in captions, page.path
