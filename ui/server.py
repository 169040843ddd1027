"""Process-wide adjustments to Streamlit's server for a classroom: applied once, from `ui.frame`.

Each one is a measured cost of the stock server under a class's load (README, "Running it for
a classroom"), fixed without editing Streamlit itself:

- **Static files, compressed once.** A first visit downloads the app's JavaScript (about 10 MB
  of bundles). Streamlit 1.67 serves them uncompressed from disk, 64 kB per read, each read a
  hop to a worker thread, on every visit. `serve_static_compressed` keeps each file's gzip in
  memory the first time a browser asks for it (keyed by path, size and modification time) and
  answers later visits with those bytes in one piece: less than half the bytes to send and no
  file reads. For Streamlit's own files, which cannot change while the server runs, the answer
  is kept whole, so a repeat skips the per-request file lookup on a worker thread too (105
  files per first visit: 0.48 s of server CPU before, about 0.2 s after). Range and
  conditional requests, and clients that do not accept gzip, get the stock answer.
- **No file watchers on reconnect.** With `server.fileWatcherType = "none"` a new session
  registers no watchers, but a session that reconnects (a laptop waking, a flaky network)
  registers them anyway, and from then on every run of that session scans every loaded
  module's path. `skip_watchers_when_off` makes that registration follow the setting too.
- **Config files polled every 2 s, not every 0.2 s.** Streamlit polls its config files (and
  secrets files) for changes five times a second whatever `fileWatcherType` says, and hashes a
  missing file's path on every poll: about 1% of a core, always. With watchers off,
  `slow_config_polling` makes that every 2 s (an edited config is still picked up).
- **The list of pages made once.** Streamlit rebuilds a page object for each of our 27 page
  files on every run, resolving each file's path on disk (about 2 ms a run, more on a busy
  disk). `reuse_page_objects` keeps the first object made for each file and hands every run its
  own shallow copy: a page object holds only the file's path and names.
- **Startup objects frozen for the garbage collector.** Once torch, Plotly, Streamlit and the
  app's modules are imported the process holds about 560,000 objects, and every full collection
  walks all of them: 0.3 to 0.5 s of CPU, landing on whichever page open tripped it.
  `freeze_startup_objects` imports every module of the app at the first run (so that a page
  opened later adds none), collects once and moves those objects to the permanent generation
  (`gc.freeze`), so later collections walk only what the pages made since.

`CNNLAB_SKIP_ADJUSTMENTS` (names, comma-separated) leaves adjustments out: the classroom load
benchmark's `--baseline` runs a stock server that way for a ratio in the same run.
"""

from __future__ import annotations

import copy
import functools
import gc
import gzip
import os
import threading
from typing import Any

GZIP_LEVEL = 6  # zlib's default: most of the saving of level 9 for a fraction of its time
MAX_CACHED_BYTES = 16 * 1024 * 1024  # one file larger than this is served as it is
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
_PATCHED = "_cnnlab_patched"
CONFIG_POLL_S = 2.0  # Streamlit's is 0.2 s
SKIP_ENV = "CNNLAB_SKIP_ADJUSTMENTS"


def install() -> list[str]:
    """Apply every adjustment that is not applied yet; returns the names of those applied now."""
    skipped = {name.strip() for name in os.environ.get(SKIP_ENV, "").split(",")}
    applied = []
    for patch in ADJUSTMENTS:
        if patch.__name__ not in skipped and patch():
            applied.append(patch.__name__)
    return applied


# ---------------------------------------------------------------- static files


