"""Students' workspaces: what one browser made, kept across reloads, reconnects and restarts.

    store = workspace_store()                    # the server's store (database + data folder)
    ws = WorkspaceStore.new_id()                 # a random id the browser keeps, never in a link
    store.set_field(ws, "pipeline", json_text)   # small JSON texts, one row per name
    store.put_blob(ws, "runs/3f2a/model.pt", b)  # files, written atomically under the quota
    store.version(ws)                            # one query: has another tab written since?

Each field and each blob is its own row, so two tabs writing different things never overwrite
each other (the last write wins, name by name); every write bumps the workspace's `version`
while holding its row, so writes to one workspace happen one after another. Blobs live in
`root/<id>/<name>`; the database holds their names and sizes. Blobs named "runs/<run>/..." (or
"runs/<run>") count as one run each against the quota. Workspaces unused for `ttl_days` expire.

Server owner's commands: `python -m models.store.workspaces wipe | expire | usage`.
"""

from __future__ import annotations

import argparse
import math
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.data.downloads import data_dir
from models.settings import positive_setting
from models.store import workspace_files as files
from models.store.db import Database, database, database_url
from models.store.schema import Workspace, WorkspaceBlob, WorkspaceField
from models.store.workspace_files import WORKSPACE_ID, WorkspaceError, checked_id, checked_name

__all__ = [
    "RUNS_PREFIX", "WORKSPACE_ID", "BlobInfo", "Quota", "QuotaError", "Usage", "WorkspaceError",
    "WorkspaceStore", "workspace_store",
]  # fmt: skip

RUNS_PREFIX = "runs/"  # blobs under this prefix are runs: counted against Quota.max_runs
MAX_FIELD = 2**20  # bytes of one field's value
DAYS_ENV, MB_ENV, RUNS_ENV = "CNNLAB_WORKSPACE_DAYS", "CNNLAB_WORKSPACE_MB", "CNNLAB_WORKSPACE_RUNS"
EXPIRE_EVERY_S = 3600.0  # workspace_store() runs expire() at most this often


@dataclass(frozen=True)
class Quota:
    """What one workspace may hold."""

    max_bytes: int = 50 * 2**20  # fields and blobs together
    max_runs: int = 50  # distinct runs under RUNS_PREFIX


@dataclass(frozen=True)
class Usage:
    """What one workspace holds now."""

    bytes: int
    runs: int


@dataclass(frozen=True)
class BlobInfo:
    """A blob's size and when it was last written (unix seconds)."""

    size: int
    updated: float


class QuotaError(WorkspaceError):
    """A write that would take a workspace past its quota; `limit` is "bytes" or "runs"."""

    def __init__(self, limit: str, used: int, cap: int) -> None:
        self.limit, self.used, self.cap = limit, used, cap
        if limit == "runs":
            text = f"{used} runs, more than its {cap}: delete some runs first"
        else:
            text = (
                f"{files._megabytes(used)}, more than its {files._megabytes(cap)}: "
                "delete some runs or uploaded images first"
            )
        super().__init__(f"this workspace would hold {text}")


def _run_of(name: str) -> str | None:
    """The run a blob belongs to: the first segment after "runs/", or None."""
    return name.removeprefix(RUNS_PREFIX).split("/")[0] if name.startswith(RUNS_PREFIX) else None


