"""Students' workspaces, on SQLite and on PostgreSQL: what is saved comes back after a restart,
two tabs write field by field, a killed save leaves the last good blob, quotas say which limit
was reached, old workspaces expire, and uploaded workspace files are checked before use."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import zipfile
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from models.store import db as store_db
from models.store import workspace_files, workspaces
from models.store.schema import Base
from models.store.workspaces import Quota, QuotaError, WorkspaceError, WorkspaceStore
from tests.test_store import db, empty_url  # noqa: F401  (fixtures over both backends)

REPO = Path(__file__).resolve().parents[1]
DAY = 86400.0


class Clock:
    """A clock the test moves by hand (unix seconds)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "workspaces"


@pytest.fixture
def store(db, root) -> WorkspaceStore:  # noqa: F811
    return WorkspaceStore(db, root)


def reopened(url: str, root: Path, **kwargs) -> WorkspaceStore:
    """A store as a restarted server (or another replica) opens it: a new engine, same data."""
    return WorkspaceStore(store_db.Database(url), root, **kwargs)


def test_fields_and_blobs_come_back_through_a_new_store_after_a_restart(store, empty_url, root):  # noqa: F811
    ws = WorkspaceStore.new_id()
    store.set_field(ws, "pipeline", '{"flip": true}')
    store.set_field(ws, "progress", '["convolution"]')
    store.put_blob(ws, "runs/r1/model.pt", b"\x00weights" * 1000)
    store.put_blob(ws, "uploads/cat.png", b"png bytes")
    later = reopened(empty_url, root)
    assert later.exists(ws)
    assert later.fields(ws) == {"pipeline": '{"flip": true}', "progress": '["convolution"]'}
    assert later.blob(ws, "runs/r1/model.pt") == b"\x00weights" * 1000
    assert list(later.blobs(ws)) == ["runs/r1/model.pt", "uploads/cat.png"]
    assert list(later.blobs(ws, prefix="runs/")) == ["runs/r1/model.pt"]
    assert later.blobs(ws)["uploads/cat.png"].size == len(b"png bytes")
    assert later.usage(ws) == workspaces.Usage(8000 + 9 + 14 + 15, 1)
    later.db.close()


def test_an_unknown_workspace_is_empty_and_not_created_by_reading(store):
    ws = WorkspaceStore.new_id()
    assert store.fields(ws) == {} and store.blobs(ws) == {} and store.blob(ws, "x") is None
    assert store.version(ws) == 0 and not store.exists(ws)
    store.ensure(ws)
    assert store.exists(ws) and store.version(ws) == 0


def test_two_replicas_keep_both_fields_and_the_last_write_wins_per_field(store, empty_url, root):  # noqa: F811
    other = reopened(empty_url, root)
    ws = WorkspaceStore.new_id()
    store.set_field(ws, "network", '"tab one"')
    other.set_field(ws, "pipeline", '"tab two"')
    store.set_field(ws, "pipeline", '"tab one, later"')
    assert other.fields(ws) == {"network": '"tab one"', "pipeline": '"tab one, later"'}
    other.set_field(ws, "network", None)
    assert store.fields(ws) == {"pipeline": '"tab one, later"'}
    other.db.close()


