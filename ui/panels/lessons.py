"""Widgets of the Lessons page: choose a lesson, show a step, check an answer, move on.

Progress lives in the session: the current lesson and step, and every answer checked, so a
student can open a step's page and come back to where they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from models.lessons import (
    LESSONS_DIR,
    Lesson,
    LessonError,
    Question,
    Step,
    builtin_ids,
    load_builtin,
    parse_lesson,
)
from models.network.presets import PRESETS
from ui import links, state
from ui.nav import ROOT, available_pages

LESSON, STEP = "lessons.lesson", "lessons.step"  # the selectbox, and the 1-based step number
KEPT = "_lessons.kept"  # the lesson last shown (Streamlit drops a widget's value off its page)
UPLOADED = "_lessons.uploaded"  # id -> (Lesson, its TOML text)
ANSWERS = "_lessons.answers"  # "lesson id/step" -> {"given": ..., "right": bool}
UPLOAD_PREFIX = "yours: "
# Whether this session began with no lesson progress of its own (none restored from its
# workspace): until it makes some, there is nothing to save, so merely opening the page writes
# nothing (a class opening Lessons would otherwise create 30 workspaces holding step 1)
FRESH = "_lessons.fresh"


def check_lesson(lesson: Lesson) -> None:
    """Check what the file format cannot: every page exists and every setting is linkable."""
    for n, step in enumerate(lesson.steps, 1):
        if not (ROOT / "pages" / f"{step.page}.py").exists() or step.page not in links.LINKABLE:
            raise LessonError(f"step {n}.page: there is no page called {step.page!r}")
        try:
            step_params(step)
        except links.LinkError as err:
            raise LessonError(f"step {n}.settings: {err}") from None


def step_params(step: Step) -> dict[str, str]:
    """The query parameters that open the step's page set up (network, image, widgets)."""
    extra: dict[str, object] = {}
    if step.preset is not None:
        if step.preset not in PRESETS:
            raise links.LinkError(f"preset {step.preset!r} is not one of: {', '.join(PRESETS)}")
        extra[state.QUERY_KEY] = state.encode_spec(PRESETS[step.preset].spec)
    if step.image is not None:
        extra[links.IMAGE_KEY] = step.image
    return links.link_params(step.page, **dict(step.settings), **extra)


@st.cache_resource(show_spinner=False)
def builtin_lessons() -> dict[str, Lesson]:
    """The shipped lessons, read once per server (frozen, so sharing them is safe)."""
    return {i: load_builtin(i) for i in builtin_ids()}


def lessons() -> dict[str, Lesson]:
    """Shipped lessons, then the ones uploaded in this session."""
    uploaded = {k: v[0] for k, v in st.session_state.get(UPLOADED, {}).items()}
    return {**builtin_lessons(), **uploaded}


def _new_lesson() -> None:
    st.session_state[STEP] = 1


def pick_lesson(available: dict[str, Lesson]) -> Lesson:
    """The lesson selectbox, remembered across pages; the step is clamped to the lesson."""
    ss = st.session_state
    ss.setdefault(FRESH, not any(k in ss for k in (KEPT, STEP, ANSWERS)))
    if ss.get(LESSON) not in available:
        ss[LESSON] = ss.get(KEPT) if ss.get(KEPT) in available else next(iter(available))
    chosen = st.selectbox(
        "Lesson",
        list(available),
        key=LESSON,
        format_func=lambda i: f"{available[i].title} ({available[i].minutes} min)",
        on_change=_new_lesson,
    )
    ss[KEPT] = chosen
    lesson = available[chosen]
    ss[STEP] = min(max(int(ss.get(STEP, 1)), 1), len(lesson.steps))
    return lesson


def _answers() -> dict[str, dict]:
    return st.session_state.setdefault(ANSWERS, {})


def progress(lesson: Lesson, slot) -> None:
    """Where the student is, and how many questions they got right, drawn into `slot`.

    The page fills the slot after the step, so an answer checked in this run is counted.
    """
    n, total = st.session_state[STEP], len(lesson.steps)
    asked = [f"{lesson.id}/{i}" for i, s in enumerate(lesson.steps, 1) if s.question]
    right = sum(_answers().get(k, {}).get("right", False) for k in asked)
    done = sum(k in _answers() for k in asked)
    text = f"Step {n} of {total} · {right} of {done} checked answers right"
    slot.progress(n / total, text=text)
    ss = st.session_state
    values = {k: ss[k] for k in (KEPT, STEP, ANSWERS) if k in ss}
    if ss.get(FRESH) and values == _untouched():
        return
    ss[FRESH] = False  # from now on every change is saved, a return to step 1 included
    state.keep_session_values(values)


