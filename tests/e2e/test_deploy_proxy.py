"""deploy/haproxy.cfg in front of two real app replicas: a session stays on its replica.

The same config file compose.yaml mounts runs here under Debian's haproxy, with its addresses
from the environment: the two replicas listen on 127.0.0.2 and 127.0.0.3 at one port, and a tiny
DNS server answers their names ("replica-1", "replica-2"; no others) as Docker's DNS answers
Compose's container names. HAProxy's log says which replica served each request and which
cookie it carried. Needs the `haproxy` binary (`apt-get install haproxy`): skipped without it unless
REQUIRE_HAPROXY=1.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from .conftest import NO_PROXY, ROOT
from .helpers import click_and_wait, goto, sidebar_link, wait_for_run

CONFIG = ROOT / "deploy" / "haproxy.cfg"
REPLICAS = ("127.0.0.2", "127.0.0.3")
APP_NAME = "replica"
COOKIE = "CNNLAB_REPLICA"
SIDEBAR = '[data-testid="stSidebar"]'
CAPTION = f'{SIDEBAR} [data-testid="stImageCaption"]'
SIDEBAR_IMAGE = f'{SIDEBAR} [data-testid="stImage"] img'
DROP = f'{SIDEBAR} [data-testid="stFileUploaderDropzoneInput"]'
# option httplog with the cookie captured, e.g.
# ... web app/app2 0/0/0/1/1 200 512 CNNLAB_REPLICA=app2 - --VN ... "GET /media/x.png HTTP/1.1"
# where the third of the four state letters is what HAProxy made of the client's cookie (V: valid).
LOG_LINE = re.compile(
    r" app/(?P<server>app\d+) \S+ (?P<status>-?\d+) \S+ (?P<sent>\S+) \S+ \S\S(?P<persist>\S)\S "
    r'.*"(?P<method>[A-Z]+) (?P<path>\S+)'
)


def _haproxy_missing() -> str | None:
    if shutil.which("haproxy") is None:
        return "the haproxy binary is not installed (apt-get install haproxy)"
    return None


@pytest.fixture(autouse=True)
def _need_haproxy() -> None:
    reason = _haproxy_missing()
    if reason and os.environ.get("REQUIRE_HAPROXY", "").strip() == "1":
        pytest.fail(f"REQUIRE_HAPROXY=1 but {reason}", pytrace=False)
    if reason:
        pytest.skip(f"deployment test skipped: {reason}")


class DnsStub:
    """A DNS server over UDP: "<APP_NAME>-k" is the k-th replica's address; other names are
    unknown (NXDOMAIN), and AAAA queries get no answer."""

    def __init__(self, addresses: tuple[str, ...]) -> None:
        self.names = {f"{APP_NAME}-{k}": ip for k, ip in enumerate(addresses, start=1)}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                query, client = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            self.sock.sendto(self.answer(query), client)

    def answer(self, query: bytes) -> bytes:
        end, labels = 12, []
        while query[end] != 0:  # the question's name: length-prefixed labels, then a zero
            labels.append(query[end + 1 : end + 1 + query[end]].decode("ascii").lower())
            end += query[end] + 1
        qtype = struct.unpack("!H", query[end + 1 : end + 3])[0]
        question = query[12 : end + 5]
        ip = self.names.get(".".join(labels))
        ips = (ip,) if ip and qtype == 1 else ()
        flags = 0x8180 if ip else 0x8183  # a response, recursion available; 3: no such name
        header = query[:2] + struct.pack("!HHHHH", flags, 1, len(ips), 0, 0)
        records = b"".join(
            struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton(ip) for ip in ips
        )
        return header + question + records

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def _port_free_on_all(addresses: tuple[str, ...]) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = probe.getsockname()[1]
        try:
            for address in addresses[1:]:
                with socket.socket() as other:
                    other.bind((address, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on every replica address")


def _start_replica(address: str, port: int, data_dir: Path, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true"]
    command += [f"--server.address={address}", f"--server.port={port}"]
    command += ["--browser.gatherUsageStats=false"]
    env = {**os.environ, "CNNLAB_EXECUTOR": "thread", "CNNLAB_DATA_DIR": str(data_dir)}
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )


def _get(url: str, timeout: float = 3) -> tuple[int, str, str]:
    """Status, body and the replica cookie a fresh client (no cookie) is given for `url`."""
    with NO_PROXY.open(url, timeout=timeout) as reply:
        set_cookies = " ".join(reply.headers.get_all("Set-Cookie") or [])
        cookie = re.search(rf"{COOKIE}=([^;]+)", set_cookies)
        return reply.status, reply.read().decode(), cookie.group(1) if cookie else ""


def _cookies_of_fresh_clients(url: str, timeout: float = 60) -> set[str]:
    """Ask as new clients from one address until both replicas have answered (or time out)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < len(REPLICAS) and time.monotonic() < deadline:
        try:
            status, body, cookie = _get(f"{url}/_stcore/health")
            if status == 200 and body.strip() == "ok" and cookie:
                seen.add(cookie)
        except OSError:
            pass
        time.sleep(0.2)
    return seen


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class Deployment:
    """Two replicas, the DNS stub and HAProxy with deploy/haproxy.cfg; `url` is HAProxy's."""

    def __init__(self, workdir: Path) -> None:
        self.port = _port_free_on_all(REPLICAS)
        self.replica_logs = [workdir / f"replica-{i}.log" for i in range(len(REPLICAS))]
        self.replicas = [
            _start_replica(address, self.port, workdir / "data", log)
            for address, log in zip(REPLICAS, self.replica_logs, strict=True)
        ]
        self.dns = DnsStub(REPLICAS)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            lb_port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{lb_port}"
        self.log = workdir / "haproxy.log"
        env = {
            **os.environ,
            "CNNLAB_LB_BIND": f"127.0.0.1:{lb_port}",
            "CNNLAB_APP_NAME": APP_NAME,
            "CNNLAB_APP_PORT": str(self.port),
            "CNNLAB_DNS": self.dns.address,
        }
        with self.log.open("wb") as out:
            self.haproxy = subprocess.Popen(
                ["haproxy", "-db", "-f", str(CONFIG)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def requests(self) -> list[dict[str, str]]:
        """HAProxy's log lines for requests sent to a replica, parsed."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return [m.groupdict() for m in LOG_LINE.finditer(text)]

    def describe(self) -> str:
        tails = [log.read_text(errors="replace")[-1500:] for log in self.replica_logs]
        return f"haproxy log:\n{self.log.read_text(errors='replace')[-3000:]}\nreplicas:\n" + (
            "\n---\n".join(tails)
        )

    def stop(self) -> None:
        for process in (self.haproxy, *self.replicas):
            _stop(process)
        self.dns.stop()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if _haproxy_missing():
        pytest.skip(f"deployment test skipped: {_haproxy_missing()}")
    deployed = Deployment(tmp_path_factory.mktemp("deploy"))
    try:
        yield deployed
    finally:
        deployed.stop()


def _replica_cookie(page) -> str:
    values = [c["value"] for c in page.context.cookies() if c["name"] == COOKIE]
    assert len(values) == 1, f"expected one {COOKIE} cookie, got {values}"
    return values[0]


def _sidebar_image_loaded(page) -> bool:
    return page.locator(SIDEBAR_IMAGE).first.evaluate("img => img.complete && img.naturalWidth > 0")


def test_fresh_clients_from_one_address_are_spread_over_both_replicas(deployment):
    cookies = _cookies_of_fresh_clients(deployment.url)
    assert len(cookies) == 2, f"only {len(cookies)} replica answered\n{deployment.describe()}"


def test_a_browser_session_stays_on_one_replica_across_pages_uploads_and_reloads(
    deployment, page, tmp_path
):
    assert len(_cookies_of_fresh_clients(deployment.url)) == 2, deployment.describe()
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda _: frames.append(ws.url)))
    goto(page, deployment.url)
    cookie = _replica_cookie(page)
    assert frames and all(url.endswith("/_stcore/stream") for url in frames), frames
    assert _sidebar_image_loaded(page)
    click_and_wait(page, sidebar_link(page, "Pooling"))
    assert _sidebar_image_loaded(page), "the sidebar image did not load on the next page"
    picture = tmp_path / "orange.png"
    Image.new("RGB", (120, 80), (230, 140, 20)).save(picture)
    click_and_wait(page, page.locator(SIDEBAR).get_by_text("Upload", exact=True))
    page.locator(DROP).set_input_files(str(picture))
    page.wait_for_timeout(1_000)
    wait_for_run(page)
    assert page.locator(CAPTION).inner_text() == "orange.png · 120×80"
    page.reload(wait_until="domcontentloaded")
    wait_for_run(page)
    assert _replica_cookie(page) == cookie, "the reload was given another replica's cookie"
    page.goto("about:blank")  # closes the websockets, so HAProxy logs them

    def ours() -> list[dict[str, str]]:
        return [r for r in deployment.requests() if r["sent"] == f"{COOKIE}={cookie}"]

    deadline = time.monotonic() + 10
    while sum(r["status"] == "101" for r in ours()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    mine = ours()
    paths = [(r["method"], r["path"]) for r in mine]
    assert {(r["server"], r["persist"]) for r in mine} == {(cookie, "V")}, paths
    assert sum(r["status"] == "101" and r["path"] == "/_stcore/stream" for r in mine) >= 2, paths
    assert any(m == "PUT" and p.startswith("/_stcore/upload_file") for m, p in paths), paths
    assert any(p.startswith("/media/") for _, p in paths), paths


def test_the_images_healthcheck_command_passes_on_a_live_replica_and_fails_without_one(
    deployment,
):
    assert len(_cookies_of_fresh_clients(deployment.url)) == 2, deployment.describe()
    command = _healthcheck_command()
    live = [part.replace("127.0.0.1:8501", f"{REPLICAS[0]}:{deployment.port}") for part in command]
    dead = [part.replace("127.0.0.1:8501", f"127.0.0.1:{_unused_port()}") for part in command]
    python = [sys.executable if part == "python" else part for part in live]
    assert subprocess.run(python, timeout=30).returncode == 0
    python = [sys.executable if part == "python" else part for part in dead]
    assert subprocess.run(python, timeout=30, capture_output=True).returncode != 0


def _healthcheck_command() -> list[str]:
    """The exec-form command of the Dockerfile's HEALTHCHECK instruction."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if ln.startswith("HEALTHCHECK"))
    return json.loads(line.split(" CMD ", 1)[1])


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_streamlits_static_files_are_answered_from_haproxys_cache_after_the_first_time(
    deployment, page
):
    assert len(_cookies_of_fresh_clients(deployment.url)) == 2, deployment.describe()
    # A replica gzips its static files once a page has run on it (ui/server.py): run one on app1.
    page.context.add_cookies([{"name": COOKIE, "value": "app1", "url": deployment.url}])
    goto(page, deployment.url)
    wait_for_run(page)
    pinned = {"Cookie": f"{COOKIE}=app1", "Accept-Encoding": "gzip"}
    index = _get(deployment.url + "/")[1]
    script = re.search(r'src="\.?/?(static/js/[^"]+\.js)"', index)
    assert script, index[:500]
    path = "/" + script.group(1)
    before = len(_served_by(deployment, path, at_least=0))
    bodies = []
    for _ in range(3):  # as three students' first visits
        request = urllib.request.Request(deployment.url + path, headers=pinned)
        with NO_PROXY.open(request, timeout=10) as reply:
            assert reply.status == 200 and reply.headers["Content-Encoding"] == "gzip"
            bodies.append(gzip.decompress(reply.read()))
    served = _served_by(deployment, path, at_least=before + 3)
    # The browser above asked for more encodings than gzip (another copy in the cache); the
    # first request with only gzip may reach the replica, the later ones never do.
    assert served[-2:] == ["<CACHE>", "<CACHE>"], served
    assert sum(not s.startswith("<") for s in served) <= 2, served
    assert bodies[0] == bodies[1] == bodies[2] and len(bodies[0]) > 1000


def _served_by(deployment: Deployment, path: str, at_least: int, timeout: float = 10) -> list[str]:
    """Who answered each GET of `path` in HAProxy's log, in order: a replica or <CACHE>."""
    pattern = re.compile(r" app/(\S+) .*\"GET " + re.escape(path) + " ")
    deadline = time.monotonic() + timeout
    while True:
        text = deployment.log.read_text(encoding="utf-8", errors="replace")
        found = [m.group(1) for m in pattern.finditer(text)]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
