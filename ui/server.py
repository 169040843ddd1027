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
- **Bundles asked for again answered before the middleware.** Even from memory, each of those
  requests went through Streamlit's middleware (path checks, the session cookie, the gzip
  choice, routing) and the static handler again. `replay_static_answers` keeps the messages the
  whole stack sent for one of Streamlit's own files answered from memory (200, `immutable`, no
  cookie) and sends them again for a plain GET of the same path: a first visit went from about
  0.13 to 0.09 s of server CPU, and the first open of a page whose widgets need more bundles
  (36 for Convolution) gets cheaper the same way. Streamlit's fonts and icon, not worth
  compressing, are kept in memory as they are (`memory_response`) instead of being streamed
  from disk through a worker thread at every visit.
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
- **Theme options read from an index.** Every run starts with a new-session message whose six
  theme sections are each gathered by walking all of Streamlit's ~200 config options (about 4%
  of a page open's CPU under a class's load). `index_config_sections` groups the options by
  section once per parsed config; values are still read at each call.
- **A shared figure's JSON made once.** `st.plotly_chart` turns every figure into JSON at every
  run. For figures built once for the whole class (`ui.results.SharedFigure`, whose dict is
  already made once) `reuse_figure_json` keeps that JSON with the dict (about 2%).
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
_FROM_MEMORY = "cnnlab_from_memory"  # set on the static answers made here from memory
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


class _FileCache:
    """Each static file asked for, as it is on disk or gzipped, by (path, size, mtime, gzip);
    thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: dict[tuple[str, int, int, bool], bytes] = {}

    def get(self, path: str, stat_result: os.stat_result, compressed: bool = True) -> bytes:
        key = (path, stat_result.st_size, stat_result.st_mtime_ns, compressed)
        with self._lock:
            body = self._bodies.get(key)
        if body is None:
            with open(path, "rb") as file:
                body = file.read()
            if compressed:
                body = gzip.compress(body, GZIP_LEVEL, mtime=0)
            with self._lock:
                # A file replaced on disk leaves its old entry: drop entries of the same path.
                for old in [k for k in self._bodies if k[0] == path and k[1:3] != key[1:3]]:
                    del self._bodies[old]
                self._bodies[key] = body
        return body

    def __len__(self) -> int:
        return len(self._bodies)


FILE_CACHE = _FileCache()


def _accepts_gzip(scope: Any) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"accept-encoding" and b"gzip" in value.lower():
            return True
    return False


def _has_range(scope: Any) -> bool:
    return any(name == b"range" for name, _ in scope.get("headers", ()))


def memory_response(
    response: Any, full_path: str, stat_result: os.stat_result, scope: Any, immutable: bool
):
    """`response` (a FileResponse) answered from memory when it may be: gzipped when the file
    compresses and the client accepts gzip; as it is for one of Streamlit's own files (`immutable`)
    that is not worth compressing, a font or an icon, which is otherwise streamed from disk with
    a hop to a worker thread per read. Anything else (a range, a large file) as it was."""
    from starlette.responses import FileResponse, Response

    if (
        not isinstance(response, FileResponse)
        or response.status_code != 200
        or stat_result.st_size > MAX_CACHED_BYTES
        or _has_range(scope)
    ):
        return response
    media_type = response.media_type or ""
    if media_type.startswith(COMPRESSIBLE) and _accepts_gzip(scope):
        body = FILE_CACHE.get(str(full_path), stat_result)
        dropped = ("content-length", "accept-ranges", "content-type")
        added = {"content-encoding": "gzip", "vary": "Accept-Encoding"}
    elif immutable:
        body = FILE_CACHE.get(str(full_path), stat_result, compressed=False)
        dropped, added = ("content-length",), {}
    else:
        return response
    headers = {k: v for k, v in response.headers.items() if k not in dropped} | added
    answer = Response(body, status_code=200, headers=headers, media_type=response.media_type)
    setattr(answer, _FROM_MEMORY, True)
    return answer


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
    """Route every StaticFiles answer through `memory_response`, and keep whole answers of
    Streamlit's own files; False if already done."""
    from starlette.responses import Response
    from starlette.staticfiles import StaticFiles

    original, original_get = StaticFiles.file_response, StaticFiles.get_response
    if getattr(original, _PATCHED, False):
        return False

    @functools.wraps(original)
    def file_response(self, full_path, stat_result, scope, status_code=200):
        response = original(self, full_path, stat_result, scope, status_code)
        immutable = os.path.realpath(str(self.directory)) in _immutable_dirs()
        return memory_response(response, full_path, stat_result, scope, immutable)

    @functools.wraps(original_get)
    async def get_response(self, path, scope):
        key = (os.path.realpath(str(self.directory)), path)
        plain = _plain_gzip_get(scope) and key[0] in _immutable_dirs()
        if plain and key in _WHOLE:
            body, headers = _WHOLE[key]
            scope[_REPLAYABLE] = True
            return Response(body, status_code=200, headers=headers)
        response = await original_get(self, path, scope)
        if plain and response.status_code == 200 and getattr(response, _FROM_MEMORY, False):
            _WHOLE[key] = (response.body, dict(response.headers))
            scope[_REPLAYABLE] = True
        return response

    for patched in (file_response, get_response):
        setattr(patched, _PATCHED, True)
    StaticFiles.file_response, StaticFiles.get_response = file_response, get_response
    return True