def _untouched() -> dict:
    """The progress of a session that has done nothing yet: the first lesson, step 1."""
    return {KEPT: next(iter(builtin_lessons())), STEP: 1, ANSWERS: {}}


def _page_label(page: str) -> str:
    path = f"pages/{page}.py"
    return next((p.label for p in available_pages() if p.path == path), page)


def show_step(lesson: Lesson) -> None:
    """The step's title, what to look at, the button to its page, and its question."""
    n = st.session_state[STEP]
    step = lesson.steps[n - 1]
    st.subheader(f"{n}. {step.title}")
    st.markdown(step.look)
    try:
        params = step_params(step)
    except links.LinkError as err:  # an uploaded lesson is checked; this is a safety net
        st.error(f"This step's page cannot be opened: {err}")
    else:
        st.page_link(
            f"pages/{step.page}.py",
            label=f"Open {_page_label(step.page)}",
            icon=":material/open_in_new:",
            query_params=params,
        )
    if step.question is not None:
        question(lesson, n, step.question)


def _given(q: Question, key: str) -> str | float | None:
    if q.choices:
        return st.radio(q.ask, q.choices, index=None, key=key)
    return st.number_input(q.ask, value=None, step=1.0, format="%g", key=key)


def question(lesson: Lesson, n: int, q: Question) -> None:
    """Predict, check, reveal: the answer widget, a Check button, the verdict and why."""
    record_key = f"{lesson.id}/{n}"
    given = _given(q, f"lessons.answer.{lesson.id}.{n}")
    if st.button("Check", key=f"lessons.check.{lesson.id}.{n}"):
        if given is None:
            st.warning("Choose or type an answer first, then press Check.")
        else:
            _answers()[record_key] = {"given": given, "right": q.check(given)}
    record = _answers().get(record_key)
    if record is None:
        return
    shown = q.answer if q.choices else f"{float(q.answer):.4g}"
    said = record["given"] if q.choices else f"{float(record['given']):.4g}"
    if record["right"]:
        st.success(f"✔ Right. You said {said}; the answer is {shown}.")
    else:
        st.info(f"✘ Not this time. You said {said}; the answer is {shown}.")
    if q.working:
        st.latex(q.working)
    st.markdown(q.explain)


def navigation(lesson: Lesson) -> None:
    """Back and Next buttons."""
    ss, total = st.session_state, len(lesson.steps)
    back, _, forward = st.columns([1, 4, 1])
    if back.button("← Back", key="lessons.back", disabled=ss[STEP] <= 1):
        ss[STEP] -= 1
        st.rerun()
    if forward.button("Next →", key="lessons.next", disabled=ss[STEP] >= total):
        ss[STEP] += 1
        st.rerun()


def upload() -> None:
    """Load a lesson file; a bad one gets a message naming its line or field."""
    file = st.file_uploader("Open a lesson file (.toml)", type=["toml"], key="lessons.upload")
    if file is None:
        return
    try:
        text = file.getvalue().decode("utf-8")
        lesson = parse_lesson(text, UPLOAD_PREFIX + Path(file.name).stem)
        check_lesson(lesson)
    except UnicodeDecodeError:
        st.error(f"{file.name}: a lesson file is plain text (UTF-8); this one is not.")
        return
    except LessonError as err:
        st.error(f"{file.name}: {err}")
        return
    st.session_state.setdefault(UPLOADED, {})[lesson.id] = (lesson, text)
    st.success(f"Loaded “{lesson.title}”: choose it in the Lesson list above.")


def downloads(lesson: Lesson) -> None:
    """The lesson's file, to edit or share, and the session's answers as JSON."""
    kept = st.session_state.get(UPLOADED, {}).get(lesson.id)
    text = kept[1] if kept else (LESSONS_DIR / f"{lesson.id}.toml").read_text("utf-8")
    a, b = st.columns(2)
    a.download_button(
        "Download this lesson (TOML)", text, f"{lesson.id}.toml", key="lessons.dl_lesson"
    )
    rows = [{"step": k, **v} for k, v in _answers().items()]
    b.download_button(
        "Download your answers (JSON)",
        json.dumps(rows, indent=1),
        "answers.json",
        key="lessons.dl_answers",
    )
    if lesson.id in builtin_ids():
        here = links.link("lessons", lesson=lesson.id, step=st.session_state[STEP])
        st.caption(f"A link to this step (add it after the server's address): `{here}`")
