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
    import json

    at = open_page()
    grid = [e for e in at.main if getattr(e.proto, "component_name", "") == "cnnlab_menu"]
    assert len(grid) == 1, "the cards are one element"
    cards = json.loads(grid[0].proto.json)["cards"]
    pages = [p for p in available_pages() if p.path != "app.py"]
    assert [c[3] for c in cards] == [p.path for p in pages]
    for (href, label, _, path, about), page in zip(cards, pages, strict=True):
        assert label == page.label and page.teaches in about and page.section in about
        assert href == path.removeprefix("pages/").removesuffix(".py")
