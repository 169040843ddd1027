"""The server adjustments of ui/server.py: static files gzipped once, no watchers on reconnect."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import os
from unittest import mock

import pytest
from starlette.staticfiles import StaticFiles
from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.script_data import ScriptData
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.runtime.websocket_session_manager import WebsocketSessionManager
from streamlit.testing.v1.util import patch_config_options

from ui import server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLE = b"function add(a, b) { return a + b; }\n" * 2000  # 74 kB of compressible script
FONT = bytes(range(256)) * 40  # a font: not worth compressing


@pytest.fixture(autouse=True)
def installed() -> None:
    server.install()


def _get(app: StaticFiles, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """One GET through the ASGI app: (status, headers, body)."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[dict] = []

    async def receive() -> dict:
        await asyncio.Event().wait()  # the client never hangs up
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    _run(app(scope, receive, send))
    head = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], head, b"".join(m.get("body", b"") for m in sent[1:])


def _run(coroutine):
    """Run a coroutine to its end on a thread of its own: in the full suite the browser tests'
    session-wide Playwright keeps an event loop running on the main thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def static(tmp_path) -> StaticFiles:
    (tmp_path / "bundle.js").write_bytes(BUNDLE)
    (tmp_path / "logo.png").write_bytes(b"\x89PNG" + bytes(2000))
    return StaticFiles(directory=tmp_path)


def test_installing_twice_patches_once():
    assert server.install() == []


def test_a_script_is_sent_gzipped_from_memory_and_decodes_to_the_file(static):
    status, head, body = _get(static, "/bundle.js", accept_encoding="gzip, deflate, br")
    assert status == 200 and head["content-encoding"] == "gzip"
    assert gzip.decompress(body) == BUNDLE and len(body) < len(BUNDLE) / 10
    assert head["content-type"].startswith(("text/javascript", "application/javascript"))
    assert int(head["content-length"]) == len(body) and "etag" in head
    assert _get(static, "/bundle.js", accept_encoding="gzip")[2] == body  # from the cache


def test_a_changed_file_is_compressed_again(static, tmp_path):
    _get(static, "/bundle.js", accept_encoding="gzip")
    (tmp_path / "bundle.js").write_bytes(b"let changed = true;\n" * 100)
    os.utime(tmp_path / "bundle.js", ns=(1, 1))
    body = _get(static, "/bundle.js", accept_encoding="gzip")[2]
    assert gzip.decompress(body) == b"let changed = true;\n" * 100


@pytest.mark.parametrize(
    "path,headers",
    [
        ("/bundle.js", {}),  # a client without gzip
        ("/bundle.js", {"accept_encoding": "gzip", "range": "bytes=0-9"}),  # part of a file
        ("/logo.png", {"accept_encoding": "gzip"}),  # already compressed
    ],
)
def test_other_requests_get_the_stock_answer(static, path, headers):
    status, head, body = _get(static, path, **headers)
    assert "content-encoding" not in head
    assert status == (206 if "range" in headers else 200)
    whole = (static.directory / path[1:]).read_bytes()
    assert body == (whole[:10] if "range" in headers else whole)


def test_streamlits_own_files_are_answered_whole_without_looking_them_up_again(
    static, tmp_path, monkeypatch
):
    monkeypatch.setattr(server, "IMMUTABLE_DIRS", {os.path.realpath(tmp_path)})
    first = _get(static, "/bundle.js", accept_encoding="gzip")
    lookups = mock.Mock(side_effect=StaticFiles.lookup_path)
    monkeypatch.setattr(StaticFiles, "lookup_path", lambda self, path: lookups(self, path))
    again = _get(static, "/bundle.js", accept_encoding="gzip")
    assert again[0] == 200 and again[2] == first[2] and lookups.call_count == 0
    assert again[1]["content-length"] == str(len(first[2]))
    _get(static, "/bundle.js", accept_encoding="gzip", range="bytes=0-9")  # not a plain GET
    assert lookups.call_count == 1


def test_a_revalidation_with_the_etag_is_answered_not_modified(static):
    etag = _get(static, "/bundle.js", accept_encoding="gzip")[1]["etag"]
    status, _, body = _get(static, "/bundle.js", accept_encoding="gzip", if_none_match=etag)
    assert status == 304 and body == b""


@pytest.fixture
def app(tmp_path, monkeypatch):
    """Streamlit's static handler behind Streamlit's own middleware, serving `tmp_path` as if
    it were Streamlit's folder of bundles."""
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from streamlit.web.server.starlette.starlette_app import create_streamlit_middleware
    from streamlit.web.server.starlette.starlette_static_routes import (
        create_streamlit_static_handler,
    )

    (tmp_path / "bundle.js").write_bytes(BUNDLE)
    (tmp_path / "font.woff2").write_bytes(FONT)
    (tmp_path / "index.html").write_text("<html><body>app</body></html>" * 50)
    monkeypatch.setattr(server, "IMMUTABLE_DIRS", {os.path.realpath(tmp_path)})
    monkeypatch.setattr(server, "_REPLAY", {})
    handler = create_streamlit_static_handler(directory=str(tmp_path), base_url=None)
    return Starlette(routes=[Mount("/", app=handler)], middleware=create_streamlit_middleware())