def _utc(moment: datetime) -> datetime:
    """SQLite hands times back without their zone; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class WorkspaceStore:
    """Workspaces in `db` (rows) and under `root` (blob files), each capped by `quota`."""

    def __init__(
        self,
        db: Database,
        root: Path,
        quota: Quota = Quota(),  # noqa: B008  (frozen, so one shared default is safe)
        ttl_days: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.root, self.quota, self.ttl_days = db, Path(root), quota, ttl_days
        self._clock = clock
        self.last_expired = -math.inf  # when workspace_store() last ran expire()

    @staticmethod
    def new_id() -> str:
        """A fresh random workspace id (32 URL-safe characters)."""
        return secrets.token_urlsafe(24)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _folder(self, ws: str) -> Path:
        return self.root / checked_id(ws)

    def exists(self, ws: str) -> bool:
        """Whether the workspace `ws` has a row (it may hold nothing yet)."""
        with self.db.session() as s:
            return s.get(Workspace, checked_id(ws)) is not None

    def ensure(self, ws: str) -> None:
        """Create the workspace `ws` if it is missing, else mark it used now."""
        checked_id(ws)
        for attempt in range(2):  # two replicas creating the same id: the second one updates
            try:
                with self.db.session() as s:
                    now = self._now()
                    touched = s.execute(
                        update(Workspace).where(Workspace.id == ws).values(last_used=now)
                    ).rowcount
                    if not touched:
                        s.add(Workspace(id=ws, created_at=now, last_used=now, version=0))
                return
            except IntegrityError:
                if attempt:
                    raise

    def _bump(self, s: Session, ws: str) -> bool:
        """Count a write and lock the workspace's row till the commit; False when it is missing."""
        return bool(
            s.execute(
                update(Workspace)
                .where(Workspace.id == ws)
                .values(version=Workspace.version + 1, last_used=self._now())
            ).rowcount
        )

    @contextmanager
    def _writing(self, ws: str) -> Iterator[Session]:
        """One transaction that holds the workspace's row (writers queue) and bumps its version;
        the workspace is created by its first write."""
        with self.db.session() as s:
            if not (self._bump(s, ws) or self._create(s, ws) or self._bump(s, ws)):
                raise WorkspaceError("this workspace could not be saved; try again")
            yield s

    def _create(self, s: Session, ws: str) -> bool:
        """Add the workspace's row with its first write counted; False when another tab or
        replica made it a moment ago (then its row can be bumped instead)."""
        try:
            with s.begin_nested():
                now = self._now()
                s.add(Workspace(id=ws, created_at=now, last_used=now, version=1))
            return True
        except IntegrityError:
            return False

    def fields(self, ws: str) -> dict[str, str]:
        """The workspace's fields by name (JSON texts), sorted; {} when there are none."""
        with self.db.session() as s:
            rows = s.execute(
                select(WorkspaceField.name, WorkspaceField.value)
                .where(WorkspaceField.workspace_id == checked_id(ws))
                .order_by(WorkspaceField.name)
            ).all()
        return {name: value for name, value in rows}

    def _usage(self, s: Session, ws: str) -> tuple[int, set[str]]:
        blob_bytes = s.scalar(
            select(func.coalesce(func.sum(WorkspaceBlob.size), 0)).where(
                WorkspaceBlob.workspace_id == ws
            )
        )
        field_bytes = s.scalar(
            select(func.coalesce(func.sum(WorkspaceField.size), 0)).where(
                WorkspaceField.workspace_id == ws
            )
        )
        names = s.scalars(
            select(WorkspaceBlob.name).where(
                WorkspaceBlob.workspace_id == ws, WorkspaceBlob.name.startswith(RUNS_PREFIX)
            )
        ).all()
        return int(blob_bytes) + int(field_bytes), {_run_of(n) for n in names}

    def _check_quota(self, s: Session, ws: str, name: str, old: int, new: int, blob: bool) -> None:
        """Refuse a write of `new` bytes over `old` that would pass a cap (shrinking is fine)."""
        used, runs = self._usage(s, ws)
        if new > old and used - old + new > self.quota.max_bytes:
            raise QuotaError("bytes", used - old + new, self.quota.max_bytes)
        run = _run_of(name) if blob else None
        if run is not None and run not in runs and len(runs) + 1 > self.quota.max_runs:
            raise QuotaError("runs", len(runs) + 1, self.quota.max_runs)

    def set_field(self, ws: str, name: str, value: str | None) -> None:
        """Write one field (None deletes it); the workspace is created if needed."""
        checked_id(ws)
        checked_name(name)
        if value is not None and not isinstance(value, str):
            raise WorkspaceError(f"the field {name} must be a text, not {type(value).__name__}")
        size = 0 if value is None else len(value.encode("utf-8"))
        if size > MAX_FIELD:
            raise WorkspaceError(f"the field {name} is {files._megabytes(size)}; at most 1 MB")
        with self._writing(ws) as s:
            row = s.get(WorkspaceField, (ws, name))
            if value is None:
                if row is not None:
                    s.delete(row)
                return
            self._check_quota(s, ws, name, row.size if row else 0, size, blob=False)
            if row is None:
                s.add(WorkspaceField(workspace_id=ws, name=name, value=value, size=size,
                                     updated_at=self._now()))  # fmt: skip
            else:
                row.value, row.size, row.updated_at = value, size, self._now()

    def put_blob(self, ws: str, name: str, data: bytes) -> None:
        """Write the blob `name` atomically, after checking the quota."""
        checked_id(ws)
        checked_name(name)
        data = data if isinstance(data, bytes) else bytes(data)
        with self._writing(ws) as s:
            row = s.get(WorkspaceBlob, (ws, name))
            self._check_quota(s, ws, name, row.size if row else 0, len(data), blob=True)
            folder = self._folder(ws)
            try:
                files.write_atomic(folder / name, data, top=folder)
            except OSError as err:
                raise WorkspaceError(f"{name} could not be saved: {err.strerror}") from None
            if row is None:
                s.add(WorkspaceBlob(workspace_id=ws, name=name, size=len(data),
                                    updated_at=self._now()))  # fmt: skip
            else:
                row.size, row.updated_at = len(data), self._now()

    def blob(self, ws: str, name: str) -> bytes | None:
        """The blob's bytes, or None when there is no such blob."""
        path = self._folder(ws) / checked_name(name)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def blobs(self, ws: str, prefix: str = "") -> dict[str, BlobInfo]:
        """The blobs whose names start with `prefix`, sorted by name, from the database."""
        with self.db.session() as s:
            rows = s.execute(
                select(WorkspaceBlob.name, WorkspaceBlob.size, WorkspaceBlob.updated_at)
                .where(
                    WorkspaceBlob.workspace_id == checked_id(ws),
                    WorkspaceBlob.name.startswith(str(prefix), autoescape=True),
                )
                .order_by(WorkspaceBlob.name)
            ).all()
        return {name: BlobInfo(int(size), _utc(at).timestamp()) for name, size, at in rows}

    def delete_blob(self, ws: str, name: str) -> None:
        """Delete the blob `name` (nothing happens when there is none)."""
        checked_id(ws)
        checked_name(name)
        with self._writing(ws) as s:
            gone = s.execute(
                delete(WorkspaceBlob).where(
                    WorkspaceBlob.workspace_id == ws, WorkspaceBlob.name == name
                )
            ).rowcount
            if gone:
                (self._folder(ws) / name).unlink(missing_ok=True)

    def usage(self, ws: str) -> Usage:
        """How many bytes (fields and blobs) and runs the workspace holds."""
        with self.db.session() as s:
            used, runs = self._usage(s, checked_id(ws))
        return Usage(used, len(runs))

    def version(self, ws: str) -> int:
        """How many writes the workspace has had (0 when it does not exist): one query."""
        with self.db.session() as s:
            found = s.scalar(select(Workspace.version).where(Workspace.id == checked_id(ws)))
        return int(found or 0)

    def _drop(self, ids: list[str]) -> int:
        """Delete the rows and folders of the workspaces `ids`; how many rows went."""
        gone = 0
        for start in range(0, len(ids), 500):  # bounded IN lists
            batch = ids[start : start + 500]
            with self.db.session() as s:
                s.execute(delete(WorkspaceField).where(WorkspaceField.workspace_id.in_(batch)))
                s.execute(delete(WorkspaceBlob).where(WorkspaceBlob.workspace_id.in_(batch)))
                gone += s.execute(delete(Workspace).where(Workspace.id.in_(batch))).rowcount
            for ws in batch:
                shutil.rmtree(self._folder(ws), ignore_errors=True)
        return gone

    def delete(self, ws: str) -> None:
        """Delete the workspace `ws`: its rows and its folder."""
        self._drop([checked_id(ws)])

    def expire(self, now: float | None = None) -> int:
        """Delete workspaces unused for `ttl_days`, and leftovers of killed saves; how many."""
        now = self._clock() if now is None else now
        cutoff = datetime.fromtimestamp(now - self.ttl_days * 86400, UTC)
        with self.db.session() as s:
            old = list(s.scalars(select(Workspace.id).where(Workspace.last_used < cutoff)))
        gone = self._drop(old)
        if self.root.is_dir():
            files.remove_stale_temps(self.root)
        return gone

    def wipe(self) -> int:
        """Delete every workspace (the server owner's command); how many went."""
        with self.db.session() as s:
            every = list(s.scalars(select(Workspace.id)))
        gone = self._drop(every)
        if self.root.is_dir():  # folders whose rows were lost, e.g. to a crash mid-delete
            for folder in self.root.iterdir():
                if folder.is_dir() and WORKSPACE_ID.fullmatch(folder.name):
                    shutil.rmtree(folder, ignore_errors=True)
        return gone

    def totals(self) -> tuple[int, int]:
        """How many workspaces there are, and their bytes together."""
        with self.db.session() as s:
            count = s.scalar(select(func.count()).select_from(Workspace))
            blob_bytes = s.scalar(select(func.coalesce(func.sum(WorkspaceBlob.size), 0)))
            field_bytes = s.scalar(select(func.coalesce(func.sum(WorkspaceField.size), 0)))
        return int(count), int(blob_bytes) + int(field_bytes)

    def export(self, ws: str) -> bytes:
        """The workspace as one zip file ("Download my workspace")."""
        blobs = {name: self.blob(ws, name) for name in self.blobs(ws)}
        kept = {name: data for name, data in blobs.items() if data is not None}
        return files.pack(files.Contents(self.fields(ws), kept))

    def import_(self, data: bytes) -> str:
        """A new workspace holding an uploaded workspace file's fields and blobs; its id."""
        contents = files.unpack(bytes(data), self.quota.max_bytes)
        sizes = [len(v.encode("utf-8")) for v in contents.fields.values()]
        total = sum(sizes) + sum(len(blob) for blob in contents.blobs.values())
        if total > self.quota.max_bytes:
            raise WorkspaceError(
                f"this workspace file holds {files._megabytes(total)}, more than the "
                f"{files._megabytes(self.quota.max_bytes)} a workspace may hold"
            )
        ws = self.new_id()
        try:
            for name, value in contents.fields.items():
                self.set_field(ws, name, value)
            for name, blob in contents.blobs.items():
                self.put_blob(ws, name, blob)
        except BaseException:
            self.delete(ws)
            raise
        return ws


