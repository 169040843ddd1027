"""Widgets of the Imbalance page: the comparison's settings, its results and the focal term.

The four runs go through `ui.lab` (predict, run, watch, reveal); the scores come from
`models.training.imbalance`, the figures from `viz.imbalance`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from models.data.shapes import SHAPE_CLASSES
from models.training import imbalance as imb
from ui import lab, results
from viz import imbalance as iviz

PAGE = "imbalance"
SPEC = "_imbalance.spec"  # the settings of the runs on screen (the sliders may have moved since)
P_GRID = np.linspace(0.005, 1.0, 200)


def spec_controls() -> imb.ImbalanceSpec:
    """The ratio, the number of images and the epochs; raises ImbalanceError when out of range."""
    a, b, c = st.columns(3)
    ratio = a.slider(
        "Ratio of the most to the least frequent class",
        imb.MIN_RATIO,
        imb.MAX_RATIO,
        10.0,
        1.0,
        key="imbalance.ratio",
        format="%g:1",
    )
    images = b.select_slider(
        "Images drawn (20% kept to validate)", [500, 750, 1250, 2000], 1250, key="imbalance.images"
    )
    epochs = c.slider("Epochs per run", 1, 10, imb.ImbalanceSpec.epochs, key="imbalance.epochs")
    spec = imb.ImbalanceSpec(ratio=ratio, images=images, epochs=epochs)
    counts = imb.class_counts(spec)
    st.caption(
        f"At {ratio:g}:1, {SHAPE_CLASSES[0]} gets {counts[0]} images and {SHAPE_CLASSES[-1]} "
        f"{counts[-1]}; the classes between fall off evenly on a log scale "
        f"({', '.join(f'{n} {c}' for n, c in zip(SHAPE_CLASSES, counts, strict=True))})."
    )
    return spec


def make_runs(spec: imb.ImbalanceSpec):
    """The runs' planner for `lab.run_button`; remembers the settings they were planned with."""

    def plan() -> list:
        runs = imb.plan_imbalance(spec)
        st.session_state[SPEC] = spec
        return runs

    return plan


def _metrics(ended: lab.LabResults) -> dict[str, imb.ImbalanceMetrics]:
    confusions = {}
    for method in imb.METHODS:
        handed = ended.results(method)
        if handed:
            confusions[method] = handed[0].evaluation.confusion
    return imb.metrics_by_method(confusions)


@dataclass(frozen=True)
class ResultsView:
    """What the ended runs show: the scores, three figures and the downloads."""

    metrics: dict[str, imb.ImbalanceMetrics]
    recall: go.Figure | None  # None when plain cross-entropy's run left no model
    scores: go.Figure | None
    confusion: go.Figure | None
    csv: str
    json: str


def _view(ended: lab.LabResults, spec: imb.ImbalanceSpec) -> ResultsView:
    """Made once per set of runs in this session (their models are the session's own), not at
    every rerun of the page."""

    def compute() -> ResultsView:
        metrics, names = _metrics(ended), SHAPE_CLASSES
        if imb.PLAIN not in metrics:  # nothing is shown but the warnings
            return ResultsView(metrics, None, None, None, "", "")
        return ResultsView(
            metrics,
            iviz.recall_bars_figure(metrics, names, imb.class_counts(spec)),
            iviz.scores_figure(metrics),
            iviz.confusion_figure(metrics, names),
            *_download_texts(metrics, spec),
        )

    ids = tuple(sorted(job.id for handles in ended.handles.values() for job in handles))
    return results.remembered(PAGE, "view", (ids, spec), compute)


def show_results(ended: lab.LabResults) -> None:
    """Recall per class, the three scores, the confusion matrices, the verdict, downloads."""
    spec = st.session_state.get(SPEC, imb.ImbalanceSpec())
    view = _view(ended, spec)
    metrics = view.metrics
    for method in (m for m in imb.METHODS if m not in metrics):
        notes = " ".join(job.snapshot().note for job in ended.handles.get(method, []))
        st.warning(f"No model came back from {method}, so its bars are left out. {notes}")
    if imb.PLAIN not in metrics:
        return
    names = SHAPE_CLASSES
    plain = metrics[imb.PLAIN]
    answer = names[imb.most_missed(plain)]
    lab.reveal(ended.guess, answer, _because(metrics, spec))
    st.plotly_chart(view.recall, key="imbalance.recall_chart")
    rare = len(names) - 1
    st.caption(
        "Recall: the share of each class's validation images the run got right, classes from "
        f"most to fewest images. {names[rare]} has {plain.support[rare]} validation images, so "
        f"one image moves its bar by {1 / max(plain.support[rare], 1):.0%}."
    )
    st.plotly_chart(view.scores, key="imbalance.scores_chart")
    common = plain.support[0] / sum(plain.support)
    st.caption(
        f"The validation split is imbalanced too: {names[0]} alone is {common:.0%} of it, so a "
        f"run that answered “{names[0]}” to everything would score {common:.0%} accuracy but "
        f"only {1 / len(names):.0%} balanced accuracy."
    )
    st.plotly_chart(view.confusion, key="imbalance.confusion_chart")
    st.caption("Rows are the true classes, columns the answers; each row is scaled to its images.")
    downloads(view)


