"""The Class board page's panels: open or join a class, the live board, the teacher's pin, and
the "Publish to the class board" button that Compare runs shows under a chosen run.

The joined class lives in the session (`st.session_state`): a `Membership` for everyone, and
for the teacher the `NewClass` whose token lets them pin. The token never goes into a link.
Names and titles come from students: they are shown in tables and plain text, or escaped
(`literal`) where a sentence carries them.
"""

from __future__ import annotations

import re
import statistics

import streamlit as st

from models.classroom import board
from models.classroom.board import Board, Membership, NewClass
from models.classroom.submission import MAX_NAME, MAX_TITLE, submission_from_record
from models.errors import CNNLabError
from models.training.history import RunRecord
from viz.class_board import (
    BOARD_CURVES,
    MAX_CURVES,
    board_csv,
    board_frame,
    curves_figure,
    run_label,
    style_board,
)

MEMBER = "_class_board.member"  # Membership of the class this session joined
TEACHER = "_class_board.teacher"  # NewClass (with the pin token) when this session opened it
PAGE_PATH = "pages/class_board.py"
REFRESH_S = 5  # seconds between the board's refreshes
SHARED_S = 2  # a board read is shared by the class's sessions for this long


@st.cache_resource(ttl=SHARED_S, max_entries=64, show_spinner=False)
def _read_board(code: str) -> Board:
    """One database read per class every few seconds, however many students watch."""
    return board.list_runs(code)


@st.cache_resource(max_entries=64, show_spinner=False)
def _figure(code: str, drawn: tuple, curve: str, _shown: Board):
    """The class's curves, built once per content (`drawn`: ids and pins) for every session."""
    return curves_figure(_shown.runs, curve)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'=^])")


def literal(text: str) -> str:
    """`text` escaped for st.markdown, so a student's name shows as typed, never as markup."""
    return _MARKDOWN.sub(r"\\\1", text)


def membership() -> Membership | None:
    """The class this session joined, if any."""
    return st.session_state.get(MEMBER)


def teacher() -> NewClass | None:
    """The class this session opened (with its pin token), when it is the one joined."""
    held = st.session_state.get(TEACHER)
    member = membership()
    return held if held and member and held.info.code == member.info.code else None


def _attempt(action) -> bool:
    """Run `action`; a refusal becomes st.error. True when it went through."""
    try:
        action()
    except CNNLabError as err:
        st.error(str(err))
        return False
    return True


def entry() -> None:
    """Open a class (a teacher) or join one with its code (a student)."""
    left, right = st.columns(2)
    with left.container(border=True):
        st.markdown("**I teach: open a class**")
        title = st.text_input("Class title", "My class", MAX_TITLE, key="class_board.title")
        name = st.text_input("Your name on the board", "Teacher", MAX_NAME, key="class_board.tname")
        if st.button("Open a class", type="primary", key="class_board.create"):
            _attempt(lambda: _open(title, name))
    with right.container(border=True):
        st.markdown("**I am a student: join a class**")
        code = st.text_input("Class code (from your teacher)", key="class_board.code")
        name = st.text_input(f"Display name (up to {MAX_NAME} characters)", key="class_board.name")
        if st.button("Join", type="primary", key="class_board.join"):
            _attempt(lambda: _join(code, name))


def _open(title: str, name: str) -> None:
    new = board.create_class(title)
    st.session_state[TEACHER] = new
    st.session_state[MEMBER] = board.join(new.info.code, name)
    st.rerun()


def _join(code: str, name: str) -> None:
    st.session_state[MEMBER] = board.join(code, name)
    _read_board.clear()
    st.session_state.pop(TEACHER, None)
    st.rerun()


def header(me: Membership) -> None:
    """Which class, until when, under which name; the way out."""
    ends = me.info.expires_at.strftime("%H:%M UTC on %d %b")
    a, b = st.columns([5, 1])
    a.markdown(
        f"Class **{me.info.code}** · {literal(me.info.title)} · you are **{literal(me.name)}** "
        f"· it ends at {ends}, and its board is deleted then."
    )
    if teacher():
        a.info(
            f"Give your class the code **{me.info.code}**. You opened this class, so you can pin "
            "a run for discussion: that right is kept in this tab only, never in a link."
        )
    if b.button("Leave this class", key="class_board.leave"):
        st.session_state.pop(MEMBER, None)
        st.session_state.pop(TEACHER, None)
        st.rerun()


