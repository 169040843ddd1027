"""The class board: a teacher opens a class, students join it and publish runs, all see them.

    new = create_class("Period 3")                   # new.code for the class, new.token kept
    me = join(new.code, "Ada")                      # a Membership, kept in the student's session
    publish_run(me, submission_from_record(record))
    list_runs(new.code)                             # a Board: runs, pinned first, then by accuracy
    pin(new.code, new.token, run_id)                # the teacher's token, never in a link
    purge_expired()                                 # classes past their end, with all they hold

A class lasts CNNLAB_CLASS_HOURS hours (default 12) and is deleted with everything in it after
that. Tokens are random secrets; only their SHA-256 digests are stored. Every function takes an
optional `db` (default: the server's database) and `now` (default: the clock) for tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.classroom.submission import (
    MAX_NAME,
    MAX_TITLE,
    BoardCurves,
    RunSubmission,
    checked,
    clean_text,
)
from models.errors import CNNLabError
from models.settings import positive_setting
from models.store.db import Database, database
from models.store.schema import BoardRun, Classroom, Member

HOURS_ENV = "CNNLAB_CLASS_HOURS"
DEFAULT_HOURS = 12.0
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed
CODE_LENGTH = 6
MAX_MEMBERS = 200  # per class
MAX_RUNS = 300  # per class
MAX_RUNS_PER_MEMBER = 20


class BoardError(CNNLabError):
    """A class board request that cannot be done, with what to do instead."""


@dataclass(frozen=True)
class ClassInfo:
    """What anyone in a class may see of it."""

    code: str
    title: str
    expires_at: datetime  # UTC


@dataclass(frozen=True)
class NewClass:
    """A class just opened: `token` is the teacher's right to pin; keep it in their session."""

    info: ClassInfo
    token: str


@dataclass(frozen=True)
class Membership:
    """Someone in a class: `token` lets them publish under `name`."""

    info: ClassInfo
    name: str
    member_id: int
    token: str


@dataclass(frozen=True)
class PublishedRun:
    """A run on the board, as everyone in the class sees it."""

    id: int
    author: str
    title: str
    settings: dict[str, str]
    metrics: dict[str, float | None]
    curves: BoardCurves
    val_accuracy: float | None
    pinned: bool
    published_at: datetime


@dataclass(frozen=True)
class Board:
    """A class's runs: the pinned one first, then by validation accuracy, best first."""

    info: ClassInfo
    members: int
    runs: tuple[PublishedRun, ...]


