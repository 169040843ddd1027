"""Widgets of the Losses page: the explorer's inputs and read-outs, the two target forms, and
softmax with a temperature. The maths is in `models.training.losses`.

Every result, figure and file here is a function of the student's settings alone: made once per
setting for the whole class (`results.memo`), so 30 students opening the page on its defaults
share one set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from models.data.shapes import SHAPE_CLASSES
from models.training import losses as L
from ui import results
from viz import losses as lviz

PAGE = "losses"
DRAG, TYPE = "Drag the true class's probability", "Type every logit"
DEFAULT_LOGITS = (1.0, 2.0, 0.5, -1.0, 0.0)  # the second class is the true one by default
P_GRID = np.linspace(0.01, 0.99, 99)
TEMPERATURES = np.geomspace(0.1, 10, 81)


@dataclass(frozen=True)
class ExplorerInputs:
    """What the student set: the logits, the true class, the losses' knobs and class names."""

    logits: tuple[float, ...]
    target: int
    settings: L.LossSettings
    names: tuple[str, ...]


def _logit_inputs(k: int, target: int, dragging: bool) -> list[float]:
    cols = st.columns(k)
    return [
        cols[i].number_input(
            f"z for {SHAPE_CLASSES[i]}",
            -L.LOGIT_LIMIT,
            L.LOGIT_LIMIT,
            DEFAULT_LOGITS[i],
            0.5,
            key=f"losses.logit.{i}",
            disabled=dragging and i == target,
            help="set by the probability slider" if dragging and i == target else None,
        )
        for i in range(k)
    ]


def explorer_controls() -> ExplorerInputs:
    """Classes, the true class, the logits (typed or from p_true) and the losses' settings.

    Raises LossError on values the losses cannot use.
    """
    a, b, c = st.columns([1, 1, 2])
    k = a.slider("Classes", 3, 5, 4, key="losses.classes")
    names = tuple(SHAPE_CLASSES[:k])
    target = b.selectbox(
        "True class", range(k), 1, format_func=names.__getitem__, key="losses.target"
    )
    mode = c.radio("Set the scores by", [DRAG, TYPE], horizontal=True, key="losses.mode")
    p = st.slider(
        "p(true class): the softmax probability of the true class",
        0.01,
        0.99,
        0.7,
        0.01,
        key="losses.p_true",
        disabled=mode == TYPE,
    )
    typed = _logit_inputs(k, target, mode == DRAG)
    logits = typed
    if mode == DRAG:
        logits = L.logits_for_p_true(typed[:target] + typed[target + 1 :], target, p)
    g, e, m = st.columns(3)
    settings = L.LossSettings(
        focal_gamma=g.slider("Focal γ", 0.0, 5.0, 2.0, 0.5, key="losses.gamma"),
        smoothing=e.slider("Label smoothing ε", 0.0, 0.5, 0.1, 0.05, key="losses.smoothing"),
        margin=m.slider("Hinge margin (logit units)", 0.5, 3.0, 1.0, 0.5, key="losses.margin"),
    )
    return ExplorerInputs(tuple(logits), target, settings, names)


def _table(report: L.LossReport, names: tuple[str, ...]) -> pd.DataFrame:
    rows = {loss.name: [loss.value, *loss.gradient] for loss in report.losses}
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["loss", *(f"∂L/∂z {n}" for n in names)]
    )