def _quota_from_settings() -> Quota:
    megabytes = positive_setting(MB_ENV, 50.0, WorkspaceError)
    runs = positive_setting(RUNS_ENV, 50.0, WorkspaceError)
    return Quota(max(1, int(megabytes * 2**20)), max(1, int(runs)))


_STORES: dict[str, WorkspaceStore] = {}
_LOCK = threading.Lock()


def _server_store(url: str) -> WorkspaceStore:
    """The store for `url`, made once (the caller holds _LOCK)."""
    if url not in _STORES:
        ttl = positive_setting(DAYS_ENV, 30.0, WorkspaceError)
        root = data_dir() / "workspaces"
        _STORES[url] = WorkspaceStore(database(url), root, _quota_from_settings(), ttl)
    return _STORES[url]


def workspace_store() -> WorkspaceStore:
    """The server's store: database() and data_dir()/"workspaces", one per process and database
    URL, with CNNLAB_WORKSPACE_DAYS/_MB/_RUNS; expired workspaces are deleted at most hourly."""
    url = database_url()
    with _LOCK:
        store = _server_store(url)
        due = time.monotonic() - store.last_expired >= EXPIRE_EVERY_S
        if due:
            store.last_expired = time.monotonic()
    if due:
        store.expire()
    return store


def main(argv: list[str] | None = None) -> None:
    """The server owner's commands: wipe, expire, usage."""
    parser = argparse.ArgumentParser(
        prog="python -m models.store.workspaces", description="Manage students' workspaces."
    )
    parser.add_argument("command", choices=["wipe", "expire", "usage"])
    command = parser.parse_args(argv).command
    with _LOCK:
        store = _server_store(database_url())
    if command == "wipe":
        print(f"deleted {store.wipe()} workspaces")
    elif command == "expire":
        print(f"deleted {store.expire()} workspaces unused for {store.ttl_days:g} days")
    else:
        count, used = store.totals()
        print(f"{count} workspaces, {files._megabytes(used)} in all")


if __name__ == "__main__":
    main()
