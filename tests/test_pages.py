"""Every file in pages/ has its menu entry and opens from the home page without an exception.

The list is read from the pages/ folder, so a new page is tested the day it is added.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ui.nav import PAGES, available_pages

ROOT = Path(__file__).resolve().parent.parent
PAGE_NAMES = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_every_page_file_has_its_menu_entry(name):
    entries = [p for p in available_pages() if p.path == f"pages/{name}.py"]
    assert len(entries) == 1, f"pages/{name}.py needs one PageInfo in ui/nav.py"
    assert entries[0].label and entries[0].icon and entries[0].section and entries[0].teaches


def test_no_two_menu_entries_share_a_file():
    paths = [p.path for p in PAGES]
    assert len(paths) == len(set(paths))


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_every_page_opens_from_the_home_page_without_an_exception(open_page, name):
    at = open_page(name)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.title) == 1 and at.title[0].value.strip(), "every page shows one title"


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_every_page_is_described_in_the_readme(name):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- pages:start -->")[1].split("<!-- pages:end -->")[0]
    assert f"(`pages/{name}.py`)" in table, f"README's page table needs a row for {name}"