def _explain(report: L.LossReport, inputs: ExplorerInputs) -> str:
    """Three sentences from the computed values."""
    by_name = {loss.name: loss for loss in report.losses}
    y, p, s = report.target, report.p_true, inputs.settings
    ce, focal = by_name["cross-entropy"], by_name["focal"]
    smooth = by_name["label-smoothed cross-entropy"]
    ratio = abs(ce.gradient[y]) / max(abs(focal.gradient[y]), 1e-12)
    best_p = 1 - s.smoothing + s.smoothing / len(report.logits)
    way = "still pulls it up" if smooth.gradient[y] < 0 else "already pushes it back down"
    hinge = by_name["hinge (Weston–Watkins)"]
    hinge_text = (
        "the Weston–Watkins hinge is 0 and gives no gradient: every rival is at least the margin "
        "below"
        if hinge.value == 0
        else f"the Weston–Watkins hinge is {hinge.value:.3f}: some rival is within the margin"
    )
    return (
        f"At p = {p:.2f}, cross-entropy is {ce.value:.3f} and its gradient on the true logit is "
        f"{ce.gradient[y]:+.3f} (that is p − 1). Focal loss (γ = {s.focal_gamma:g}) pulls "
        f"{ratio:.1f}× more weakly ({focal.gradient[y]:+.3f}), because an image this easy counts "
        f"less. Label smoothing aims at p = {best_p:.3f}, not 1, so here it {way} "
        f"({smooth.gradient[y]:+.3f}); and {hinge_text}."
    )


def report(inputs: ExplorerInputs) -> L.LossReport:
    """The five losses and their gradients at the student's logits (LossError on bad ones)."""
    return results.memo(
        PAGE,
        "report",
        inputs,
        lambda: L.compute_losses(inputs.logits, inputs.target, inputs.settings),
    )


@dataclass(frozen=True)
class ExplorerView:
    """What the explorer shows for one setting: its figures, its table and the table's CSV."""

    curves: go.Figure
    gradients: go.Figure
    table: pd.DataFrame
    csv: str


def _explorer_view(
    report: L.LossReport, inputs: ExplorerInputs, curves: dict[str, np.ndarray]
) -> ExplorerView:
    table = _table(report, inputs.names)
    return ExplorerView(
        lviz.loss_curves_figure(P_GRID, curves, report),
        lviz.gradient_figure(report, inputs.names),
        table,
        table.to_csv(index_label="loss function"),
    )


def show_explorer(report: L.LossReport, inputs: ExplorerInputs) -> None:
    """The prediction's answer, the curves, the gradients, the table and its download."""
    k = len(inputs.names)
    curves = results.memo(  # the same while only the logits move
        PAGE, "curves", (k, inputs.settings), lambda: L.loss_curves(P_GRID, k, inputs.settings)
    )
    view = results.memo(PAGE, "explorer", inputs, lambda: _explorer_view(report, inputs, curves))
    st.plotly_chart(view.curves, key="losses.curves_chart")
    st.caption(
        f"Each loss against p(true), the other {k - 1} classes sharing the rest equally (and "
        f"logits = log-probabilities, which the hinges see). The dots are your logits: p(true) = "
        f"{report.p_true:.2f}, cross-entropy {report.losses[0].value:.3f}."
    )
    st.plotly_chart(view.gradients, key="losses.gradient_chart")
    st.caption(
        "The gradient of each loss with respect to each logit, by autograd. Gradient descent "
        "moves each logit against its bar: a negative bar on the true class raises its score."
    )
    st.markdown(_explain(report, inputs))
    # formatted in the browser: a pandas Styler would be rendered on the server at every run
    signed = st.column_config.NumberColumn(format="%+.4f")
    st.dataframe(
        view.table, column_config=dict.fromkeys(view.table.columns, signed), key="losses.table"
    )
    st.download_button(
        "Download the losses and gradients (.csv)",
        view.csv,
        "losses.csv",
        "text/csv",
        key="losses.download",
    )


def reveal(guess: str | None, report: L.LossReport) -> None:
    """The loss with the strongest pull on the true logit at these scores, against the guess."""
    answer = report.strongest_push()
    grad = answer.gradient[report.target]
    measured = f"**{answer.name}**, with ∂L/∂z_true = {grad:+.3f} at p = {report.p_true:.2f}"
    if guess is None:
        st.info("Predict first: the answer appears here.")
    elif guess == answer.name:
        st.success(f"You predicted **{guess}**: right. The measurement says {measured}.")
    else:
        st.warning(f"You predicted **{guess}**; the measurement says {measured}.")