def test_a_bundle_asked_for_again_is_answered_before_the_middleware_as_it_was_first(
    app, monkeypatch
):
    first = _get(app, "/bundle.js", accept_encoding="gzip")
    assert first[0] == 200 and "immutable" in first[1]["cache-control"]
    handled = mock.Mock(side_effect=StaticFiles.get_response)
    monkeypatch.setattr(StaticFiles, "get_response", lambda *a: handled(*a))
    again = _get(app, "/bundle.js", accept_encoding="gzip")
    assert again == first and handled.call_count == 0
    assert gzip.decompress(again[2]) == BUNDLE


def test_a_font_is_read_once_then_answered_from_memory_and_replayed(app, monkeypatch):
    first = _get(app, "/font.woff2", accept_encoding="gzip")
    assert first[0] == 200 and first[2] == FONT and "content-encoding" not in first[1]
    assert first[1]["content-length"] == str(len(FONT))
    handled = mock.Mock(side_effect=StaticFiles.get_response)
    monkeypatch.setattr(StaticFiles, "get_response", lambda *a: handled(*a))
    opened = mock.Mock(side_effect=open)
    monkeypatch.setattr("builtins.open", opened)
    assert _get(app, "/font.woff2", accept_encoding="gzip") == first
    assert handled.call_count == 0 and opened.call_count == 0
    part = _get(app, "/font.woff2", accept_encoding="gzip", range="bytes=0-9")
    assert part[0] == 206 and part[2] == FONT[:10]  # a range still goes the stock way


@pytest.mark.parametrize(
    "path,headers",
    [
        ("/index.html", {"accept_encoding": "gzip"}),  # not cacheable for good: no-cache
        ("/bundle.js", {"accept_encoding": "gzip", "range": "bytes=0-9"}),  # part of a file
        ("/bundle.js", {}),  # a client without gzip
        ("/missing.js", {"accept_encoding": "gzip"}),  # a 404 (answered with the index)
    ],
)
def test_other_answers_go_through_the_whole_stack_every_time(app, monkeypatch, path, headers):
    first = _get(app, path, **headers)
    handled = mock.Mock(side_effect=StaticFiles.get_response)
    monkeypatch.setattr(StaticFiles, "get_response", lambda *a: handled(*a))
    again = _get(app, path, **headers)
    assert handled.call_count == 1 and again[0] == first[0] and again[2] == first[2]
    assert server._REPLAY == {}


def test_theme_options_are_read_from_an_index_and_follow_changes():
    from streamlit import config

    for section in ("theme", "theme.light", "theme.dark.sidebar", "server", "client"):
        walked = {
            o.name: o.value for o in config.get_config_options().values() if o.section == section
        }
        assert config.get_options_for_section(section) == walked and walked
    before = config.get_option("theme.primaryColor")
    config.set_option("theme.primaryColor", "#123456")  # as a re-read config file would
    try:
        assert config.get_options_for_section("theme")["primaryColor"] == "#123456"
    finally:
        config.set_option("theme.primaryColor", before)
    assert config.get_options_for_section("theme")["primaryColor"] == before