@st.fragment(run_every=REFRESH_S)
def live_board() -> None:
    """The board, read again every few seconds: table, curves, summary, pin and download."""
    me = membership()
    if me is None:
        return
    try:
        shown = _read_board(me.info.code)
    except CNNLabError as err:
        st.error(str(err))
        return
    st.caption(
        f"{len(shown.runs)} run{'s' * (len(shown.runs) != 1)} from {shown.members} people · "
        f"refreshes every {REFRESH_S} s"
    )
    if not shown.runs:
        st.info(
            "No runs yet. Train a quick run on Compare runs, then press "
            "'Publish to the class board' under it."
        )
        return
    if teacher() and pin_control(shown):
        shown = board.list_runs(me.info.code)  # the new pin, drawn in this same run
    st.dataframe(style_board(board_frame(shown.runs)), key="class_board.table")
    curve = st.radio("Curves", list(BOARD_CURVES), horizontal=True, key="class_board.curve")
    drawn = tuple((r.id, r.pinned) for r in shown.runs[:MAX_CURVES])
    figure = _figure(shown.info.code, drawn, curve, shown)
    st.plotly_chart(figure, key="class_board.curves")
    if len(shown.runs) > MAX_CURVES:
        st.caption(f"The curves of the first {MAX_CURVES} runs of the table; the table has all.")
    summary(shown)
    pinned_run(shown)
    st.download_button(
        "Download the board (.csv)",
        board_csv(shown.runs),
        f"class_{shown.info.code}_board.csv",
        key="class_board.csv",
    )


def summary(shown: Board) -> None:
    """What the board measured, in numbers: best, median, and the gap between them."""
    scored = [r for r in shown.runs if r.val_accuracy is not None]
    if not scored:
        return
    best = max(scored, key=lambda r: r.val_accuracy)
    median = statistics.median(r.val_accuracy for r in scored)
    gap = (best.val_accuracy - median) * 100
    st.caption(
        f"Best validation accuracy {best.val_accuracy:.1%} ({literal(run_label(best))}); "
        f"median of {len(scored)} scored runs {median:.1%}, {gap:.1f} points below the best. "
        + (
            "A gap of a couple of points can come from the seed alone: compare seeds on "
            "Compare runs before crowning a setting."
            if gap < 3
            else "A gap this wide is more than seeds alone usually make: ask what the best run "
            "changed."
        )
    )


def pinned_run(shown: Board) -> None:
    """The run the teacher pinned: its settings and scores, for the class to discuss."""
    pinned = next((r for r in shown.runs if r.pinned), None)
    if pinned is None:
        return
    with st.container(border=True):
        st.markdown(f"★ **Pinned for discussion:** {literal(run_label(pinned))}")
        acc = pinned.val_accuracy
        if acc is not None:
            rank = [r.id for r in sorted(shown.runs, key=lambda r: -(r.val_accuracy or -1))]
            st.caption(
                f"{acc:.1%} validation accuracy, rank {rank.index(pinned.id) + 1} of "
                f"{len(shown.runs)}. What did this run change, and would a second seed agree?"
            )
        st.dataframe(
            {"setting": list(pinned.settings), "value": list(pinned.settings.values())},
            key="class_board.pinned_settings",
        )


def pin_control(shown: Board) -> bool:
    """The teacher's pin: one run at a time, or none. True when the pin changed."""
    owner = teacher()
    a, b, c = st.columns([4, 1, 1], vertical_alignment="bottom")
    labels = {r.id: run_label(r) for r in shown.runs}
    run_id = a.selectbox(
        "Run to discuss (only you, the teacher, can pin)",
        list(labels),
        format_func=labels.get,
        key="class_board.pick",
    )
    if b.button("Pin", key="class_board.pin"):
        return _changed(lambda: board.pin(owner.info.code, owner.token, run_id))
    if c.button("Unpin", key="class_board.unpin"):
        return _changed(lambda: board.pin(owner.info.code, owner.token, None))
    return False


def _changed(action) -> bool:
    """Change the board; on success, later reads see it at once (the shared read is dropped)."""
    done = _attempt(action)
    if done:
        _read_board.clear()
    return done


def publish_button(record: RunRecord) -> None:
    """Compare runs: publish the chosen run to the joined class, or say how to join one."""
    me = membership()
    if me is None:
        st.page_link(
            PAGE_PATH,
            label="Join a class on the Class board page to publish your runs to it",
            icon=":material/groups:",
        )
        return
    if st.button(f"Publish to the class board ({me.info.code})", key="experiments.publish"):
        try:
            published = board.publish_run(me, submission_from_record(record))
        except CNNLabError as err:
            st.error(str(err))
            return
        _read_board.clear()
        st.success(f"Published to class {me.info.code} as run {published.id}.")
