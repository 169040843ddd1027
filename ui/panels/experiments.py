"""The Compare runs page's panels: a "change one thing" experiment, and every run compared.

The experiment's runs are named jobs (`experiments/<run>`) on the server's executor, so they
train in worker processes, queue fairly with other sessions' runs and stop when the tab closes.
Each run joins the session's history (`ui.runs`) when it ends, labelled by its value and
grouped by its experiment, so the comparison below shows it with every Train-page run.
"""

from __future__ import annotations

import math
import statistics

import streamlit as st

from models.errors import CNNLabError
from models.training.executor import JobHandle
from models.training.experiments import MAX_SEEDS, VARIABLES, parse_values, plan
from models.training.history import HistoryError, RunHistory, RunRecord
from models.training.jobs import FAILED, QUEUED, RUNNING
from ui import jobs, results, runs
from ui.panels import class_board
from viz.experiments import (
    CURVE_METRICS,
    SPLITS,
    X_AXES,
    differing_settings,
    final_metrics_frame,
    overlay_figure,
    recall_figure,
    settings_frame,
    style_settings,
)

PAGE = "experiments"
JOBS = "experiments/"  # this page's jobs in ui.jobs
PLAN = "_experiments.plan"  # the running experiment: group, variable, {job name: label}, guess
NO_DIFFERENCE = "no real difference"


# ---------------------------------------------------------------- 1. change one thing


def experiment_controls() -> None:
    """Choose the setting, its values and seeds, predict, and run."""
    a, b, c = st.columns([2, 3, 1])
    name = a.selectbox("Change one thing", list(VARIABLES), key="experiments.variable")
    variable = VARIABLES[name]
    text = b.text_input(
        "Its values (2 to 5, separated by commas)",
        variable.values,
        key=f"experiments.values.{name}",
    )
    seeds = c.number_input(
        "Seeds per value",
        1,
        MAX_SEEDS,
        1,
        key="experiments.seeds",
        help="more than one shows the spread that chance alone makes",
        disabled=name == "seed",
    )
    try:
        values = parse_values(variable, text)
    except CNNLabError as err:
        st.error(str(err))
        return
    labels = [f"{name} = {v}" for v in values]
    guess = st.radio(
        "Your prediction: which ends with the best validation accuracy?",
        [*labels, NO_DIFFERENCE],
        index=None,
        horizontal=True,
        key=f"experiments.guess.{name}.{text}",
    )
    n = len(values) * (1 if name == "seed" else int(seeds))
    if st.button(f"Run the experiment ({n} quick runs)", type="primary", key="experiments.run"):
        try:
            with st.spinner("Preparing the runs…"):
                group, planned = plan(variable, values, int(seeds))
            jobs.stop(JOBS)
            for run in planned:
                jobs.submit(JOBS + run.request.name, run.request)
        except CNNLabError as err:  # ExperimentError, a setting out of range, executor settings
            st.error(f"The experiment could not start: {err}")
            return
        st.session_state[PLAN] = {
            "group": group,
            "variable": name,
            "labels": {run.request.name: run.label for run in planned},
            "guess": guess,
        }


def keep_run(name: str, job: JobHandle) -> None:
    """When a run of the experiment ends: into the session's history, labelled and grouped."""
    planned = st.session_state.get(PLAN) or {}
    label = planned.get("labels", {}).get(name.removeprefix(JOBS), "")
    runs.record(job, label, planned.get("group", ""))


def draw_experiment(handles: dict[str, JobHandle]) -> None:
    """The runs' status and their validation accuracy, live, one colour per value."""
    planned = st.session_state.get(PLAN)
    if not handles or planned is None:
        st.info("Pick a setting and its values, make a prediction, and run the experiment.")
        return
    snaps = {name.removeprefix(JOBS): job.snapshot() for name, job in handles.items()}
    st.caption(" · ".join(_status(name, snap) for name, snap in snaps.items()))
    for name, snap in snaps.items():
        if snap.status == FAILED:
            st.error(f"{name}: {snap.error}")
    groups: dict[str, list] = {}
    for name, snap in snaps.items():
        groups.setdefault(planned["labels"].get(name, name), []).append(snap.history)
    figure = overlay_figure(groups, "accuracy", "validation", "epochs")
    st.plotly_chart(figure, key="experiments.live")
    if all(snap.status not in (QUEUED, RUNNING) for snap in snaps.values()):
        conclusion(planned, snaps)


