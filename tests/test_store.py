"""The app's database: opened from the settings, migrated by Alembic to exactly the ORM's schema,
on embedded SQLite (WAL) and on PostgreSQL.

PostgreSQL tests use CNNLAB_TEST_POSTGRES_URL (a database the tests may write to; each test gets
a schema of its own, dropped afterwards). Without it they are skipped with the reason, unless
REQUIRE_POSTGRES=1 (as CI sets), where they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from models.store import db as store
from models.store.schema import Base

POSTGRES_ENV = "CNNLAB_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


def postgres_url() -> str:
    """The test server's URL, or a skip (a failure with REQUIRE_POSTGRES=1) when there is none."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if url:
        return url
    reason = f"PostgreSQL tests need {POSTGRES_ENV} (a server .ci/run starts)"
    if os.environ.get("REQUIRE_POSTGRES", "").strip() == "1":
        pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a new SQLite file, or a new schema on the test server."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'board.sqlite3'}"
        return
    url, schema = postgres_url(), f"test_{secrets.token_hex(6)}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        joiner = "&" if "?" in url else "?"
        yield f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path) -> Iterator[str]:
    """An empty database's URL, once on SQLite and once on PostgreSQL."""
    yield from empty_database_url(request.param, tmp_path)


@pytest.fixture
def db(empty_url) -> Iterator[store.Database]:
    """An opened (migrated) database on each backend, closed after the test."""
    database = store.Database(empty_url)
    try:
        yield database
    finally:
        database.close()


def test_upgrade_head_on_an_empty_database_makes_exactly_the_orm_schema(db):
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    tables = set(inspect(db.engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_opening_a_migrated_database_again_changes_nothing(db, empty_url):
    with db.engine.connect() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
    again = store.Database(empty_url)
    with again.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == before
    again.close()
    assert before == ScriptDirectory.from_config(store.alembic_config(db.engine)).get_current_head()


def test_a_session_rolls_back_when_its_block_raises(db):
    with pytest.raises(RuntimeError), db.session() as s:
        s.execute(
            text("INSERT INTO classes (code, title, teacher_hash, created_at, expires_at) "
                 "VALUES ('ABCDEF', 't', 'h', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        )  # fmt: skip
        raise RuntimeError("something failed mid-way")
    with db.session() as s:
        assert s.execute(text("SELECT count(*) FROM classes")).scalar() == 0


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    database = store.Database(f"sqlite:///{tmp_path / 'x' / 'app.sqlite3'}")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.close()


def test_the_default_database_is_a_sqlite_file_in_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(store.URL_ENV, raising=False)
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    assert store.database_url() == f"sqlite:///{tmp_path / store.SQLITE_FILE}"
    monkeypatch.setenv(store.URL_ENV, "postgresql+psycopg://u:p@db.example/cnnlab")
    assert store.database_url() == "postgresql+psycopg://u:p@db.example/cnnlab"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_plain_postgresql_url_is_read_with_psycopg_3(monkeypatch, scheme):
    monkeypatch.setenv(store.URL_ENV, f"{scheme}://u:p@db.example:5432/cnnlab")
    assert store.database_url() == "postgresql+psycopg://u:p@db.example:5432/cnnlab"


def test_a_data_folder_that_cannot_be_made_is_said_plainly():
    with pytest.raises(store.StoreError, match="set CNNLAB_DATA_DIR"):
        store.Database("sqlite:////proc/cnnlab/app.sqlite3")


def test_the_same_url_opens_one_database_per_process(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    assert store.database(url) is store.database(url)
    store.database(url).close()
    monkeypatch.delitem(store._OPEN, url)


def test_a_database_url_that_cannot_be_used_is_said_plainly():
    with pytest.raises(store.StoreError, match="CNNLAB_DATABASE_URL cannot be used"):
        store.Database("nosuchdialect://somewhere/db")


def test_an_unreachable_server_is_said_without_its_password():
    with pytest.raises(store.StoreError, match="could not be opened") as caught:
        store.Database("postgresql+psycopg://user:secret@127.0.0.1:1/none?connect_timeout=2")
    assert "secret" not in str(caught.value)