def test_a_shared_figures_json_is_made_once_and_matches_plotlys():
    import plotly.graph_objects as go
    import plotly.io

    from ui import results

    def figure() -> go.Figure:
        return go.Figure(go.Heatmap(z=[[1.5, 2.0], [3.0, 4.25]]), layout={"title": "maps"})

    shared = results._frozen(figure())  # what results.shared and results.memo keep
    assert isinstance(shared, results.SharedFigure)
    made = shared.to_dict()
    assert isinstance(made, server.FigureDict) and made.json is None
    text = plotly.io.to_json(made, validate=False)  # what st.plotly_chart calls
    assert text == plotly.io.to_json(figure(), validate=False)
    assert plotly.io.to_json(made, validate=False) is text is made.json
    assert plotly.io.to_json(figure().to_dict(), pretty=True) != text  # others as before


def _reconnect() -> tuple[WebsocketSessionManager, str, str]:
    """A session connects, drops (a laptop sleeping) and reconnects: (manager, old, new id)."""

    async def run() -> tuple[WebsocketSessionManager, str, str]:
        manager = WebsocketSessionManager(
            MemorySessionStorage(), MemoryUploadedFileManager("/upload"), ScriptCache(), None
        )
        script = ScriptData(os.path.join(ROOT, "app.py"), "streamlit run app.py")
        first = manager.connect_session(mock.MagicMock(), script, {})
        manager.disconnect_session(first)
        again = manager.connect_session(mock.MagicMock(), script, {}, existing_session_id=first)
        return manager, first, again

    return _run(run())


def test_a_session_reconnects_to_its_state_without_file_watchers_when_they_are_off():
    with patch_config_options({"server.fileWatcherType": "none"}):
        manager, first, again = _reconnect()
    assert again == first and manager.get_active_session_info(again) is not None
    assert manager.get_session_info(again).session._local_sources_watcher is None
    manager.close_session(again)


def test_with_watching_on_a_reconnect_still_registers_the_watchers():
    watcher = mock.MagicMock(name="LocalSourcesWatcher")
    with (
        patch_config_options({"server.fileWatcherType": "poll"}),
        mock.patch("streamlit.runtime.app_session.LocalSourcesWatcher", watcher),
    ):
        manager, first, again = _reconnect()
        assert again == first
        assert watcher.call_count == 2  # at the first connect, and again at the reconnect
        manager.close_session(again)


def test_config_files_are_polled_every_two_seconds_when_watching_is_off():
    from streamlit.watcher import polling_path_watcher

    assert polling_path_watcher._POLLING_PERIOD_SECS == server.CONFIG_POLL_S == 2.0


def test_objects_alive_after_startup_are_frozen_out_of_full_collections():
    import gc

    # torch, Plotly, Streamlit and the app's modules: a full collection no longer walks them
    assert gc.get_freeze_count() > 10_000
    assert server.install() == []  # frozen once per process, not at every install


def test_an_adjustment_named_in_the_skip_setting_is_left_out(monkeypatch):
    calls = []

    def freeze_startup_objects() -> bool:
        calls.append("applied")
        return True

    monkeypatch.setattr(server, "ADJUSTMENTS", (freeze_startup_objects,))
    monkeypatch.setenv(server.SKIP_ENV, "serve_static_compressed, freeze_startup_objects")
    assert server.install() == [] and calls == []
    monkeypatch.setenv(server.SKIP_ENV, "serve_static_compressed")
    assert server.install() == ["freeze_startup_objects"] and calls == ["applied"]


def test_each_page_file_is_made_into_a_page_once_and_every_run_gets_its_own_copy(tmp_path):
    from streamlit.navigation import page as page_module

    script = tmp_path / "lesson.py"
    script.write_text("x = 1\n")
    ctx = mock.Mock()
    ctx.pages_manager.main_script_parent = tmp_path
    with mock.patch.object(page_module, "get_script_run_ctx", return_value=ctx):
        first, second = page_module._create_page(script), page_module._create_page(script)
        assert first is not second and first._page == second._page == script.resolve()
        assert first.url_path == second.url_path == "lesson" and first._script_hash
        first._can_be_called = True  # what st.navigation does to the page it is about to run
        assert second._can_be_called is False
        with mock.patch.object(page_module.Path, "resolve", side_effect=AssertionError):
            assert page_module._create_page(script).title == "lesson"  # from the kept one
        assert page_module._create_page(script, default=True)._default is True


def test_every_module_of_the_app_imports_so_the_freeze_covers_it():
    import sys

    assert server.import_app_modules() == []
    assert {"models.store.workspaces", "viz.backprop", "ui.panels.build"} <= set(sys.modules)
