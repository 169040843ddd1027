"""A shared link to a network far too big for the server: the page says why in a plain sentence,
shows no traceback, keeps the network it had, and the server's memory does not grow."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import AppServer
from .helpers import expect, goto

CONV = {"type": "conv", "out_channels": 64, "kernel_size": 3, "padding": 1}
RELU = {"type": "relu"}
HUGE_NET = {"input": [3, 2048, 2048], "layers": [CONV, RELU, CONV, RELU, CONV]}  # 1 GB each
GROWTH_LIMIT_MB = 100


def _link(doc: dict) -> str:
    """The `?net=` value for a document (encode_spec takes only a spec, and this is none)."""
    raw = zlib.compress(json.dumps(doc).encode(), 9)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # "VmRSS:   123456 kB"
    raise AssertionError(f"no resident memory for process {pid}")


@pytest.fixture
def server() -> Iterator[AppServer]:
    """A fresh server of our own: the shared fixtures give its URL but not its process."""
    app = AppServer()
    try:
        app.wait_until_healthy()
        yield app
    finally:
        app.stop()


def _parameters(page) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Parameters").first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def test_a_link_to_a_5_gb_network_is_refused_in_words_without_using_memory(page, server):
    if not Path(f"/proc/{server.process.pid}/status").exists():
        pytest.skip("reads the server's resident memory from /proc (Linux)")
    for path in ("/", "/build"):  # warm up: imports, caches and first runs of both pages
        goto(page, f"{server.url}{path}")
    before = _resident_mb(server.process.pid)

    for path in ("/", "/build"):
        goto(page, f"{server.url}{path}?net={_link(HUGE_NET)}")
        alert = page.locator('[data-testid="stAlert"]').filter(
            has_text="The shared link could not be opened"
        )
        expect(alert).to_be_visible()
        expect(alert).to_contain_text(
            "this network needs 5 GB of memory for one image; the limit here is 256 MB."
        )
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        expect(page.get_by_text("Sorry, something went wrong")).to_have_count(0)
    assert _parameters(page) == "19,920"  # the Build page still holds the default network

    growth = _resident_mb(server.process.pid) - before
    assert growth < GROWTH_LIMIT_MB, f"the server grew by {growth:.0f} MB"
