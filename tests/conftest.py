"""Shared pytest set-up: the `open_page` AppTest fixture, and browser tests marked and skipped.

`open_page("build")` starts the app the way a user does, from app.py, then switches to
pages/build.py (a page made the entry script breaks `st.page_link`).

Every test collected under tests/e2e gets the `browser` marker, so `-m "not browser"` leaves
them out. A browser test needs the playwright package and Debian's Chromium; without them it is
skipped with the reason, unless the environment says REQUIRE_BROWSER=1 (as CI does), where it
fails with the reason instead.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
E2E = ROOT / "tests" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
PAGE_TIMEOUT_S = 120  # AppTest's own default is 3 s; a page's first run imports torch

# The tests' own data folder (the app's database, students' workspaces), never the user's.
os.environ.setdefault("CNNLAB_DATA_DIR", tempfile.mkdtemp(prefix="cnnlab-test-data-"))

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


def start_page(
    name: str | None = None,
    *,
    state: Mapping[str, Any] | None = None,
    query_params: Mapping[str, str] | None = None,
    timeout: float = PAGE_TIMEOUT_S,
) -> AppTest:
    """The app run once from app.py, then switched to pages/<name>.py (None: stay home).

    `query_params` are set before the first run (a shared link); `state` is written into the
    session after it, so it overrides the defaults `ui.frame` sets, and then the page runs.
    """
    at = AppTest.from_file(ROOT / "app.py", default_timeout=timeout)
    for key, value in (query_params or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    for key, value in (state or {}).items():
        at.session_state[key] = value
    if name is not None:
        at.switch_page(f"pages/{name}.py")
    if name is not None or state:
        at.run()
        assert not at.exception, at.exception
    return at


@pytest.fixture
def open_page() -> Callable[..., AppTest]:
    """`open_page(name, state=..., query_params=..., timeout=...)`: see `start_page`."""
    return start_page


@pytest.fixture
def cold_shared_store() -> None:
    """The results kept for the whole class (`ui.results.memo`) forgotten before the test, so
    its first session builds them."""
    from ui import results

    results.clear_shared()


@pytest.fixture
def count_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any, str], list]:
    """`count_calls(module, "name")`: the function goes on working and each call's arguments
    are appended to the list returned (how tests see that a result was built only once)."""

    def count(module: Any, name: str) -> list:
        calls: list = []
        real = getattr(module, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
        return calls

    return count
