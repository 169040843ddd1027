"""Class board: a class's runs side by side, so the whole room compares what each change did."""

import streamlit as st

from models.classroom.board import MAX_RUNS_PER_MEMBER, class_hours
from ui import frame, glossary
from ui.panels import class_board as panel

frame(
    "Class board",
    intro=(
        "One run proves little; thirty runs, each changing something, show what matters. The "
        "teacher opens a class and reads out its code; students join with it under a display "
        "name and publish runs from Compare runs. Everyone sees every run here, best "
        "validation accuracy first, and the teacher can pin one for the class to discuss."
    ),
)
glossary.popover_for("class_board")

me = panel.membership()
if me is None:
    panel.entry()
else:
    panel.header(me)
    panel.live_board()

with st.expander("Go deeper"):
    st.markdown(
        "**Reading a leaderboard.** A run's validation accuracy is measured on a finite set of "
        "images, and training itself is random (initial weights, shuffling, augmentation). Two "
        "students with the same settings but different seeds land apart, so the top of the "
        "board mixes good settings with good luck. Before concluding, rerun the best settings "
        "with two or three seeds on Compare runs: a setting that stays on top is real.\n\n"
        f"**How the board keeps things.** No accounts: a display name and the class's code. Each "
        f"student can publish up to {MAX_RUNS_PER_MEMBER} runs; curves are thinned to a few "
        f"hundred points; a class ends after {class_hours():g} hours on this server and everything "
        "in it is deleted. The teacher's right to pin lives only in the tab that opened the class."
    )
    st.latex(r"\mathrm{SE}(\hat p) = \sqrt{\hat p\,(1 - \hat p)\,/\,n}")
    st.markdown(
        "The standard error of an accuracy $\\hat p$ measured on $n$ validation images: at "
        "80 % on 200 images it is about 2.8 points, so runs closer than that are not yet "
        "told apart. Further reading: Bouthillier et al., *Accounting for Variance in Machine "
        "Learning Benchmarks* (MLSys 2021); Dodge et al., *Show Your Work* (EMNLP 2019)."
    )
