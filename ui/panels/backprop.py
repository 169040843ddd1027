"""Widgets of the Backpropagation page: the numbers, the step-through with its clickable
network, and the gradient check."""

from __future__ import annotations

import streamlit as st

from models.inspect import backprop as bpm
from models.inspect import backprop_steps as steps
from ui import results
from viz import backprop as viz

PAGE = "backprop"
STEP, SEED, CHART = "backprop.step", "backprop.seed", "backprop.network"
LEGEND = (
    "Outlines: **blue**, the cell this step computes; **orange**, the cells it is made from; "
    "**dashed blue**, where its gradient goes next; **dotted grey**, cells looked at that add "
    "nothing (a window's losers, a gradient of 0, a ReLU that blocks). Dots: not computed yet."
)
STEP_WORDS = {h: f"{h:.0e}".replace("e-0", "e-") for h in bpm.STEP_SIZES}


def _new_numbers() -> None:
    st.session_state[SEED] = (int(st.session_state.get(SEED, 0)) + 1) % 1_000_001


def _move(by: int) -> None:
    step = int(st.session_state.get(STEP, 0)) + by
    st.session_state[STEP] = min(max(step, 0), len(steps.STEPS) - 1)


def _clicked() -> None:
    """Open the step of the clicked cell (a weight opens its gradient)."""
    points = st.session_state[CHART].selection.points
    if points and "customdata" in points[0]:
        panel, r, c = points[0]["customdata"]
        index = steps.step_for_click(str(panel), int(r), int(c))
        if index is not None:
            st.session_state[STEP] = index


def network_controls() -> bpm.Backprop:
    """Seed and 'New numbers'; returns the toy network run forward and backward."""
    a, b = st.columns([1, 3], vertical_alignment="bottom")
    seed = a.number_input("Seed for the numbers", 0, 1_000_000, key=SEED)
    b.button("New numbers", key="backprop.new", on_click=_new_numbers)
    return results.memo(
        PAGE, "net", int(seed), lambda: bpm.compute_backprop(bpm.sample_net(int(seed)))
    )


def gradient_checks(bp: bpm.Backprop) -> list[bpm.GradCheck]:
    """The gradient check in every number type, made once per seed for the whole class."""
    return results.memo(
        PAGE,
        "check",
        bp.net.seed,
        lambda: [bpm.gradient_check(bp.net, name) for name in bpm.DTYPES],
    )


def step_controls() -> int:
    """Back / Next buttons and a menu of every step (the keyboard way to pick a cell)."""
    back, menu, forth = st.columns([1, 4, 1], vertical_alignment="bottom")
    back.button("◀ Back", key="backprop.back", on_click=_move, args=(-1,))
    forth.button("Next ▶", key="backprop.next", on_click=_move, args=(1,))
    return menu.selectbox(
        "Step (or click a cell; a weight opens its gradient)",
        range(len(steps.STEPS)),
        format_func=steps.step_label,
        key=STEP,
    )


def show_network(bp: bpm.Backprop, view: steps.StepView) -> None:
    """The clickable grids with the step's cells outlined, and the step's formula."""
    figure = results.memo(  # the network is a function of its seed
        PAGE,
        "network",
        (bp.net.seed, view.index),
        lambda: viz.network_figure(
            bpm.grid_values(bp), steps.revealed(view.index), view.marks, bp.net.y
        ),
    )
    st.plotly_chart(figure, key=CHART, on_select=_clicked, selection_mode="points", width="stretch")
    st.caption(LEGEND)
    if view.kind == "start":
        st.markdown(
            "The input, the weights and the target class are given. Press **Next** to run "
            "the forward pass one cell at a time, or click any cell of the grids."
        )
        return
    st.latex(view.rule)
    st.latex(view.worked)
    m = st.columns(3)
    m[0].metric("Hand formula", f"{view.hand:.6g}")
    m[1].metric("PyTorch autograd", f"{view.autograd:.6g}")
    m[2].metric("Difference", f"{abs(view.hand - view.autograd):.1e}")
    if view.sentence:
        st.markdown(view.sentence)


