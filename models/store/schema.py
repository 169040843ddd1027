"""The tables of the app's database, as SQLAlchemy ORM classes with typed columns.

Every table hangs off `Base.metadata`, which Alembic's env compares against: a table added here
needs a migration in `migrations/versions/` that creates it (a test checks the two agree).
Times are stored in UTC; texts have the lengths the board's caps allow.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CODE_LENGTH = 6  # letters and digits in a class code
NAME_LENGTH = 40  # a display name's column; the board caps names at this
TITLE_LENGTH = 80  # a run's or a class's title
HASH_LENGTH = 64  # a SHA-256 digest in hex


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
