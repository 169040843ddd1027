"""The class board's API, on SQLite and on PostgreSQL: a class is opened, joined, runs are
published, listed best first with the pinned run on top, capped, and purged when it ends."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from models.classroom import board
from models.classroom import submission as sub
from models.classroom.board import BoardError
from models.classroom.submission import BoardCurves, RunSubmission, SubmissionError
from models.training.engine import TrainConfig, TrainMetrics
from models.training.history import RunRecord
from tests.test_store import db, empty_url  # noqa: F401  (fixtures over both backends)
from tests.test_train import TINY

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def run(title: str = "lr 0.01", acc: float | None = 0.8, epochs: int = 3) -> RunSubmission:
    accs = [None if acc is None else acc * (i + 1) / epochs for i in range(epochs)]
    curves = BoardCurves(
        tuple(range(1, epochs + 1)), (1.0,) * epochs, (0.5,) * epochs, (0.9,) * epochs, tuple(accs)
    )
    metrics = {"validation_accuracy": acc, "val_loss": 0.9, "epochs_run": epochs}
    return RunSubmission(title, {"lr": "0.01", "epochs": str(epochs)}, metrics, curves)


@pytest.fixture
def opened(db):  # noqa: F811
    """A class opened at T0 by a teacher, joined by two students."""
    new = board.create_class("Period 3", db=db, now=T0)
    ada = board.join(new.info.code, "Ada", db=db, now=T0)
    bo = board.join(new.info.code.lower(), "Bo", db=db, now=T0)  # codes are read in any case
    return db, new, ada, bo


def test_a_new_class_has_a_short_readable_code_and_ends_after_the_set_hours(db, monkeypatch):  # noqa: F811
    monkeypatch.setenv(board.HOURS_ENV, "2")
    new = board.create_class("  Period\n3 ", db=db, now=T0)
    assert len(new.info.code) == 6 and set(new.info.code) <= set(board.CODE_ALPHABET)
    assert new.info.title == "Period 3"
    assert new.info.expires_at == T0 + timedelta(hours=2)
    assert len(new.token) >= 32


def test_two_students_publish_and_both_see_every_run_best_first(opened):
    database, new, ada, bo = opened
    board.publish_run(ada, run("ada slow", 0.6), db=database, now=T0)
    board.publish_run(bo, run("bo fast", 0.9), db=database, now=T0)
    board.publish_run(bo, run("bo broken", None), db=database, now=T0)
    seen = board.list_runs(new.info.code, db=database, now=T0)
    assert [(r.author, r.title) for r in seen.runs] == [
        ("Bo", "bo fast"), ("Ada", "ada slow"), ("Bo", "bo broken"),
    ]  # fmt: skip
    assert seen.members == 3 - 1  # the teacher did not join here; Ada and Bo did
    fast = seen.runs[0]
    assert fast.val_accuracy == pytest.approx(0.9)
    assert fast.settings == {"lr": "0.01", "epochs": "3"}
    assert fast.curves.epoch == (1, 2, 3)
    assert fast.curves.val_acc == pytest.approx((0.3, 0.6, 0.9))
    assert fast.metrics["val_loss"] == pytest.approx(0.9)


def test_the_pinned_run_comes_first_and_unpinning_restores_the_order(opened):
    database, new, ada, bo = opened
    low = board.publish_run(ada, run("low", 0.2), db=database, now=T0)
    board.publish_run(bo, run("high", 0.95), db=database, now=T0)
    board.pin(new.info.code, new.token, low.id, db=database, now=T0)
    runs = board.list_runs(new.info.code, db=database, now=T0).runs
    assert [(r.title, r.pinned) for r in runs] == [("low", True), ("high", False)]
    board.pin(new.info.code, new.token, None, db=database, now=T0)
    assert [r.title for r in board.list_runs(new.info.code, db=database, now=T0).runs] == [
        "high",
        "low",
    ]


def test_pinning_a_second_run_unpins_the_first(opened):
    database, new, ada, _ = opened
    first = board.publish_run(ada, run("first", 0.5), db=database, now=T0)
    second = board.publish_run(ada, run("second", 0.4), db=database, now=T0)
    board.pin(new.info.code, new.token, first.id, db=database, now=T0)
    board.pin(new.info.code, new.token, second.id, db=database, now=T0)
    pinned = [r.title for r in board.list_runs(new.info.code, db=database, now=T0).runs if r.pinned]
    assert pinned == ["second"]


def test_only_the_teachers_token_can_pin(opened):
    database, new, ada, _ = opened
    published = board.publish_run(ada, run(), db=database, now=T0)
    with pytest.raises(BoardError, match="only the teacher"):
        board.pin(new.info.code, ada.token, published.id, db=database, now=T0)


def test_a_run_of_another_class_cannot_be_pinned(opened):
    database, new, _, _ = opened
    other = board.create_class("Other", db=database, now=T0)
    stranger = board.join(other.info.code, "Cy", db=database, now=T0)
    theirs = board.publish_run(stranger, run(), db=database, now=T0)
    with pytest.raises(BoardError, match="is not on the board"):
        board.pin(new.info.code, new.token, theirs.id, db=database, now=T0)


def test_an_unknown_code_is_refused_with_a_plain_message(db):  # noqa: F811
    with pytest.raises(BoardError, match="no class with the code ZZZ999 — check the code"):
        board.join("zzz 999", "Ada", db=db, now=T0)


def test_a_class_ends_after_its_hours_and_is_purged_with_everything_in_it(opened):
    database, new, ada, _ = opened
    board.publish_run(ada, run(), db=database, now=T0)
    later = new.info.expires_at + timedelta(seconds=1)
    with pytest.raises(BoardError, match="has ended"):
        board.list_runs(new.info.code, db=database, now=later)
    with pytest.raises(BoardError, match="has ended"):
        board.publish_run(ada, run(), db=database, now=later)
    fresh = board.create_class("Next lesson", db=database, now=later)  # opening a class purges
    assert board.purge_expired(db=database, now=later) == 0
    with pytest.raises(BoardError, match="no class with the code"):
        board.list_runs(new.info.code, db=database, now=later)
    assert board.list_runs(fresh.info.code, db=database, now=later).runs == ()


def test_purge_expired_counts_the_classes_it_deleted(db):  # noqa: F811
    board.create_class("a", db=db, now=T0)
    board.create_class("b", db=db, now=T0 + timedelta(hours=5))
    assert board.purge_expired(db=db, now=T0 + timedelta(hours=13)) == 1


def test_a_forged_membership_cannot_publish(opened):
    database, _, ada, _ = opened
    forged = board.Membership(ada.info, "Ada", ada.member_id, "guessed-token")
    with pytest.raises(BoardError, match="no longer in this class"):
        board.publish_run(forged, run(), db=database, now=T0)


def test_runs_per_student_are_capped(opened, monkeypatch):
    database, _, ada, bo = opened
    monkeypatch.setattr(board, "MAX_RUNS_PER_MEMBER", 2)
    for _ in range(2):
        board.publish_run(ada, run(), db=database, now=T0)
    with pytest.raises(BoardError, match="at most 2 each"):
        board.publish_run(ada, run(), db=database, now=T0)
    board.publish_run(bo, run(), db=database, now=T0)  # the cap is per student


def test_runs_per_class_are_capped(opened, monkeypatch):
    database, new, ada, bo = opened
    monkeypatch.setattr(board, "MAX_RUNS", 3)
    for who in (ada, bo, ada):
        board.publish_run(who, run(), db=database, now=T0)
    with pytest.raises(BoardError, match=f"board of {new.info.code} is full"):
        board.publish_run(bo, run(), db=database, now=T0)


def test_members_per_class_are_capped(opened, monkeypatch):
    database, new, _, _ = opened
    monkeypatch.setattr(board, "MAX_MEMBERS", 2)
    with pytest.raises(BoardError, match="is full"):
        board.join(new.info.code, "Cy", db=database, now=T0)


def test_long_curves_are_thinned_to_the_cap_keeping_both_ends(opened):
    database, new, ada, _ = opened
    board.publish_run(ada, run(epochs=1000), db=database, now=T0)
    curves = board.list_runs(new.info.code, db=database, now=T0).runs[0].curves
    assert len(curves.epoch) == sub.MAX_CURVE_POINTS
    assert curves.epoch[0] == 1 and curves.epoch[-1] == 1000
    assert curves.val_acc[-1] == pytest.approx(0.8)


def test_settings_over_the_byte_cap_are_refused(opened):
    database, _, ada, _ = opened
    big = RunSubmission("big", {f"s{i}": "x" * 70 for i in range(100)}, {}, BoardCurves())
    with pytest.raises(SubmissionError, match="at most 4,096"):
        board.publish_run(ada, big, db=database, now=T0)


def test_markup_in_names_and_titles_is_stored_literally(opened):
    database, new, _, _ = opened
    name = "**Eve**<script>x</script>"
    eve = board.join(new.info.code, name, db=database, now=T0)
    board.publish_run(eve, run("[click](javascript:alert(1)) <b>"), db=database, now=T0)
    shown = board.list_runs(new.info.code, db=database, now=T0).runs[0]
    assert shown.author == name
    assert shown.title == "[click](javascript:alert(1)) <b>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("  Ada\tLovelace\n", "Ada Lovelace"), ("a\u202eb\u0000c", "abc"), ("🧑‍🏫 Ms K", "🧑‍🏫 Ms K")],
)
def test_names_lose_control_characters_and_keep_emoji(text, expected):
    assert sub.clean_text(text, sub.MAX_NAME, "a name") == expected


def test_a_name_too_long_is_refused_and_a_title_too_long_is_cut():
    with pytest.raises(SubmissionError, match="at most 40"):
        sub.clean_text("x" * 41, sub.MAX_NAME, "your display name")
    cut = sub.clean_text("y" * 200, sub.MAX_TITLE, "a title", truncate=True)
    assert len(cut) == sub.MAX_TITLE and cut.endswith("…")
    with pytest.raises(SubmissionError, match="is empty"):
        sub.clean_text(" \n ", sub.MAX_NAME, "your display name")


def test_a_run_of_the_history_becomes_a_submission_with_its_epoch_curves():
    history = tuple(
        TrainMetrics(kind, e, e * 4, 12, e * 64, 0.5, 0.7, 1e-3, 900.0, 1.0, e * 1.0, vl, va)
        for e, kind, vl, va in [
            (1, "step", math.nan, math.nan), (1, "epoch", 0.8, 0.5),
            (2, "epoch", math.inf, 0.75), (2, "done", math.nan, math.nan),
        ]
    )  # fmt: skip
    metrics = {"validation_accuracy": 0.75, "val_loss": None, "per_class_recall": [0.5, 1.0]}
    record = RunRecord("r1", "my run", "lr = 0.1", "g", TrainConfig(lr=0.1), TINY, "shapes",
                       ("a", "b"), history, "finished", None, metrics, None)  # fmt: skip
    made = sub.submission_from_record(record)
    assert made.title == "lr = 0.1"
    assert made.settings["lr"] == "0.1" and made.settings["data"] == "shapes"
    assert made.curves.epoch == (1, 2)
    assert made.curves.val_loss == (0.8, None)  # infinity is not a number the board draws
    assert made.curves.val_acc == (0.5, 0.75)
    assert made.metrics["validation_accuracy"] == 0.75
    assert "per_class_recall" not in made.metrics


# ---------------------------------------------------------------- the board's table and figure


def published(run_id: int, acc: float | None, pinned: bool = False, **settings: str):
    curves = BoardCurves((1, 2), (1.0, 0.8), (0.4, 0.6), (0.9, 0.7), (0.5, acc))
    return board.PublishedRun(run_id, "<b>Eve</b>", f"run {run_id} 100%{{x}}", settings,
                              {"validation_accuracy": acc, "epochs_run": 2}, curves, acc, pinned,
                              T0)  # fmt: skip


def test_the_table_lists_runs_in_order_with_the_settings_that_differ():
    from viz.class_board import board_csv, board_frame

    runs = [published(2, 0.4, True, lr="0.1", epochs="5"), published(1, 0.9, lr="0.01", epochs="5")]
    frame = board_frame(runs)
    assert list(frame.index) == [2, 1]
    assert list(frame["pinned"]) == ["★", ""]
    assert "lr" in frame.columns and "epochs" not in frame.columns  # the same in both
    assert frame.loc[2, "student"] == "<b>Eve</b>", "the table holds names as typed"
    assert "setting: epochs" in board_csv(runs).splitlines()[0]


def test_the_figure_shows_names_literally_and_highlights_the_pinned_run():
    from viz import theme
    from viz.class_board import curves_figure, plot_text

    assert plot_text("<b>50%{x}</b>") == "&lt;b&gt;50&#37;{x}&lt;/b&gt;"
    fig = curves_figure([published(2, 0.4, True), published(1, 0.9), published(3, None)])
    pinned = [t for t in fig.data if t.name.startswith("★")]
    assert len(pinned) == 1 and pinned[0].line.color == theme.ACCENT_2
    assert pinned[0].line.width > max(t.line.width for t in fig.data if t is not pinned[0])
    assert fig.data[-1] is pinned[0], "the pinned run is drawn on top"
    assert all("<b>" not in t.name and "%{x}" not in t.name for t in fig.data)


def test_the_figure_draws_at_most_its_limit_of_runs():
    from viz.class_board import curves_figure

    fig = curves_figure([published(i, 0.5) for i in range(40)], "validation loss", limit=15)
    assert len(fig.data) == 15
    with pytest.raises(ValueError, match="curve must be one of"):
        curves_figure([], "speed")
