"""A CNN Lab server and headless Chromium for the benchmarks that drive the real app.

    with AppServer() as server:           # `streamlit run app.py` on 127.0.0.1, a free port
        with browser_page() as page:      # Debian's /usr/bin/chromium through Playwright
            page.goto(f"{server.url}/train")

Also: CPU seconds of a process and of its descendants, read from /proc (Linux; no psutil).
Not a test fixture: the benchmarks keep their own copy so they never import from tests/.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WINDOW = {"width": 1400, "height": 900}
# Requests to 127.0.0.1 must not go through a proxy configured in the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`streamlit run app.py`, headless on 127.0.0.1 and a free port; a context manager."""

    def __init__(self, env: dict[str, str] | None = None, start_timeout_s: float = 90.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_timeout_s = start_timeout_s
        fd, log = tempfile.mkstemp(prefix="cnnlab-bench-", suffix=".log")
        os.close(fd)
        self.log = Path(log)
        args = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true"]
        args += [f"--server.port={self.port}", "--server.address=127.0.0.1"]
        args += ["--browser.gatherUsageStats=false"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                args,
                cwd=REPO,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, n: int = 30) -> str:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def wait_healthy(self) -> float:
        """Seconds until /_stcore/health says "ok"; RuntimeError (with the log) otherwise."""
        start = time.monotonic()
        while time.monotonic() - start < self.start_timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log_tail()}")
            try:
                with _DIRECT.open(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200 and reply.read().strip() == b"ok":
                        return time.monotonic() - start
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"no answer from {self.url}/_stcore/health:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.unlink(missing_ok=True)

    def __enter__(self) -> AppServer:
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def browser_page(timeout_ms: float = 60_000) -> Iterator[Any]:
    """A page of a fresh headless Chromium (Debian's binary; never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM_PATH, headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            page = browser.new_context(viewport=WINDOW).new_page()
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()


# ---------------------------------------------------------------- CPU time from /proc


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime: fields 14 and 15


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, their children, …)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_by_process(pids: list[int]) -> dict[int, float]:
    """CPU seconds so far of each of `pids` that is still alive."""
    return {pid: cpu_seconds(pid) for pid in pids if _stat(pid) is not None}


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two `cpu_by_process` readings (new processes from zero)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())
