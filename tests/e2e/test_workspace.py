"""A student's work in a real browser: it survives a reload and a server restart, and a shared
`?net=` link hands over a network, never its sender's workspace."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

from models.network.presets import PRESETS
from ui.state import encode_spec
from ui.workspace import COOKIE

from .conftest import AppServer
from .helpers import click_and_wait, expect, goto

MAIN = '[data-testid="stMain"]'
CHART = '[data-testid="stPlotlyChart"]'
EXCEPTION = '[data-testid="stException"]'


def _workspace_cookie(page, timeout_s: float = 30.0) -> str | None:
    """The workspace id the page's browser keeps (the page writes it once it has drawn)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [c["value"] for c in page.context.cookies() if c["name"] == COOKIE]
        if found or time.monotonic() > deadline:
            return found[0] if found else None
        page.wait_for_timeout(250)


def _started(monkeypatch, tmp_path) -> AppServer:
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))  # both servers share one data folder
    server = AppServer()
    server.wait_until_healthy()
    return server


def _train_briefly(page) -> None:
    main = page.locator(MAIN)
    click_and_wait(page, main.get_by_role("button", name="Start training"))
    expect(main.get_by_role("button", name="Stop training")).to_be_visible(timeout=60_000)
    expect(main.get_by_text(re.compile(r"step [1-9][\d,]* of"))).to_be_visible(timeout=60_000)
    main.get_by_role("button", name="Stop training").click()
    expect(main.get_by_text(re.compile(r"Stopped at step"))).to_be_visible(timeout=30_000)


def _expect_the_run_and_its_model(page) -> None:
    main = page.locator(MAIN)
    expect(main.locator(CHART).filter(has_text="loss").first).to_be_visible()
    expect(main.get_by_text(re.compile(r"with the session's model"))).to_be_visible()
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_a_run_and_its_model_survive_a_reload_and_a_server_restart(monkeypatch, tmp_path, page):
    server = _started(monkeypatch, tmp_path)
    try:
        goto(page, f"{server.url}/train", timeout=120_000)
        _train_briefly(page)
        _expect_the_run_and_its_model(page)
        cookie = _workspace_cookie(page)
        assert cookie, "the browser keeps a workspace id"

        page.reload(wait_until="domcontentloaded")
        goto(page, f"{server.url}/train", timeout=120_000)
        expect(page.locator(MAIN).get_by_text(re.compile(r"Stopped at step"))).to_be_visible()
        _expect_the_run_and_its_model(page)
    finally:
        server.stop()

    again = AppServer()  # the teacher restarts the server (on another port: same host, cookie)
    try:
        again.wait_until_healthy()
        goto(page, f"{again.url}/train", timeout=120_000)
        main = page.locator(MAIN)
        expect(
            main.get_by_text(re.compile(r"Your last run, .*saved with your work"))
        ).to_be_visible()
        _expect_the_run_and_its_model(page)
        assert _workspace_cookie(page) == cookie
        goto(page, f"{again.url}/experiments")  # Compare runs lists it too
        expect(main.get_by_text("1. your network").first).to_be_visible()
    finally:
        again.stop()


def test_a_shared_network_link_opens_with_a_fresh_workspace(
    monkeypatch, tmp_path, chromium_browser
):
    server = _started(monkeypatch, tmp_path)
    link = f"{server.url}/build?net={quote(encode_spec(PRESETS['LeNet-5'].spec))}"
    teacher = chromium_browser.new_context(viewport={"width": 1400, "height": 900})
    student = chromium_browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        mine = teacher.new_page()
        goto(mine, link)
        expect(mine.get_by_label("height")).to_have_value("32", timeout=60_000)
        # the teacher goes on to another network; their workspace keeps it
        mine.locator(MAIN).get_by_label("Start from a preset").click()
        mine.get_by_role("option", name="ConvNetJS MNIST").click()
        click_and_wait(mine, mine.locator(MAIN).get_by_role("button", name="Load", exact=True))
        expect(mine.get_by_label("height")).to_have_value("24", timeout=60_000)
        teacher_id = _workspace_cookie(mine)
        assert teacher_id and teacher_id not in link

        theirs = student.new_page()
        goto(theirs, link)
        # the link's network
        expect(theirs.get_by_label("height")).to_have_value("32", timeout=60_000)
        student_id = _workspace_cookie(theirs)
        assert student_id and student_id != teacher_id  # a workspace of their own
        theirs.get_by_role("button", name="💾 Your work").click()
        said = theirs.get_by_text(re.compile(r"Nothing is saved yet|Saved: 0\.0 MB"))
        expect(said).to_be_visible(timeout=30_000)
        expect(theirs.locator(EXCEPTION)).to_have_count(0)
    finally:
        teacher.close()
        student.close()
        server.stop()