def _forms_view(
    inputs: ExplorerInputs, partner: int, lam: float
) -> tuple[L.TargetForms, pd.DataFrame]:
    """(cross-entropy with each form of target, the table of them)."""
    eps = inputs.settings.smoothing
    f = L.target_forms(inputs.logits, inputs.target, eps, partner, lam)
    y, mix = inputs.target, ", ".join(f"{v:.2f}" for v in f.mixup_target)
    rows = [
        ("F.cross_entropy(z, y)", f"index {y}", f.with_index),
        ("F.cross_entropy(z, onehot)", "one-hot probabilities", f.with_one_hot),
        (f"F.cross_entropy(z, y, label_smoothing={eps:g})", f"index {y}", f.smoothed_index),
        ("F.cross_entropy(z, q)", "smoothed probabilities q", f.smoothed_probabilities),
        ("F.cross_entropy(z, mix)", f"MixUp probabilities ({mix})", f.mixup),
    ]
    return f, pd.DataFrame(rows, columns=["PyTorch call", "target", "loss"])


def target_forms(inputs: ExplorerInputs) -> None:
    """Cross-entropy with an index target and with probability targets, side by side."""
    a, b = st.columns(2)
    others = [i for i in range(len(inputs.names)) if i != inputs.target]
    partner = a.selectbox(
        "MixUp partner's class", others, format_func=inputs.names.__getitem__, key="losses.partner"
    )
    lam = b.slider(
        "MixUp λ (share of the true class's image)", 0.0, 1.0, 0.7, 0.05, key="losses.lam"
    )
    eps = inputs.settings.smoothing
    f, table = results.memo(
        PAGE,
        "forms",
        (inputs.logits, inputs.target, eps, partner, lam),
        lambda: _forms_view(inputs, partner, lam),
    )
    st.dataframe(
        table,
        column_config={"loss": st.column_config.NumberColumn(format="%.6f")},
        hide_index=True,
        key="losses.forms",
    )
    mix = ", ".join(f"{v:.2f}" for v in f.mixup_target)
    st.markdown(
        f"The index and the one-hot vector give the same loss ({f.with_index:.6f} and "
        f"{f.with_one_hot:.6f}): the one-hot vector only picks out −log p_y. Label smoothing "
        f"can still be asked for with an index ({f.smoothed_index:.6f} = "
        f"{f.smoothed_probabilities:.6f}), because PyTorch builds q itself. A MixUp target "
        f"({mix}) has two classes at once, which no single index can say: it needs the "
        f"probability form, and gives {f.mixup:.6f}, the same as λ·CE(y) + (1 − λ)·CE(partner) "
        f"= {f.mixup_as_mix:.6f}."
    )


def temperature(inputs: ExplorerInputs) -> None:
    """The softmax of the explorer's logits at a temperature, and all temperatures at once."""
    t = st.slider("Temperature T", 0.1, 10.0, 1.0, 0.1, key="losses.temperature")
    probs = L.softmax_with_temperature(inputs.logits, t)
    plain = L.softmax_with_temperature(inputs.logits, 1.0)
    figure = results.memo(
        PAGE,
        "temperature",
        (inputs.logits, inputs.names, t),
        lambda: lviz.temperature_figure(
            TEMPERATURES, L.temperature_sweep(inputs.logits, TEMPERATURES), inputs.names, t
        ),
    )
    st.plotly_chart(figure, key="losses.temperature_chart")
    top = int(np.argmax(plain))
    bits, most = L.entropy_bits(probs), np.log2(len(probs))
    st.caption(
        f"At T = {t:g} the top class ({inputs.names[top]}) gets {probs[top]:.1%} (at T = 1: "
        f"{plain[top]:.1%}); the spread is {bits:.2f} bits of at most {most:.2f}. The order of "
        "the classes never changes, only how sure the softmax sounds."
    )
