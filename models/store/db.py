"""Open the app's database: the URL from the settings, an engine, sessions, and migrations.

    db = database()                   # the server's database, opened once per process
    with db.session() as s: ...       # one transaction: committed on success, else rolled back

Embedded SQLite in the data folder by default (WAL mode, so readers never wait for a writer);
PostgreSQL when CNNLAB_DATABASE_URL is set (psycopg 3: `postgresql+psycopg://user@host/db`).
Opening a database runs Alembic's `upgrade head`, so a new server or a new release brings the
schema up to date by itself.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models.data.downloads import data_dir
from models.errors import CNNLabError

URL_ENV = "CNNLAB_DATABASE_URL"
SQLITE_FILE = "cnnlab.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreError(CNNLabError):
    """The database cannot be opened or reached, said for the person running the server."""


def database_url() -> str:
    """CNNLAB_DATABASE_URL, else a SQLite file in the data folder (created when first used)."""
    url = os.environ.get(URL_ENV, "").strip()
    for plain in ("postgresql://", "postgres://"):  # the driver installed is psycopg 3
        if url.startswith(plain):
            url = "postgresql+psycopg://" + url.removeprefix(plain)
    return url or f"sqlite:///{data_dir() / SQLITE_FILE}"


def _sqlite_pragmas(connection, _record) -> None:
    """WAL lets readers work while one writer commits; wait for a lock rather than fail."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _engine(url: str) -> Engine:
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as err:
        raise StoreError(f"the database URL in {URL_ENV} cannot be used: {err}") from None
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(
                    f"the data folder for the database cannot be made ({err.strerror}); "
                    "set CNNLAB_DATA_DIR to a folder the server may write to"
                ) from None
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    """Alembic's settings for `engine`, without an alembic.ini: the scripts live in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest migration (nothing to do when it is already there)."""
    command.upgrade(alembic_config(engine), "head")


class Database:
    """An engine and its sessions, with the schema brought up to date when it is opened."""

    def __init__(self, url: str) -> None:
        self.engine = _engine(url)
        try:
            upgrade(self.engine)
        except SQLAlchemyError as err:
            self.engine.dispose()
            raise StoreError(
                f"the database at {self.engine.url.render_as_string(hide_password=True)} "
                f"could not be opened: {type(err).__name__}"
            ) from err
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()


_OPEN: dict[str, Database] = {}
_LOCK = threading.Lock()


def database(url: str | None = None) -> Database:
    """The database at `url` (default: `database_url()`), opened once per process and URL."""
    url = url or database_url()
    with _LOCK:  # one thread migrates; the others wait and then share the engine
        if url not in _OPEN:
            _OPEN[url] = Database(url)
        return _OPEN[url]