def _because(metrics: dict[str, imb.ImbalanceMetrics], spec: imb.ImbalanceSpec) -> str:
    """Two to four sentences from the measured scores."""
    plain = metrics[imb.PLAIN]
    missed = imb.most_missed(plain)
    lines = [
        f"Plain cross-entropy scored {plain.accuracy:.1%} accuracy but "
        f"{plain.balanced_accuracy:.1%} balanced accuracy (macro-F1 {plain.macro_f1:.1%}); it "
        f"found {plain.recall[missed]:.0%} of the {SHAPE_CLASSES[missed]} images."
    ]
    if len(metrics) > 1:
        lines.append(_rare_sentence(metrics, spec))
        fair = max(metrics, key=lambda m: metrics[m].balanced_accuracy)
        raw = max(metrics, key=lambda m: metrics[m].accuracy)
        lines.append(
            f"The best balanced accuracy was {fair}'s ({metrics[fair].balanced_accuracy:.1%})"
            + (
                "; plain accuracy picks the same run."
                if raw == fair
                else f", while plain accuracy would have picked {raw} "
                f"({metrics[raw].accuracy:.1%} against {metrics[fair].accuracy:.1%})."
            )
        )
    return " ".join(lines)


def _rare_sentence(metrics: dict[str, imb.ImbalanceMetrics], spec: imb.ImbalanceSpec) -> str:
    """Which method lifted the rarest class's recall most, or honestly that none did."""
    plain, rare, name = metrics[imb.PLAIN], len(SHAPE_CLASSES) - 1, SHAPE_CLASSES[-1]
    if plain.support[rare] == 0:
        return f"No {name} image landed in the validation split: draw more images."
    others = {m: v for m, v in metrics.items() if m != imb.PLAIN}
    best = max(others, key=lambda m: others[m].recall[rare])
    before, after = plain.recall[rare], others[best].recall[rare]
    if after > before:
        return f"{best.capitalize()} lifted {name}'s recall most, from {before:.0%} to {after:.0%}."
    epochs = f"{spec.epochs} epoch{'s' * (spec.epochs != 1)}"
    return (
        f"This time no method lifted {name}'s recall above plain cross-entropy's {before:.0%}: "
        f"with {plain.support[rare]} validation {name} images and {epochs}, chance decides a "
        "lot; try another ratio or more images."
    )


def _download_texts(
    metrics: dict[str, imb.ImbalanceMetrics], spec: imb.ImbalanceSpec
) -> tuple[str, str]:
    """Per-class recall as CSV and every score as JSON."""
    rows = imb.rows_for_download(metrics, SHAPE_CLASSES)
    summary = {
        "settings": {"ratio": spec.ratio, "images": spec.images, "epochs": spec.epochs},
        "methods": {m: v.__dict__ for m, v in metrics.items()},
        "classes": list(SHAPE_CLASSES),
    }
    return pd.DataFrame(rows).to_csv(index=False), json.dumps(summary, indent=2)


def downloads(view: ResultsView) -> None:
    """Per-class recall as CSV and every score as JSON."""
    a, b = st.columns(2)
    a.download_button(
        "Recall per class (.csv)",
        view.csv,
        "imbalance_recall.csv",
        "text/csv",
        key="imbalance.download_csv",
    )
    b.download_button(
        "All scores (.json)",
        view.json,
        "imbalance_scores.json",
        "application/json",
        key="imbalance.download_json",
    )


@dataclass(frozen=True)
class FocalView:
    """The focal term at one γ: the figure and the numbers its caption quotes."""

    figure: go.Figure
    easy: float  # the loss at p = 0.9
    hard: float  # at p = 0.1
    ce_easy: float  # cross-entropy's at p = 0.9
    ce_hard: float


def _focal_view(gamma: float) -> FocalView:
    curves = {
        "cross-entropy (γ = 0)": imb.focal_term(P_GRID, 0.0),
        f"focal, γ = {gamma:g}": imb.focal_term(P_GRID, gamma),
    }
    easy, hard = (float(imb.focal_term(np.array([p]), gamma)[0]) for p in (0.9, 0.1))
    ce_easy, ce_hard = (float(imb.focal_term(np.array([p]), 0.0)[0]) for p in (0.9, 0.1))
    return FocalView(iviz.focal_figure(P_GRID, curves, 0.9), easy, hard, ce_easy, ce_hard)


def focal_view(gamma: float) -> FocalView:
    """The focal term's figure and numbers, once per γ for the whole class."""
    return results.memo(PAGE, "focal", float(gamma), lambda: _focal_view(float(gamma)))


def focal_term() -> None:
    """The focal term −(1 − p)^γ log p against p, for the chosen γ beside cross-entropy (γ = 0)."""
    gamma = st.slider("Focal γ", 0.0, 5.0, 2.0, 0.5, key="imbalance.gamma")
    view = focal_view(gamma)
    st.plotly_chart(view.figure, key="imbalance.focal_chart")
    st.caption(
        f"At γ = {gamma:g}, an easy image (p = 0.9) costs {view.easy:.4f} against "
        f"cross-entropy's {view.ce_easy:.4f} ({view.ce_easy / max(view.easy, 1e-12):.0f}× less), "
        f"while a hard one (p = 0.1) still costs {view.hard:.3f} against {view.ce_hard:.3f}. "
        "The common classes' many easy images stop drowning out the few hard ones."
    )
