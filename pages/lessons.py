"""Lessons: short ordered walks through the app, each step a page to open and a question."""

import streamlit as st

from ui import frame, glossary
from ui.panels import lessons as panels

frame(
    "Lessons",
    intro=(
        "Each lesson takes 10 to 15 minutes and walks through a few pages in order. A step "
        "opens its page with the right settings, says what to look at, and usually asks you "
        "to predict something first: answer, press Check, then read why. Your progress is "
        "kept while this tab is open."
    ),
)
glossary.popover_for("lessons")

lesson = panels.pick_lesson(panels.lessons())
st.caption(lesson.about)
progress_slot = st.empty()
with st.container(border=True):
    panels.show_step(lesson)
panels.progress(lesson, progress_slot)
panels.navigation(lesson)

with st.expander("Share, download, or open your own lesson"):
    panels.downloads(lesson)
    panels.upload()
    st.markdown(
        "A lesson is a small text file in TOML: a title, the minutes it takes, and a list of "
        "steps, each naming a page, its settings, what to look at and an optional question. "
        "The format is described in `lessons/README.md`; download a lesson above to start "
        "from a working example."
    )

with st.expander("Go deeper"):
    st.markdown(
        "Predict, then check: committing to an answer before seeing the result makes the "
        "result stick, and a wrong guess shows exactly which idea needs fixing (Crouch and "
        "Mazur's peer instruction, 2001). Numbers such as output sizes and parameter counts "
        "are not typed into the lesson files: the app computes them with the same formulas "
        "the pages use, for example"
    )
    st.latex(r"O = \left\lfloor \frac{W + 2P - D(K-1) - 1}{S} \right\rfloor + 1")