_REPLAYABLE = "cnnlab.replayable"  # set in a request's scope when `_WHOLE` answered it
_REPLAY: dict[tuple[str, bytes], list[dict]] = {}  # (path, query): the messages first sent
MAX_REPLAYS = 2048  # more distinct paths than Streamlit ships files; a bound all the same


def _replayable(messages: list[dict]) -> bool:
    """An answer that may be sent again as it is: 200, cacheable for good, no cookie, all in one
    body message (and made from memory: `_REPLAYABLE` in the scope says so)."""
    if len(messages) != 2 or messages[0].get("status") != 200:
        return False
    if messages[1].get("more_body"):
        return False
    headers = {k.lower(): v for k, v in messages[0].get("headers", ())}
    return b"immutable" in headers.get(b"cache-control", b"") and b"set-cookie" not in headers


def replay_static_answers() -> bool:
    """Answer a repeat GET of one of Streamlit's own files (a hashed bundle, a font) with the
    messages the whole stack sent the first time, before the middleware (path checks, session
    cookie, gzip selection, routing) runs again; False if already done."""
    from starlette.applications import Starlette

    original = Starlette.__call__
    if getattr(original, _PATCHED, False):
        return False

    @functools.wraps(original)
    async def call(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not _plain_gzip_get(scope):
            await original(self, scope, receive, send)
            return
        path = (scope["path"], scope.get("query_string", b""))
        kept = _REPLAY.get(path)
        if kept is not None:
            for message in kept:
                await send(message)
            return
        sent: list[dict] = []

        async def keep(message: dict) -> None:
            sent.append(message)
            await send(message)

        await original(self, scope, receive, keep)
        if scope.get(_REPLAYABLE) and len(_REPLAY) < MAX_REPLAYS and _replayable(sent):
            _REPLAY[path] = sent

    setattr(call, _PATCHED, True)
    Starlette.__call__ = call
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


# ---------------------------------------------------------------- config and figures


def index_config_sections() -> bool:
    """Make `config.get_options_for_section` look up the section's options in an index instead
    of walking all of Streamlit's ~200 options: it runs six times at the start of every run (the
    theme sections of the new-session message). Values are read from the options at each call,
    so a changed option is seen; the index is made again when the config is parsed again."""
    from streamlit import config

    original = config.get_options_for_section
    if getattr(original, _PATCHED, False):
        return False
    index: list[Any] = [None, 0, {}]  # the options dict it was made from, its size, the index

    @functools.wraps(original)
    def get_options_for_section(section: str) -> dict[str, Any]:
        options = config.get_config_options()
        made_from, size, by_section = index
        if made_from is not options or size != len(options):
            by_section = {}
            for option in list(options.values()):
                by_section.setdefault(option.section, []).append(option)
            index[:] = [options, len(options), by_section]
        return {option.name: option.value for option in by_section.get(section, ())}

    setattr(get_options_for_section, _PATCHED, True)
    config.get_options_for_section = get_options_for_section
    return True


class FigureDict(dict):
    """A figure's dict that keeps its JSON once made (`ui.results.SharedFigure` hands these
    out); it must not change afterwards."""

    json: str | None = None


def reuse_figure_json() -> bool:
    """Make `plotly.io.to_json` (which `st.plotly_chart` calls on every run) turn a `FigureDict`
    into JSON once: a figure built once for the whole class was otherwise serialised again for
    every session at every run."""
    import plotly.io

    original = plotly.io.to_json
    if getattr(original, _PATCHED, False):
        return False

    @functools.wraps(original)
    def to_json(fig, validate=True, pretty=False, remove_uids=True, engine=None):
        if type(fig) is not FigureDict or pretty or not remove_uids or engine is not None:
            return original(fig, validate, pretty, remove_uids, engine)
        text = fig.json
        if text is None:
            text = fig.json = original(fig, validate, pretty, remove_uids, engine)
        return text

    setattr(to_json, _PATCHED, True)
    plotly.io.to_json = to_json
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
    replay_static_answers,
    skip_watchers_when_off,
    slow_config_polling,
    reuse_page_objects,
    index_config_sections,
    reuse_figure_json,
    freeze_startup_objects,
)
