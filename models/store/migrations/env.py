"""Alembic's environment for CNN Lab: run the migrations on the engine `db.upgrade` passes in.

Run programmatically (`models.store.db.upgrade`); there is no alembic.ini. On PostgreSQL the
upgrade holds an advisory lock, so replicas starting together migrate one after another.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from models.store.schema import Base

MIGRATION_LOCK = 7_240_020  # any fixed number: the key of the advisory lock


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=connection.dialect.name == "sqlite",  # SQLite's ALTER is limited
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                connection.commit()


if context.is_offline_mode():
    raise RuntimeError("CNN Lab's migrations run online only (models.store.db.upgrade)")
run_migrations_online()
