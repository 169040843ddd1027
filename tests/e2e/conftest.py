"""Fixtures for the browser tests: a running CNN Lab server and a page in headless Chromium.

- `app_url`: the base URL of one server for the whole session (`http://127.0.0.1:<port>`).
- `start_app_server`: a factory that starts another, fresh server (say, to open a deep link
  first); every server it starts is stopped when the test ends.
- `page`: a Playwright page, 1400×900, in a new context of one session-wide Chromium.
A failed test leaves a screenshot of its page in screenshots/ at the repo root.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
START_TIMEOUT_S = 60.0
# A proxy set in the environment (as on some CI machines) must not see requests to 127.0.0.1.
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    """`streamlit run app.py` on 127.0.0.1 and a free port, stopped by its process handle."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        handle, name = tempfile.mkstemp(prefix="cnnlab-server-", suffix=".log")
        os.close(handle)
        self.log_path = Path(name)
        command = [
            *(sys.executable, "-m", "streamlit", "run", "app.py"),
            *("--server.headless", "true", "--server.address", "127.0.0.1"),
            *("--server.port", str(self.port), "--browser.gatherUsageStats", "false"),
        ]
        with self.log_path.open("wb") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_until_healthy(self, timeout: float = START_TIMEOUT_S) -> None:
        """Poll /_stcore/health until it answers "ok"; fail with the server's log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._fail(f"exited with code {self.process.returncode}")
            try:
                with NO_PROXY.open(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200 and reply.read().strip() == b"ok":
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        self._fail(f"did not answer {self.url}/_stcore/health within {timeout:.0f} s")

    def _fail(self, why: str) -> None:
        tail = self.log_tail()
        self.stop()
        pytest.fail(f"The Streamlit server {why}. Last lines of its log:\n{tail}", pytrace=False)

    def stop(self) -> None:
        """Terminate the server; kill it if it has not exited after ten seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log_path.unlink(missing_ok=True)


def _start_server() -> AppServer:
    server = AppServer()
    server.wait_until_healthy()
    return server


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """The base URL of a CNN Lab server shared by the whole test session."""
    server = _start_server()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def start_app_server() -> Iterator[Callable[[], str]]:
    """A factory: each call starts a fresh server and returns its base URL."""
    servers: list[AppServer] = []

    def start() -> str:
        server = AppServer()
        servers.append(server)
        server.wait_until_healthy()
        return server.url

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """One headless Debian Chromium for the session (Playwright gives it a fresh profile)."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        # launch() runs Chromium with a new temporary --user-data-dir and deletes it afterwards.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(chromium_browser: Any) -> Iterator[Any]:
    """A fresh page (in its own context: no cookies or storage shared between tests)."""
    context = chromium_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # a busy 2-core CI machine draws slowly
    try:
        yield page
    finally:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        note = _save_screenshot(item)
        if note:
            report.sections.append(("screenshot", note))


def _save_screenshot(item: pytest.Item) -> str | None:
    """Save the failed test's page into screenshots/; say where (or why not)."""
    page = getattr(item, "funcargs", {}).get("page")
    if page is None or page.is_closed():
        return None
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^\w.-]+", "_", item.nodeid)[-150:] + ".png")
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as err:  # a broken page must not hide the test's own failure
        return f"could not save a screenshot: {err}"
    return f"saved {path}"