def _status(name: str, snap) -> str:
    if snap.status == QUEUED:
        return f"**{name}**: waiting" + (f" ({snap.place} in the queue)" if snap.place else "")
    m = snap.latest
    if snap.status == RUNNING:
        return f"**{name}**: epoch {m.epoch if m else 0}"
    finals = [h.val_acc for h in snap.history if h.kind == "epoch"]
    return f"**{name}**: {snap.status}" + (f", {finals[-1]:.0%}" if finals else "")


def conclusion(planned: dict, snaps: dict) -> None:
    """What was measured, against the prediction, then what to look for and why."""
    finals: dict[str, list[float]] = {}
    for name, snap in snaps.items():
        accs = [h.val_acc for h in snap.history if h.kind == "epoch"]
        if accs:
            finals.setdefault(planned["labels"].get(name, name), []).append(accs[-1])
    if not finals:
        return
    means = {label: statistics.fmean(v) for label, v in finals.items()}
    best = max(means, key=means.get)
    worst = min(means, key=means.get)
    gap = means[best] - means[worst]
    spread = max((max(v) - min(v) for v in finals.values() if len(v) > 1), default=math.nan)
    lines = [
        f"**Measured:** {best} ended best, at {means[best]:.1%} validation accuracy"
        + (" (mean over seeds)" if any(len(v) > 1 for v in finals.values()) else "")
        + f"; {worst} ended at {means[worst]:.1%}, {gap * 100:.1f} points lower."
    ]
    if math.isfinite(spread):
        verdict = "larger" if gap > spread else "not larger"
        lines.append(
            f"Seeds of the same value differed by up to {spread * 100:.1f} points, so the "
            f"difference between values is {verdict} than chance alone makes."
        )
    guess = planned.get("guess")
    if guess:
        right = guess == best or (guess == NO_DIFFERENCE and gap < 0.02)
        lines.append(f"You predicted **{guess}**: {'right' if right else 'not this time'}.")
    variable = VARIABLES[planned["variable"]]
    st.success(" ".join(lines))
    st.markdown(f"**What to look for.** {variable.look_for}  \n**Why.** {variable.why}")


# ---------------------------------------------------------------- 2. every run, compared


def _titles(records: list[RunRecord]) -> dict[str, str]:
    """A unique title per run: its place in the history and its name."""
    return {r.id: f"{i}. {r.name}" for i, r in enumerate(records, 1)}


def compare() -> RunHistory:
    """Pick runs; their curves overlaid, their settings (what differs first), their scores.
    Returns the history shown, read once per run of the page (reading asks the database)."""
    history = runs.history()
    _compare(history)
    return history


