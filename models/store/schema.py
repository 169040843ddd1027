"""The tables of the app's database, as SQLAlchemy ORM classes with typed columns.

Every table hangs off `Base.metadata`, which Alembic's env compares against: a table added here
needs a migration in `migrations/versions/` that creates it (a test checks the two agree).
Times are stored in UTC; texts have the lengths the board's caps allow.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CODE_LENGTH = 6  # letters and digits in a class code
NAME_LENGTH = 40  # a display name's column; the board caps names at this
TITLE_LENGTH = 80  # a run's or a class's title
HASH_LENGTH = 64  # a SHA-256 digest in hex
WORKSPACE_ID_LENGTH = 64  # a workspace id: secrets.token_urlsafe(24) is 32 of these
ITEM_NAME_LENGTH = 120  # a workspace field's or blob's name ("runs/3f2a/model.pt")


class Base(DeclarativeBase):
    """The one metadata of the app's database."""


class Classroom(Base):
    """A class a teacher opened: its code, its title and when it ends."""

    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True)
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    teacher_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))  # the token is never stored
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Member(Base):
    """Someone who joined a class under a display name (no account)."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BoardRun(Base):
    """One run a member published: its settings, final scores and curves, as JSON texts."""

    __tablename__ = "board_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(NAME_LENGTH))
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    settings_json: Mapped[str] = mapped_column(Text)
    metrics_json: Mapped[str] = mapped_column(Text)
    curves_json: Mapped[str] = mapped_column(Text)
    val_accuracy: Mapped[float | None] = mapped_column(Float)  # the board's sort key
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Workspace(Base):
    """A student's workspace: known by a random id the browser keeps; `version` counts writes."""

    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(WORKSPACE_ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)  # expiry
    version: Mapped[int] = mapped_column(Integer)


class WorkspaceField(Base):
    """One small text value of a workspace (JSON text), one row per name: tabs write apart."""

    __tablename__ = "workspace_fields"

    workspace_id: Mapped[str] = mapped_column(
        String(WORKSPACE_ID_LENGTH),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    )
    name: Mapped[str] = mapped_column(String(ITEM_NAME_LENGTH), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)  # bytes of the value in UTF-8, for the quota
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkspaceBlob(Base):
    """A file of a workspace (checkpoint, image) kept in the data folder: its name and size."""

    __tablename__ = "workspace_blobs"

    workspace_id: Mapped[str] = mapped_column(
        String(WORKSPACE_ID_LENGTH),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    )
    name: Mapped[str] = mapped_column(String(ITEM_NAME_LENGTH), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