def test_two_tabs_writing_at_once_lose_nothing_and_count_every_write(store, empty_url, root):  # noqa: F811
    other, ws = reopened(empty_url, root), WorkspaceStore.new_id()

    def tab(writer: WorkspaceStore, name: str) -> None:
        for i in range(15):
            writer.set_field(ws, f"{name}-{i}", str(i))
            writer.put_blob(ws, "runs/shared/model.pt", name.encode() * 100)

    threads = [
        threading.Thread(target=tab, args=(writer, name))
        for writer, name in [(store, "one"), (other, "two")]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(store.fields(ws)) == 30 and store.version(ws) == 60
    assert store.blob(ws, "runs/shared/model.pt") in (b"one" * 100, b"two" * 100)
    assert store.usage(ws) == workspaces.Usage(300 + sum(len(str(i)) for i in range(15)) * 2, 1)
    other.db.close()


def test_two_replicas_making_the_same_new_workspace_at_once_both_write(store, empty_url, root):  # noqa: F811
    other = reopened(empty_url, root)
    for _ in range(8):
        ws, start = WorkspaceStore.new_id(), threading.Barrier(2)

        def first_write(writer: WorkspaceStore, name: str, ws=ws, start=start) -> None:
            start.wait(timeout=30)
            writer.set_field(ws, name, "1")

        threads = [
            threading.Thread(target=first_write, args=(writer, name))
            for writer, name in [(store, "one"), (other, "two")]
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert store.fields(ws) == {"one": "1", "two": "1"} and store.version(ws) == 2
    other.db.close()


def test_every_write_bumps_the_version_another_tab_compares(store):
    ws = WorkspaceStore.new_id()
    seen = [store.version(ws)]
    store.set_field(ws, "a", "1")
    seen.append(store.version(ws))
    store.put_blob(ws, "b.bin", b"x")
    seen.append(store.version(ws))
    store.delete_blob(ws, "b.bin")
    seen.append(store.version(ws))
    store.ensure(ws)  # a visit is not a write
    seen.append(store.version(ws))
    assert seen == [0, 1, 2, 3, 3]


CHILD = textwrap.dedent(
    """
    import sys, time, types
    from pathlib import Path

    # the store needs only data_dir() from this module, which imports torch: seconds saved
    sys.modules["models.data.downloads"] = types.SimpleNamespace(data_dir=Path.cwd)
    from models.store import workspace_files
    from models.store.db import Database
    from models.store.workspaces import WorkspaceStore

    url, root, ws, stage = sys.argv[1:]

    def pause(at, temp):
        if at == stage:
            print("paused", temp, flush=True)
            time.sleep(120)

    workspace_files.SAVE_HOOK = pause
    WorkspaceStore(Database(url), Path(root)).put_blob(ws, "runs/r1/model.pt", b"N" * 3 * 2**20)
    """
)


@pytest.mark.parametrize("stage", ["partial", "complete"])
def test_a_save_killed_mid_write_leaves_the_last_good_blob(store, empty_url, root, stage):  # noqa: F811
    ws = WorkspaceStore.new_id()
    store.put_blob(ws, "runs/r1/model.pt", b"old" * 1000)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, empty_url, str(root), ws, stage],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        line = child.stdout.readline()
        assert line.startswith("paused"), "the child never reached the pause"
        temp = Path(line.split(maxsplit=1)[1].strip())
        assert temp.exists() and temp.stat().st_size > 0  # the new data was on its way
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    restarted = reopened(empty_url, root)
    assert restarted.blob(ws, "runs/r1/model.pt") == b"old" * 1000
    assert restarted.blobs(ws)["runs/r1/model.pt"].size == 3000
    assert list(restarted.blobs(ws)) == ["runs/r1/model.pt"]  # the temp file is no blob
    os.utime(temp, (0, 0))  # an hour-old leftover is cleaned by the next expiry pass
    restarted.expire()
    assert not temp.exists()
    restarted.put_blob(ws, "runs/r1/model.pt", b"new")
    assert store.blob(ws, "runs/r1/model.pt") == b"new"
    restarted.db.close()


def test_the_byte_quota_counts_fields_and_blobs_and_says_what_to_delete(db, root):  # noqa: F811
    store = WorkspaceStore(db, root, Quota(max_bytes=1000, max_runs=5))
    ws = WorkspaceStore.new_id()
    store.put_blob(ws, "uploads/a.png", b"a" * 600)
    store.put_blob(ws, "uploads/a.png", b"a" * 900)  # a replacement: the old size counts once
    with pytest.raises(QuotaError, match="more than its .* delete some runs or uploaded") as err:
        store.set_field(ws, "notes", "n" * 101)
    assert (err.value.limit, err.value.used, err.value.cap) == ("bytes", 1001, 1000)
    with pytest.raises(QuotaError):
        store.put_blob(ws, "uploads/b.png", b"b" * 101)
    assert store.blob(ws, "uploads/b.png") is None  # refused before anything was written
    assert store.usage(ws).bytes == 900
    store.delete_blob(ws, "uploads/a.png")
    store.put_blob(ws, "uploads/b.png", b"b" * 1000)


def test_the_run_quota_counts_runs_not_files_and_names_its_limit(db, root):  # noqa: F811
    store = WorkspaceStore(db, root, Quota(max_bytes=10_000, max_runs=2))
    ws = WorkspaceStore.new_id()
    for name in ["runs/a/model.pt", "runs/a/record.json", "runs/b/model.pt", "uploads/x.png"]:
        store.put_blob(ws, name, b"x")
    assert store.usage(ws).runs == 2
    with pytest.raises(QuotaError, match="would hold 3 runs, more than its 2: delete some runs"):
        store.put_blob(ws, "runs/c/model.pt", b"x")
    store.delete_blob(ws, "runs/b/model.pt")
    store.put_blob(ws, "runs/c/model.pt", b"x")


def test_a_field_over_one_megabyte_is_refused(store):
    with pytest.raises(WorkspaceError, match="at most 1 MB"):
        store.set_field(WorkspaceStore.new_id(), "big", "x" * (2**20 + 1))


def test_workspaces_unused_for_the_set_days_expire_with_their_files(db, root):  # noqa: F811
    clock = Clock()
    store = WorkspaceStore(db, root, ttl_days=30, clock=clock)
    old, recent = WorkspaceStore.new_id(), WorkspaceStore.new_id()
    store.put_blob(old, "uploads/a.png", b"a")
    clock.now += 20 * DAY
    store.put_blob(recent, "uploads/b.png", b"b")
    assert store.expire(now=clock.now + 15 * DAY) == 1
    assert not store.exists(old) and not (root / old).exists()
    assert store.blob(recent, "uploads/b.png") == b"b"
    clock.now += 29 * DAY
    store.ensure(recent)  # a visit keeps it
    assert store.expire(now=clock.now + 29 * DAY) == 0 and store.exists(recent)


def test_delete_removes_one_workspace_and_wipe_removes_them_all(store, root):
    a, b, c = (WorkspaceStore.new_id() for _ in range(3))
    for ws in (a, b, c):
        store.put_blob(ws, "uploads/x.png", b"x")
    store.delete(a)
    assert not store.exists(a) and not (root / a).exists() and store.exists(b)
    assert store.totals() == (2, 2)
    assert store.wipe() == 2
    assert store.totals() == (0, 0) and list(root.iterdir()) == []


def test_a_workspace_file_opens_as_a_new_workspace_with_the_same_contents(store):
    ws = WorkspaceStore.new_id()
    store.set_field(ws, "pipeline", '{"flip": true}')
    store.put_blob(ws, "runs/r1/model.pt", bytes(range(256)) * 10)
    store.put_blob(ws, "uploads/cat.png", b"png")
    copy = store.import_(store.export(ws))
    assert copy != ws and workspaces.WORKSPACE_ID.fullmatch(copy)
    assert store.fields(copy) == store.fields(ws)
    assert {n: store.blob(copy, n) for n in store.blobs(copy)} == {
        n: store.blob(ws, n) for n in store.blobs(ws)
    }


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


FORMAT = {"format": "cnn-lab-workspace", "version": 1}
MANIFEST = json.dumps({**FORMAT, "fields": {"a": "1"}}).encode()
BIG = "x" * (8 * 2**20 // 10)  # 0.8 MB: a field may hold it, three fields pass 2 MB
HOSTILE = {
    "not a zip": (b"PK\x03\x04 this is not really a zip", "not a CNN Lab workspace file"),
    "a photo": (b"\x89PNG\r\n\x1a\n" + bytes(100), "not a CNN Lab workspace file"),
    "no manifest": (zipped({"blobs/a.bin": b"a"}), "not a CNN Lab workspace file"),
    "another format": (
        zipped({"workspace.json": b'{"format": "something else", "fields": {}}'}),
        "not a CNN Lab workspace file",
    ),
    "a path out": (zipped({"workspace.json": MANIFEST, "blobs/../../x": b"a"}), "not allowed"),
    "an absolute path": (zipped({"workspace.json": MANIFEST, "blobs//etc/x": b"a"}), "not allowed"),
    "a file outside blobs/": (zipped({"workspace.json": MANIFEST, "../x": b"a"}), "it holds"),
    "fields over the quota": (
        zipped({"workspace.json": json.dumps({**FORMAT, "fields": dict.fromkeys("abc", BIG)})}),
        "holds 2.4 MB, more than the 2 MB a workspace may hold",
    ),
    "a zip bomb": (
        zipped({"workspace.json": MANIFEST, "blobs/zeros.bin": bytes(3 * 2**20)}),
        "unpacks to 3 MB, more than the 2 MB a workspace may hold",
    ),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_workspace_file_is_refused_plainly_and_creates_nothing(db, root, case):  # noqa: F811
    store = WorkspaceStore(db, root, Quota(max_bytes=2 * 2**20))
    data, message = HOSTILE[case]
    with pytest.raises(WorkspaceError, match=message):
        store.import_(data)
    assert store.totals() == (0, 0)
    assert not root.exists() or list(root.iterdir()) == []


def test_the_zip_bomb_is_refused_from_its_directory_before_inflating(monkeypatch):
    bomb = zipped({"workspace.json": MANIFEST, "blobs/zeros.bin": bytes(3 * 2**20)})
    monkeypatch.setattr(workspace_files, "_read", lambda *_: pytest.fail("it inflated"))
    with pytest.raises(WorkspaceError, match="more than the 2 MB"):
        workspace_files.unpack(bomb, 2 * 2**20)


BAD_IDS = ["", "short", "a" * 65, "../../etc/passwd-aaaaaaaaaaaaaaa", "x" * 30 + "/", None]
BAD_NAMES = ["", "../x", "a/../../b", "/etc/passwd", "a//b", "a\\b", "ü.png", "x" * 121, ".", "a/."]


@pytest.mark.parametrize("ws", BAD_IDS)
def test_a_bad_workspace_id_is_refused_and_never_used_as_a_path(store, ws):
    for call in (store.ensure, store.fields, store.version, store.usage, store.delete):
        with pytest.raises(WorkspaceError, match="workspace id is not valid"):
            call(ws)
    with pytest.raises(WorkspaceError):
        store.put_blob(ws, "a.bin", b"a")


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_field_or_blob_name_is_refused(store, name, root):
    ws = WorkspaceStore.new_id()
    with pytest.raises(WorkspaceError, match="is not allowed"):
        store.put_blob(ws, name, b"a")
    with pytest.raises(WorkspaceError, match="is not allowed"):
        store.set_field(ws, name, "1")
    with pytest.raises(WorkspaceError, match="is not allowed"):
        store.blob(ws, name)


def test_a_name_that_clashes_with_a_folder_is_said_plainly(store):
    ws = WorkspaceStore.new_id()
    store.put_blob(ws, "runs/a", b"a")
    with pytest.raises(WorkspaceError, match="could not be saved"):
        store.put_blob(ws, "runs/a/model.pt", b"b")
    assert store.blob(ws, "runs/a") == b"a"


def test_a_migration_from_an_empty_database_brings_the_board_and_the_workspaces(db):  # noqa: F811
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == "0002_workspaces"
        assert compare_metadata(context, Base.metadata) == []
    tables = set(inspect(db.engine).get_table_names())
    assert {"classes", "members", "board_runs"} <= tables
    assert {"workspaces", "workspace_fields", "workspace_blobs"} <= tables
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("workspaces")}
    assert "ix_workspaces_last_used" in indexes


def test_a_board_only_database_is_upgraded_to_hold_workspaces(empty_url, root):  # noqa: F811
    engine = create_engine(empty_url)
    command.upgrade(store_db.alembic_config(engine), "0001_class_board")
    assert "workspaces" not in inspect(engine).get_table_names()
    engine.dispose()
    store = reopened(empty_url, root)  # opening it runs the new migration
    ws = WorkspaceStore.new_id()
    store.set_field(ws, "a", "1")
    assert store.fields(ws) == {"a": "1"}
    store.db.close()


@pytest.fixture
def server(monkeypatch, tmp_path):
    """The server's settings pointed at a temporary data folder; its caches emptied after."""
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(store_db.URL_ENV, f"sqlite:///{tmp_path / 'server.sqlite3'}")
    monkeypatch.setattr(workspaces, "_STORES", {})
    monkeypatch.setattr(store_db, "_OPEN", {})
    yield tmp_path
    for opened in store_db._OPEN.values():
        opened.close()


def test_the_server_store_reads_its_settings_and_is_made_once(server, monkeypatch):
    monkeypatch.setenv(workspaces.MB_ENV, "2")
    monkeypatch.setenv(workspaces.RUNS_ENV, "3")
    monkeypatch.setenv(workspaces.DAYS_ENV, "7")
    store = workspaces.workspace_store()
    assert store is workspaces.workspace_store()
    assert store.quota == Quota(max_bytes=2 * 2**20, max_runs=3) and store.ttl_days == 7
    assert store.root == server / "workspaces"


def test_a_bad_setting_is_said_with_its_name(server, monkeypatch):
    monkeypatch.setenv(workspaces.MB_ENV, "lots")
    with pytest.raises(WorkspaceError, match="CNNLAB_WORKSPACE_MB must be a positive number"):
        workspaces.workspace_store()


def test_the_owner_commands_report_usage_and_wipe(server, capsys):
    store = workspaces.workspace_store()
    for _ in range(2):
        store.put_blob(WorkspaceStore.new_id(), "uploads/a.png", b"a" * 2**20)
    workspaces.main(["usage"])
    assert capsys.readouterr().out.strip() == "2 workspaces, 2 MB in all"
    workspaces.main(["wipe"])
    assert capsys.readouterr().out.strip() == "deleted 2 workspaces"
    workspaces.main(["expire"])
    assert capsys.readouterr().out.strip() == "deleted 0 workspaces unused for 30 days"