def class_hours() -> float:
    """How long a class lasts, from CNNLAB_CLASS_HOURS."""
    return positive_setting(HOURS_ENV, DEFAULT_HOURS, BoardError)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    """SQLite hands times back without their zone; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row: Classroom) -> ClassInfo:
    return ClassInfo(row.code, row.title, _utc(row.expires_at))


def normalise_code(code: str) -> str:
    """A code as typed ("abc 123") as stored ("ABC123")."""
    return "".join(str(code).split()).upper()[:20]


def _open_class(s: Session, code: str, now: datetime) -> Classroom:
    row = s.scalar(select(Classroom).where(Classroom.code == normalise_code(code)))
    shown = normalise_code(code) or "(empty)"
    if row is None:
        raise BoardError(f"no class with the code {shown} — check the code with your teacher")
    if _utc(row.expires_at) <= now:
        raise BoardError(
            f"the class {shown} has ended (classes last {class_hours():g} hours) — "
            "ask your teacher for a new code"
        )
    return row


def create_class(title: str, db: Database | None = None, now: datetime | None = None) -> NewClass:
    """Open a class with a fresh code; expired classes are purged first."""
    title = clean_text(title, MAX_TITLE, "the class's title")
    now, db = _now(now), db or database()
    purge_expired(db, now)
    token = secrets.token_urlsafe(24)
    for _ in range(5):  # a clash among 887 million codes is rare; try again if it happens
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        row = Classroom(
            code=code, title=title, teacher_hash=_digest(token), created_at=now,
            expires_at=now + timedelta(hours=class_hours()),
        )  # fmt: skip
        try:
            with db.session() as s:
                s.add(row)
            return NewClass(_info(row), token)
        except IntegrityError:
            continue
    raise BoardError("no free class code was found; try again")


def join(
    code: str, name: str, db: Database | None = None, now: datetime | None = None
) -> Membership:
    """Join the class `code` under the display `name`."""
    name = clean_text(name, MAX_NAME, "your display name")
    now, db = _now(now), db or database()
    token = secrets.token_urlsafe(24)
    with db.session() as s:
        row = _open_class(s, code, now)
        count = s.scalar(select(func.count()).where(Member.class_id == row.id))
        if count >= MAX_MEMBERS:
            raise BoardError(f"the class {row.code} is full ({MAX_MEMBERS} people have joined)")
        member = Member(class_id=row.id, name=name, token_hash=_digest(token), joined_at=now)
        s.add(member)
        s.flush()
        return Membership(_info(row), name, member.id, token)


def _member(s: Session, me: Membership) -> Member:
    member = s.get(Member, me.member_id)
    if member is None or not hmac.compare_digest(member.token_hash, _digest(me.token)):
        raise BoardError("you are no longer in this class — join it again with its code")
    return member


def publish_run(
    me: Membership, run: RunSubmission, db: Database | None = None, now: datetime | None = None
) -> PublishedRun:
    """Put `run` on the board of the class `me` joined, under `me.name`."""
    run = checked(run)
    now, db = _now(now), db or database()
    with db.session() as s:
        row = _open_class(s, me.info.code, now)
        member = _member(s, me)
        mine = s.scalar(select(func.count()).where(BoardRun.member_id == member.id))
        if mine >= MAX_RUNS_PER_MEMBER:
            raise BoardError(f"you have published {mine} runs; at most {MAX_RUNS_PER_MEMBER} each")
        total = s.scalar(select(func.count()).where(BoardRun.class_id == row.id))
        if total >= MAX_RUNS:
            raise BoardError(f"the board of {row.code} is full ({MAX_RUNS} runs)")
        stored = BoardRun(
            class_id=row.id, member_id=member.id, author=member.name, title=run.title,
            settings_json=json.dumps(run.settings, ensure_ascii=False),
            metrics_json=json.dumps(run.metrics), curves_json=run.curves.to_json(),
            val_accuracy=run.metrics.get("validation_accuracy"), pinned=False, published_at=now,
        )  # fmt: skip
        s.add(stored)
        s.flush()
        return _published(stored)


def _published(row: BoardRun) -> PublishedRun:
    return PublishedRun(
        row.id, row.author, row.title, json.loads(row.settings_json), json.loads(row.metrics_json),
        BoardCurves.from_json(row.curves_json), row.val_accuracy, row.pinned,
        _utc(row.published_at),
    )  # fmt: skip


def list_runs(code: str, db: Database | None = None, now: datetime | None = None) -> Board:
    """Everyone's runs in the class `code`: the pinned one first, then best accuracy first."""
    now, db = _now(now), db or database()
    with db.session() as s:
        row = _open_class(s, code, now)
        members = s.scalar(select(func.count()).where(Member.class_id == row.id))
        runs = s.scalars(
            select(BoardRun)
            .where(BoardRun.class_id == row.id)
            .order_by(
                BoardRun.pinned.desc(),
                BoardRun.val_accuracy.is_(None),  # runs without a score last
                BoardRun.val_accuracy.desc(),
                BoardRun.id,
            )
        ).all()
        return Board(_info(row), members, tuple(_published(r) for r in runs))


def pin(
    code: str, token: str, run_id: int | None, db: Database | None = None,
    now: datetime | None = None,
) -> None:  # fmt: skip
    """Pin the run `run_id` for discussion (None: unpin); only the class's teacher can."""
    now, db = _now(now), db or database()
    with db.session() as s:
        row = _open_class(s, code, now)
        if not hmac.compare_digest(row.teacher_hash, _digest(str(token))):
            raise BoardError("only the teacher who opened this class can pin a run")
        if (
            run_id is not None
            and s.scalar(
                select(BoardRun.id).where(BoardRun.id == run_id, BoardRun.class_id == row.id)
            )
            is None
        ):
            raise BoardError(f"run {run_id} is not on the board of {row.code}")
        s.execute(update(BoardRun).where(BoardRun.class_id == row.id).values(pinned=False))
        if run_id is not None:
            s.execute(update(BoardRun).where(BoardRun.id == run_id).values(pinned=True))


def purge_expired(db: Database | None = None, now: datetime | None = None) -> int:
    """Delete every class past its end, with its members and runs; how many classes went."""
    now, db = _now(now), db or database()
    with db.session() as s:
        ended = select(Classroom.id).where(Classroom.expires_at <= now)
        s.execute(delete(BoardRun).where(BoardRun.class_id.in_(ended)))
        s.execute(delete(Member).where(Member.class_id.in_(ended)))
        return s.execute(delete(Classroom).where(Classroom.expires_at <= now)).rowcount
