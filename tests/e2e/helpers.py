"""Small helpers for the browser tests: wait for a Streamlit run, open a page, find a menu link.

Import them in a test under tests/e2e as `from .helpers import goto, sidebar_link, wait_for_run`.
Playwright is imported lazily so that this module loads (and the tests skip) without it.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

APP = '[data-testid="stApp"]'
IDLE = f'{APP}[data-test-script-state="notRunning"]'
BUSY = f'{APP}:not([data-test-script-state="notRunning"])'
SIDEBAR = '[data-testid="stSidebar"]'
PAGE_LINK = '[data-testid="cnnlab-menu-link"]'  # ui/menu.py's links (in an open shadow root)


def wait_for_run(page: Page, timeout: float = 60_000) -> None:
    """Wait until the app is on the page and its script has finished running (ms timeout).

    Streamlit marks the app element with `data-test-script-state`; "notRunning" means the last
    run is over and its elements are drawn.
    """
    page.wait_for_selector(APP, state="attached", timeout=timeout)
    page.wait_for_selector(IDLE, state="attached", timeout=timeout)


def goto(page: Page, url: str, timeout: float = 60_000) -> None:
    """Open `url` and wait until the app has run once."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    wait_for_run(page, timeout)


def sidebar_link(page: Page, label: str) -> Locator:
    """The sidebar's link to the page called `label` (our menu, ui/menu.py), matched exactly."""
    text = page.get_by_text(label, exact=True)
    return page.locator(SIDEBAR).locator(PAGE_LINK).filter(has=text)


def click_and_wait(page: Page, locator: Locator, timeout: float = 60_000) -> None:
    """Click `locator`, then wait for the run it starts to finish.

    The click may return before the app has marked a new run, so first give it up to two
    seconds to leave "notRunning" (a very quick run may already be over, which is fine).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    locator.click(timeout=timeout)
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_selector(BUSY, state="attached", timeout=2_000)
    wait_for_run(page, timeout)


def expect(target: Any) -> Any:
    """Playwright's `expect`, imported only when a test uses it."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)
