"""Every page opens without an exception, reached the way a user reaches it: from app.py.

The page list is read from the pages/ folder, so a new page is tested the day it is added.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGE_FILES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))
TIMEOUT_S = 60


def start_app() -> AppTest:
    # The path resolves against this file; app.py must be the entry (see DESIGN.md).
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT_S)
    at.run()
    return at


def test_home_page_runs_and_shows_the_app_title():
    at = start_app()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["CNN Lab"]


@pytest.mark.parametrize("page_file", PAGE_FILES)
def test_page_opens_from_the_home_page_without_an_exception(page_file):
    at = start_app()
    at.switch_page(page_file).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.title) == 1 and at.title[0].value.strip(), "every page shows one title"