class _GzipCache:
    """The gzip of each static file asked for, by (path, size, mtime); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: dict[tuple[str, int, int], bytes] = {}

    def get(self, path: str, stat_result: os.stat_result) -> bytes:
        key = (path, stat_result.st_size, stat_result.st_mtime_ns)
        with self._lock:
            body = self._bodies.get(key)
        if body is None:
            with open(path, "rb") as file:
                body = gzip.compress(file.read(), GZIP_LEVEL, mtime=0)
            with self._lock:
                # A file replaced on disk leaves its old entry: drop entries of the same path.
                for old in [k for k in self._bodies if k[0] == path and k != key]:
                    del self._bodies[old]
                self._bodies[key] = body
        return body

    def __len__(self) -> int:
        return len(self._bodies)


GZIP_CACHE = _GzipCache()


def _accepts_gzip(scope: Any) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"accept-encoding" and b"gzip" in value.lower():
            return True
    return False


def _has_range(scope: Any) -> bool:
    return any(name == b"range" for name, _ in scope.get("headers", ()))


def compressed_response(response: Any, full_path: str, stat_result: os.stat_result, scope: Any):
    """`response` (a FileResponse) as one gzip-encoded body from the cache, when it may be."""
    from starlette.responses import FileResponse, Response

    media_type = response.media_type or ""
    if (
        not isinstance(response, FileResponse)
        or response.status_code != 200
        or stat_result.st_size > MAX_CACHED_BYTES
        or not media_type.startswith(COMPRESSIBLE)
        or not _accepts_gzip(scope)
        or _has_range(scope)
    ):
        return response
    body = GZIP_CACHE.get(str(full_path), stat_result)
    headers = {
        k: v
        for k, v in response.headers.items()
        if k not in ("content-length", "accept-ranges", "content-type")
    }
    headers |= {"content-encoding": "gzip", "vary": "Accept-Encoding"}
    return Response(body, status_code=200, headers=headers, media_type=response.media_type)


_PLAIN_GET = (b"range", b"if-none-match", b"if-modified-since")
IMMUTABLE_DIRS: set[str] = set()  # directories whose files never change while serving
_WHOLE: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = {}  # (dir, path): body, headers


def _immutable_dirs() -> set[str]:
    if not IMMUTABLE_DIRS:
        from streamlit import file_util

        IMMUTABLE_DIRS.add(os.path.realpath(file_util.get_static_dir()))
    return IMMUTABLE_DIRS


def _plain_gzip_get(scope: Any) -> bool:
    """A GET that accepts gzip, asks for the whole file and revalidates nothing."""
    names = {name for name, _ in scope.get("headers", ())}
    return scope.get("method") == "GET" and _accepts_gzip(scope) and names.isdisjoint(_PLAIN_GET)


def serve_static_compressed() -> bool:
    """Route every StaticFiles answer through `compressed_response`, and keep whole answers of
    Streamlit's own files; False if already done."""
    from starlette.responses import Response
    from starlette.staticfiles import StaticFiles

    original, original_get = StaticFiles.file_response, StaticFiles.get_response
    if getattr(original, _PATCHED, False):
        return False

    @functools.wraps(original)
    def file_response(self, full_path, stat_result, scope, status_code=200):
        response = original(self, full_path, stat_result, scope, status_code)
        return compressed_response(response, full_path, stat_result, scope)

    @functools.wraps(original_get)
    async def get_response(self, path, scope):
        key = (os.path.realpath(str(self.directory)), path)
        plain = _plain_gzip_get(scope) and key[0] in _immutable_dirs()
        if plain and key in _WHOLE:
            body, headers = _WHOLE[key]
            return Response(body, status_code=200, headers=headers)
        response = await original_get(self, path, scope)
        if plain and response.status_code == 200 and "content-encoding" in response.headers:
            _WHOLE[key] = (response.body, dict(response.headers))
        return response

    for patched in (file_response, get_response):
        setattr(patched, _PATCHED, True)
    StaticFiles.file_response, StaticFiles.get_response = file_response, get_response
    return True


# ---------------------------------------------------------------- file watchers


def skip_watchers_when_off() -> bool:
    """Make `AppSession.register_file_watchers` do nothing while fileWatcherType is "none"."""
    from streamlit import config
    from streamlit.runtime.app_session import AppSession

    original = AppSession.register_file_watchers
    if getattr(original, _PATCHED, False):
        return False

    @functools.wraps(original)
    def register_file_watchers(self) -> None:
        # A new session checks the same setting before registering (AppSession.__init__).
        if config.get_option("server.fileWatcherType") == "none":
            return
        original(self)

    setattr(register_file_watchers, _PATCHED, True)
    AppSession.register_file_watchers = register_file_watchers
    return True


def slow_config_polling() -> bool:
    """With file watchers off, poll config and secrets files every `CONFIG_POLL_S` seconds."""
    from streamlit import config
    from streamlit.watcher import polling_path_watcher

    if config.get_option("server.fileWatcherType") != "none":
        return False
    if polling_path_watcher._POLLING_PERIOD_SECS == CONFIG_POLL_S:
        return False
    polling_path_watcher._POLLING_PERIOD_SECS = CONFIG_POLL_S  # read at each poll
    return True


# ---------------------------------------------------------------- page objects


def reuse_page_objects() -> bool:
    """Make Streamlit's internal page factory (used for the pages/ folder) build each file's
    page object once; every call then returns a copy, so no two runs share one."""
    from streamlit.navigation import page as page_module

    original = page_module._create_page
    if getattr(original, _PATCHED, False):
        return False
    made: dict[tuple[str, bool], Any] = {}  # two runs making one at once just both keep one

    @functools.wraps(original)
    def create_page(page: Any, *, default: bool = False) -> Any:
        if not (isinstance(page, os.PathLike) and os.path.isabs(page)):
            return original(page, default=default)  # only the pages/ folder's absolute paths
        key = (os.fspath(page), default)
        first = made.get(key) or made.setdefault(key, original(page, default=default))
        return copy.copy(first)

    setattr(create_page, _PATCHED, True)
    page_module._create_page = create_page
    return True


# ---------------------------------------------------------------- garbage collector

_frozen = threading.Event()


def freeze_startup_objects() -> bool:
    """Import every module of the app, collect once, then exempt every object alive now from
    later full collections."""
    if _frozen.is_set():
        return False
    _frozen.set()
    import_app_modules()
    gc.collect()
    gc.freeze()
    return True


APP_PACKAGES = ("models", "viz", "ui")


def import_app_modules() -> list[str]:
    """Import every module of `APP_PACKAGES` now (about 3 s, once per server) rather than when a
    student first opens the page that needs it, so that their objects are frozen too (about
    120,000 more). Returns the names of those that failed, which are logged and left for the
    page that imports them to report."""
    import importlib
    import logging
    import pkgutil

    failed = []
    for package in APP_PACKAGES:
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, package + "."):
            try:
                importlib.import_module(module.name)
            except Exception:  # a page that needs it shows the error; the server goes on
                logging.getLogger("cnnlab").exception("importing %s failed", module.name)
                failed.append(module.name)
    return failed


ADJUSTMENTS = (
    serve_static_compressed,
    skip_watchers_when_off,
    slow_config_polling,
    reuse_page_objects,
    freeze_startup_objects,
)
