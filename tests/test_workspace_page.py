"""A student's workspace in the app: what one session made comes back in the next session of
the same workspace (a reload, a reopened tab, a restarted server), two tabs share their runs,
and a fresh workspace starts empty. The browser's cookie is played by setting the workspace id
in the session before its first run (AppTest cannot send cookies); the browser tests in
tests/e2e/test_workspace.py do it with a real cookie.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from models.network.presets import PRESETS
from models.store.workspaces import WorkspaceStore
from models.training.engine import TrainConfig, TrainMetrics
from models.training.history import RunRecord
from tests.conftest import PAGE_TIMEOUT_S, ROOT
from tests.test_train import TINY
from ui import state, workspace, workspace_panel
from ui.runs import HISTORY


@pytest.fixture(autouse=True)
def own_data_folder(monkeypatch, tmp_path):
    """Each test its own database and workspace folder (a server with nothing saved yet)."""
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CNNLAB_DATABASE_URL", raising=False)


def session(ws: str, page: str | None = None) -> AppTest:
    """A new browser session whose cookie names workspace `ws`, on `page` (None: Home)."""
    at = AppTest.from_file(ROOT / "app.py", default_timeout=PAGE_TIMEOUT_S)
    at.session_state[workspace.ID] = ws
    at.run()
    if page is not None:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def a_run(run_id: str, accuracy: float) -> RunRecord:
    """A cheap ended run without a model."""
    report = TrainMetrics("epoch", 1, 4, 8, 64, 0.5, 0.75, 1e-3, 900.0, 1.2, 0.1, 0.7, accuracy)
    metrics = {"validation_accuracy": accuracy}
    return RunRecord(run_id, f"run {run_id}", "", "", TrainConfig(), TINY, "halves",
                     ("left", "right"), (report,), "finished", None, metrics, None)  # fmt: skip


def load(at: AppTest, preset: str) -> None:
    """Build page: pick a preset and press Load."""
    at.selectbox(key="build.preset").set_value(preset)
    at.button(key="build.load").click().run()
    assert not at.exception, at.exception


def png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_new_browser_gets_a_fresh_workspace_id_and_nothing_is_written_until_it_changes():
    at = session("")  # no cookie
    ws = at.session_state[workspace.ID]
    assert workspace.WORKSPACE_ID.fullmatch(ws)
    assert not workspace.workspace_store().exists(ws), "opening a page writes nothing"


def test_network_image_pipeline_model_and_lesson_progress_come_back_in_a_new_session():
    ws = WorkspaceStore.new_id()
    first = session(ws, "build")
    chosen = next(name for name in PRESETS if PRESETS[name].spec != first.session_state["network"])
    load(first, chosen)
    assert first.session_state[state.NETWORK] == PRESETS[chosen].spec

    second = session(ws)  # the browser came back: a reload, or a restarted server
    assert second.session_state[state.NETWORK] == PRESETS[chosen].spec
    assert not second.warning, [w.value for w in second.warning]

    other = session(WorkspaceStore.new_id())  # another student's browser
    assert other.session_state[state.NETWORK] != PRESETS[chosen].spec


def test_an_uploaded_image_comes_back_and_a_sample_is_remembered_by_name():
    ws = WorkspaceStore.new_id()
    first = session(ws)
    first.sidebar.radio(key="sidebar.image_source").set_value("Upload").run()
    first.sidebar.file_uploader(key="sidebar.upload").set_value(
        ("red.png", png((200, 30, 30)), "image/png")
    ).run()
    assert not first.exception, first.exception
    assert first.session_state[state.IMAGE_NAME] == "red.png"

    second = session(ws)
    assert second.session_state[state.IMAGE_NAME] == "red.png"
    assert second.session_state[state.IMAGE].getpixel((5, 5)) == (200, 30, 30)


def _recording_tab() -> None:
    """A page that trains a tiny real run and keeps it, as every training page does."""
    import streamlit as st

    from models.network.build import build_model
    from models.training.engine import TrainConfig
    from models.training.executor import ThreadExecutor, TrainRequest
    from tests.test_train import TINY, toy_data
    from ui import runs, state, workspace_panel

    state.init()
    workspace_panel.show_notice()
    if st.button("Train and keep", key="record"):
        config = TrainConfig(epochs=1, batch_size=16)
        request = TrainRequest("tiny", build_model(TINY), toy_data(64), config, TINY)
        handle = ThreadExecutor(1).submit(request)
        handle.join(60)
        runs.record(handle)
    st.caption(f"{len(runs.history())} runs")


def recording_tab(ws: str) -> AppTest:
    at = AppTest.from_function(_recording_tab, default_timeout=PAGE_TIMEOUT_S)
    at.session_state[workspace.ID] = ws
    return at.run()


def test_two_tabs_of_one_workspace_see_the_same_runs_and_a_deletion():
    ws = WorkspaceStore.new_id()
    tab_a, tab_b = recording_tab(ws), session(ws, "experiments")
    tab_a.button(key="record").click().run()
    assert not tab_a.exception, tab_a.exception
    (kept,) = tab_a.session_state[HISTORY].runs()
    tab_b.run()  # the other tab's next run reads the store again
    (seen,) = tab_b.session_state[HISTORY].runs()
    assert seen.id == kept.id and seen.history == kept.history
    assert seen.checkpoint == kept.checkpoint and seen.checkpoint is not None
    # tab B deletes it; tab A follows on its next run
    tab_b.selectbox(key="experiments.manage").set_value(seen.id)
    tab_b.button(key="experiments.delete").click().run()
    assert not tab_b.exception, tab_b.exception
    tab_a.run()
    assert len(tab_a.session_state[HISTORY]) == 0


def test_a_full_workspace_says_which_limit_was_reached_and_the_run_stays_in_the_tab(monkeypatch):
    monkeypatch.setenv("CNNLAB_WORKSPACE_RUNS", "1")
    at = recording_tab(WorkspaceStore.new_id())
    at.button(key="record").click().run()
    at.button(key="record").click().run()
    at.run()  # the message is said at the top of the next run
    assert not at.exception, at.exception
    said = " ".join(w.value for w in at.warning)
    assert "was not saved" in said and "run" in said, said
    assert len(at.session_state[HISTORY]) == 2


def open_panel(at: AppTest) -> None:
    """Open the sidebar's "Your work" panel (drawn only while open), as a click on it does."""
    at.session_state[workspace_panel.PANEL] = True
    at.run()
    assert at.sidebar.button(key="_ws.fresh"), "the open panel shows its buttons"


