"""The sidebar menu (ui/menu.py): one element listing every page, the open one marked."""

from __future__ import annotations

import json

import pytest

from ui import menu
from ui.nav import available_pages


def _menu_data(at) -> dict:
    found = [e for e in at.sidebar if getattr(e.proto, "component_name", "") == "cnnlab_menu"]
    assert len(found) == 1, "the menu is one element"
    return json.loads(found[0].proto.json)


def _links(data: dict) -> list[list]:
    return [link for _, links in data["sections"] for link in links]


@pytest.mark.parametrize("name, path", [(None, "app.py"), ("build", "pages/build.py")])
def test_the_menu_is_one_element_that_marks_the_page_on_screen(open_page, name, path):
    at = open_page(name)
    data = _menu_data(at)
    assert data["current"] == path and data["testid"] == menu.LINK_TESTID
    assert not at.sidebar.get("page_link")  # no element per entry any more


def test_every_page_is_listed_once_in_our_order_with_its_address_and_icon(open_page):
    data = _menu_data(open_page())
    pages = available_pages()
    links = _links(data)
    assert [link[3] for link in links] == [p.path for p in pages]
    assert [link[1] for link in links] == [p.label for p in pages]
    assert links[0][0] == ""  # home is the site's root
    for href, _, icon, path in links[1:]:
        assert href == path.removeprefix("pages/").removesuffix(".py")
        assert icon and ":" not in icon  # the Material Symbols ligature, e.g. "construction"
    sections = [section for section, _ in data["sections"]]
    assert sections == list(dict.fromkeys(p.section.upper() for p in pages))