def _compare(history: RunHistory) -> None:
    records = history.runs()
    if not records:
        st.info(
            "Every run you train here or on the Train page is kept here (the last "
            f"{history.limit}; pin the ones to keep longer), to compare and download."
        )
        return
    titles = _titles(records)
    latest_group = next((r.group for r in reversed(records) if r.group), "")
    default = [r.id for r in records if latest_group and r.group == latest_group]
    chosen = st.multiselect(
        "Runs to compare",
        [r.id for r in records],
        default or [r.id for r in records[-3:]],
        format_func=lambda run_id: titles[run_id] + (" 📌" if history.get(run_id).pinned else ""),
        key=f"experiments.chosen.{len(records)}.{latest_group}",
    )
    picked = [history.get(run_id) for run_id in chosen]
    if not picked:
        return
    a, b, c = st.columns(3)
    metric = a.radio("Curve", CURVE_METRICS, index=1, horizontal=True, key="experiments.metric")
    split = b.radio("Split", SPLITS, horizontal=True, key="experiments.split")
    x = c.radio("Against", X_AXES, horizontal=True, key="experiments.x")
    experiments = list(dict.fromkeys(r.group for r in picked if r.group))
    groups: dict[str, list] = {}
    for r in picked:  # runs of one value of one experiment (its seeds) share a band
        key = titles[r.id]
        if r.group and r.label:
            key = r.label
            if len(experiments) > 1:
                key += f" (experiment {experiments.index(r.group) + 1})"
        groups.setdefault(key, []).append(r.history)
    overlay = results.remembered(  # the runs' curves never change: redrawn when the choice does
        PAGE,
        "overlay",
        (tuple(groups), tuple(chosen), metric, split, x),
        lambda: overlay_figure(groups, metric, split, x),
    )
    st.plotly_chart(overlay, key="experiments.overlay")
    rows = {titles[r.id]: r.settings_row() for r in picked}
    differing = differing_settings(rows)
    st.markdown(
        "**Settings** (what differs between the chosen runs is highlighted and listed first: "
        + (", ".join(differing) if differing else "nothing")
        + ")"
    )
    st.dataframe(style_settings(settings_frame(rows), differing), key="experiments.settings")
    finals = {titles[r.id]: r.metrics for r in picked}
    st.markdown("**Final scores** (validation scores are of the model each run handed over)")
    st.dataframe(final_metrics_frame(finals), key="experiments.finals")
    with_recall = [r for r in picked if r.metrics.get("per_class_recall")]
    if with_recall and len({r.class_names for r in with_recall}) == 1:
        recalls = {titles[r.id]: r.metrics["per_class_recall"] for r in with_recall}
        names = with_recall[0].class_names
        figure = results.remembered(
            PAGE, "recall", tuple(recalls), lambda: recall_figure(recalls, names)
        )
        st.markdown("**Recall per class** (the share of each class's images found)")
        st.plotly_chart(figure, key="experiments.recall")
        weakest = [
            f"{run}: {names[min(range(len(r)), key=r.__getitem__)]} ({min(r):.0%})"
            for run, r in recalls.items()
        ]
        st.caption("The class each run finds least often: " + "; ".join(weakest) + ".")
    manage(history, picked, titles)


def manage(history: RunHistory, picked: list[RunRecord], titles: dict[str, str]) -> None:
    """Pin, rename, delete and download one run."""
    with st.expander("Pin, rename, delete or download a run"):
        run_id = st.selectbox(
            "Run", [r.id for r in picked], format_func=titles.get, key="experiments.manage"
        )
        record = history.get(run_id)
        a, b, c = st.columns(3)
        name = a.text_input("Name", record.name, key=f"experiments.name.{run_id}")
        if a.button("Rename", key="experiments.rename"):
            _try(lambda: runs.rename(run_id, name))
        if b.button(
            "Unpin" if record.pinned else "Pin (kept past the limit)", key="experiments.pin"
        ):
            _try(lambda: runs.pin(run_id, not record.pinned))
        if c.button("Delete", key="experiments.delete"):
            runs.delete(run_id)
            st.rerun()
        d1, d2, d3 = st.columns(3)
        d1.download_button(
            "Settings (.json)",
            record.settings_json,  # made when pressed, not at every rerun
            f"{run_id}_settings.json",
            key="experiments.dl_settings",
        )
        d2.download_button(
            "Curves (.csv)",
            record.curves_csv,
            f"{run_id}_curves.csv",
            key="experiments.dl_curves",
        )
        if record.checkpoint is not None:
            d3.download_button(
                "Weights (.pt)", record.checkpoint, f"{run_id}.pt", key="experiments.dl_weights"
            )
        else:
            d3.caption("No weights: this run handed over no model.")
        class_board.publish_button(record)


def _try(change) -> None:
    try:
        change()
    except HistoryError as err:
        st.error(str(err))
        return
    st.rerun()


def save_and_open(history: RunHistory) -> None:
    """The whole history (as `compare` read it) to one file, and back."""
    a, b = st.columns(2)
    if len(history):
        a.download_button(
            f"Save all {len(history)} runs (.zip)",
            history.to_bytes,  # zipped when pressed, not at every rerun
            "cnn_lab_runs.zip",
            key="experiments.save",
        )
    upload = b.file_uploader("Open saved runs (.zip)", type=["zip"], key="experiments.open")
    if upload is not None and st.session_state.get("_experiments.opened") != upload.file_id:
        try:
            opened = RunHistory.from_bytes(upload.getvalue())
        except HistoryError as err:
            b.error(f"{upload.name}: {err}")
            return
        runs.replace_history(opened)
        st.session_state["_experiments.opened"] = upload.file_id
        b.success(f"Opened {len(opened)} runs from {upload.name}; they replace this session's.")