def test_a_closed_panel_draws_nothing_but_its_button():
    at = session(WorkspaceStore.new_id())
    assert [b.key for b in at.sidebar.button if b.key == "_ws.fresh"] == []
    assert [u.key for u in at.sidebar.file_uploader if u.key == "_ws.upload"] == []
    open_panel(at)
    assert [u.key for u in at.sidebar.file_uploader if u.key == "_ws.upload"] == ["_ws.upload"]


def test_start_fresh_gives_an_empty_workspace_and_keeps_the_old_one_for_its_file():
    ws = WorkspaceStore.new_id()
    at = session(ws, "build")
    chosen = next(name for name in PRESETS if PRESETS[name].spec != at.session_state["network"])
    load(at, chosen)
    open_panel(at)
    at.sidebar.checkbox(key="_ws.sure").check().run()
    at.sidebar.button(key="_ws.fresh").click().run()
    assert not at.exception, at.exception
    assert at.session_state[workspace.ID] != ws
    assert at.session_state[state.NETWORK] != PRESETS[chosen].spec
    assert workspace.workspace_store().exists(ws)


def test_a_workspace_file_opens_as_a_copy_in_another_browser():
    ws = WorkspaceStore.new_id()
    first = session(ws, "build")
    chosen = next(name for name in PRESETS if PRESETS[name].spec != first.session_state["network"])
    load(first, chosen)
    data = workspace.workspace_store().export(ws)

    elsewhere = session(WorkspaceStore.new_id())
    open_panel(elsewhere)
    elsewhere.sidebar.file_uploader(key="_ws.upload").set_value(
        ("cnn_lab_workspace.zip", data, "application/zip")
    ).run()
    assert not elsewhere.exception, elsewhere.exception
    assert elsewhere.session_state[state.NETWORK] == PRESETS[chosen].spec
    assert elsewhere.session_state[workspace.ID] != ws


def test_a_file_that_is_not_a_workspace_is_refused_plainly():
    at = session(WorkspaceStore.new_id())
    before = at.session_state[workspace.ID]
    open_panel(at)
    at.sidebar.file_uploader(key="_ws.upload").set_value(
        ("holiday.zip", b"PK\x03\x04 nothing", "application/zip")
    ).run()
    assert not at.exception, at.exception
    assert any("holiday.zip" in e.value for e in at.sidebar.error), at.sidebar.error
    assert at.session_state[workspace.ID] == before


def test_a_database_that_cannot_be_reached_turns_saving_off_with_one_message(monkeypatch):
    monkeypatch.setenv("CNNLAB_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    at = AppTest.from_file(ROOT / "app.py", default_timeout=PAGE_TIMEOUT_S)
    at.session_state[workspace.ID] = WorkspaceStore.new_id()  # a returning browser
    at.run()
    assert not at.exception, at.exception
    said = " ".join(w.value for w in at.warning)
    assert "cannot be saved" in said and "Download" in said, said
    at.switch_page("pages/build.py").run()
    chosen = next(name for name in PRESETS if PRESETS[name].spec != at.session_state["network"])
    load(at, chosen)
    assert at.session_state[state.NETWORK] == PRESETS[chosen].spec  # the app goes on
    assert not at.warning, "said once, not on every page"


def _jobs_tab() -> None:
    """A page that starts a tiny run in one tab and lists the workspace's runs in any tab."""
    import streamlit as st

    from tests.test_executor import tiny
    from ui import jobs, state

    state.init()
    if st.button("Go", key="go"):
        jobs.submit("train/run", tiny("shared", n=32, epochs=1))
    job = jobs.get("train/run")
    st.caption(f"{job.status if job is not None else 'none'}")


def test_a_run_started_in_one_tab_can_be_watched_from_another_tab_of_the_workspace():
    ws = WorkspaceStore.new_id()
    tabs = []
    for _ in range(2):
        at = AppTest.from_function(_jobs_tab, default_timeout=PAGE_TIMEOUT_S)
        at.session_state[workspace.ID] = ws
        tabs.append(at.run())
    stranger = AppTest.from_function(_jobs_tab, default_timeout=PAGE_TIMEOUT_S)
    stranger.session_state[workspace.ID] = WorkspaceStore.new_id()
    stranger.run()
    tabs[0].button(key="go").click().run()
    tabs[1].run()
    assert tabs[1].caption[0].value in ("queued", "running", "finished"), tabs[1].caption[0].value
    assert stranger.run().caption[0].value == "none"  # another workspace sees nothing of it