def step_summary(bp: bpm.Backprop, flows: str | None) -> None:
    """What the numbers of this network say, and the prediction's answer."""
    gap = bpm.largest_disagreement(bp)
    dz = bp.grads["z"]
    blocked = int((bp.values["z"] <= 0).sum())
    silent = int((dz == 0).sum())
    st.markdown(
        f"Autograd and the hand formulas agree on every number of this network to within "
        f"{gap:.1e}. Only {9 - silent} of the 9 conv cells get a non-zero gradient: the max "
        f"pool sends each of its 4 gradients to one winner, and ReLU stops {blocked} cell(s) "
        "whose z is negative. A weight's gradient adds up only those cells' inputs."
    )
    if flows is not None:
        right = flows.startswith("Only to")
        st.markdown(("Right: " if right else "Not quite: ") + "step to a ∂L/∂p cell to see it.")
    st.download_button(
        "Download every number (JSON)",
        results.memo(PAGE, "json", bp.net.seed, lambda: bpm.to_json(bp)),
        file_name=f"backprop_seed{bp.net.seed}.json",
        key="backprop.download",
    )


def check_controls() -> tuple[float, str]:
    """The step size h and the number type shown in the table."""
    a, b = st.columns([3, 1])
    h = a.select_slider(
        "Step size h (from 1e-1 down to 1e-10)",
        bpm.STEP_SIZES,
        value=bpm.STEP_SIZES[8],
        format_func=STEP_WORDS.get,
        key="backprop.h",
    )
    dtype = b.radio("Numbers", list(bpm.DTYPES), index=1, key="backprop.dtype")
    return float(h), str(dtype)


def show_check(checks: list[bpm.GradCheck], h: float, dtype: str) -> None:
    """The V figure, the chosen step's per-weight numbers, what it means, and a CSV."""
    figure = results.memo(  # keyed by the checks' values: a few hundred numbers
        PAGE, "check_chart", (checks, h), lambda: viz.gradient_check_figure(checks, h)
    )
    st.plotly_chart(figure, key="backprop.check_chart")
    by = {c.dtype: c for c in checks}
    c64, c32, chosen = by["float64"], by["float32"], by[dtype]
    (h64, e64), (h32, e32) = c64.best, c32.best
    st.caption(
        f"Relative error ‖numeric − autograd‖ / (‖numeric‖ + ‖autograd‖) over all 20 weights. "
        f"Best: float64 {e64:.1e} at h = {h64:.0e}; float32 {e32:.1e} at h = {h32:.0e}."
    )
    i = chosen.steps.index(h)
    st.metric(f"Relative error at h = {STEP_WORDS[h]} ({dtype})", f"{chosen.rel_error[i]:.2e}")
    st.markdown(
        f"From h = 0.1 the float64 error falls from {c64.rel_error[0]:.1e} to {e64:.1e} at "
        f"h = {h64:.0e}, at first {c64.rel_error[0] / c64.rel_error[2]:.0f}× for each tenfold "
        "smaller h: truncation error (h² would give 100×). Below that it climbs "
        f"again to {c64.rel_error[-1]:.1e} at h = 1e-10: round-off, since L(θ + h) and "
        f"L(θ − h) share almost all their digits and the difference is divided by a tiny 2h. "
        f"float32 keeps about 7 digits instead of 16, so its V bottoms out earlier and higher "
        f"({e32:.1e} at h = {h32:.0e}); at h = 1e-10 its error is {c32.rel_error[-1]:.2g}."
    )
    rows = [
        {"weight": n, "autograd": a, "central difference": d, "abs error": abs(d - a)}
        for n, a, d in zip(bpm.PARAM_NAMES, chosen.autograd, chosen.numeric[i], strict=True)
    ]
    st.dataframe(rows, height=240)
    st.download_button(
        "Download the gradient check (CSV)",
        results.memo(PAGE, "check_csv", checks, lambda: bpm.check_csv(checks)),
        file_name="gradient_check.csv",
        key="backprop.check_download",
    )
