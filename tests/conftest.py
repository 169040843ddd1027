"""Shared pytest set-up: browser tests are marked, and skipped or failed without a browser.

Every test collected under tests/e2e gets the `browser` marker, so `-m "not browser"` leaves
them out. A browser test needs the playwright package and Debian's Chromium; without them it is
skipped with the reason, unless the environment says REQUIRE_BROWSER=1 (as CI does), where it
fails with the reason instead.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
E2E = ROOT / "tests" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")

# Under test, the frame's safety net shows the full exception under its apology, so a page's
# bug still fails `assert not at.exception` (tests of the net itself unset this).
os.environ.setdefault("CNNLAB_DEBUG", "1")


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread in the test process: the browser tests' server shares the two cores."""
    import torch

    torch.set_num_threads(1)


@cache
def browser_missing() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


def browser_required() -> bool:
    return os.environ.get("REQUIRE_BROWSER", "").strip() == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") is None:
        return
    reason = browser_missing()
    if reason is None:
        return
    if browser_required():
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"browser test skipped: {reason}")
