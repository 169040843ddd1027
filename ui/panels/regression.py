"""The Regression page's pieces: settings, the angle wrap-around, the runs (submitted, watched
live with a predicted-vs-true scatter), and the measured results with downloads."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from models.data.regression_targets import (
    TARGET_NAMES,
    TargetStyle,
    draw_target_shape,
    make_target_shapes,
)
from models.errors import CNNLabError
from models.training import regression as reg
from models.training.executor import JobHandle
from models.training.jobs import ENDED, FAILED
from ui import jobs, lab, results, runs
from viz import regression as rviz

PAGE = "regression"
JOBS = "regression/"  # the page's jobs in `ui.jobs`
PLAN = "_regression.plan"
LOSS_NAMES = {"mse": "MSE (squared error)", "huber": "Huber (δ = 1)"}
TARGET_HELP = {
    "size": "the arrow's radius in pixels",
    "angle": "where the arrow points, in degrees counter-clockwise from right",
    "position": "the arrow's centre (x, y) in pixels",
}


@dataclass(frozen=True)
class Plan:
    """What the runs on screen were trained with, to decode and measure their answers."""

    setup: reg.RegressionSetup
    split: reg.RegressionSplit
    arms: dict[str, reg.Arm]  # job name -> arm


def setup_controls() -> reg.RegressionSetup | None:
    """Target, loss, count, epochs and seed; None (with the reason shown) when refused."""
    a, b, c, d, e = st.columns([2, 2, 1, 1, 1])
    target = a.radio("Predict", TARGET_NAMES, horizontal=True, key="regression.target")
    a.caption(TARGET_HELP[target])
    loss = b.radio(
        "Regression loss", list(LOSS_NAMES), format_func=LOSS_NAMES.get, horizontal=True,
        key="regression.loss",
    )  # fmt: skip
    images = c.number_input(
        "Shapes (500 to 8,000)", value=reg.RegressionSetup.images, step=100,
        key="regression.images",
    )  # fmt: skip
    epochs = d.slider("Epochs", 1, 30, reg.RegressionSetup.config.epochs, key="regression.epochs")
    seed = e.number_input("Seed", 0, 9_999, 0, key="regression.seed")
    try:
        config = replace(reg.RegressionSetup.config, epochs=int(epochs))
        return reg.RegressionSetup(target, loss, int(images), config=config, seed=int(seed))
    except CNNLabError as err:
        st.error(str(err))
        return None


EXAMPLES = 6  # shapes shown before training, each titled with its true value


def example_title(shapes, i: int, target: str) -> str:
    """The true value of shape `i` for `target`, as the page words it."""
    if target == "size":
        return f"radius {shapes.size[i]:.1f} px"
    if target == "angle":
        return f"heading {shapes.angle[i]:.0f}°"
    x, y = shapes.position[i]
    return f"centre ({x:.0f}, {y:.0f})"


def examples_figure(setup: reg.RegressionSetup) -> go.Figure:
    """The example shapes of a target and seed, titled with their true values: drawn once for
    the whole class (every student opens the page on the same default)."""
    target, seed, style = setup.target, setup.seed, setup.style()  # all the figure depends on

    def compute() -> go.Figure:
        shapes = make_target_shapes(10, seed + 1, style)  # the fewest it draws
        titles = [example_title(shapes, i, target) for i in range(EXAMPLES)]
        images = [shapes.x[i].numpy() for i in range(EXAMPLES)]
        return rviz.wraparound_figure(images, titles)

    return results.memo(PAGE, "examples", (target, seed, style), compute)


def examples(setup: reg.RegressionSetup) -> None:
    """A few of the generated shapes with the number the network must learn for each."""
    figure = examples_figure(setup)
    st.plotly_chart(figure, key="regression.examples")
    st.caption(
        f"Six arrows like the ones the heads train on, each with its true {setup.target}: the "
        "network sees only the pixels and must answer with that number."
    )


def _wraparound_figure() -> go.Figure:
    rng = np.random.default_rng(0)
    style = TargetStyle(size=64)
    images, titles = [], []
    for angle in (359.0, 1.0, 180.0):
        images.append(draw_target_shape(style, 24.0, angle, (32.0, 32.0), rng))
        rad = np.radians(angle)
        titles.append(f"{angle:g}°: (sin, cos) = ({np.sin(rad):.2f}, {np.cos(rad):.2f})")
    return rviz.wraparound_figure(images, titles)


def wraparound() -> None:
    """Two arrows 2° apart across 0°: their raw targets 358° apart, their (sin, cos) close."""
    figure = results.memo(PAGE, "wrap", (), _wraparound_figure)  # the same for everyone
    st.plotly_chart(figure, key="regression.wrap")
    st.caption(
        "359° and 1° are the same picture turned by 2°, yet as numbers they lie 358 apart: a "
        "head that outputs degrees is punished for answering 359 to a 1° arrow as if it were "
        "half a turn off, and is pulled towards 180° when unsure. As (sin, cos) they are "
        "0.03 apart, and 180° is as far as it gets (distance 2)."
    )


def run_button(setup: reg.RegressionSetup) -> None:
    """Plan and submit every arm on the press; a refusal is said in words."""
    arms = setup.heads()
    if not st.button(
        f"Train the {len(arms)} heads (under a minute each)", type="primary", key="regression.run"
    ):
        return
    try:
        with st.spinner("Drawing the shapes…"):
            split = reg.prepare_split(setup)
            planned = reg.plan_regression_runs(setup, split)
        jobs.stop(JOBS)
        for run in planned:
            jobs.submit(JOBS + run.label, run.request)
    except CNNLabError as err:
        st.error(f"The runs could not start: {err}")
        return
    st.session_state[PLAN] = Plan(setup, split, {JOBS + r.label: r.value for r in planned})


def keep(name: str, job: JobHandle) -> None:
    """An ended run joins the session's run history (Compare runs)."""
    runs.record(job, name.removeprefix(JOBS), "regression")


def draw(handles: dict[str, JobHandle], guess: str | None) -> None:
    """Each run's progress, Stop, the live scatter of the regression heads; results at the end."""
    plan: Plan | None = st.session_state.get(PLAN)
    if plan is None or not handles:
        st.info("Make your prediction, then train the heads.")
        return
    st.caption(" · ".join(_status(job) for job in handles.values()))
    for job in handles.values():
        if job.status == FAILED:
            st.error(f"{job.name}: {job.snapshot().error}")
    live = jobs.running(handles)
    if live and st.button("Stop the runs", key="regression.stop"):
        jobs.stop(JOBS)
    if live:
        _live_scatter(plan, handles)
    else:
        show_results(plan, handles, guess)


def _status(job: JobHandle) -> str:
    snap = job.snapshot()
    m = snap.latest
    if snap.status in ENDED or m is None:
        return f"**{job.name}**: {snap.status}"
    return f"**{job.name}**: epoch {m.epoch}/{job.config.epochs}, validation loss {m.val_loss:.3f}"


def _live_scatter(plan: Plan, handles: dict[str, JobHandle]) -> None:
    pairs = {}
    for name, job in handles.items():
        arm = plan.arms.get(name)
        epochs = [m for m in job.snapshot().history if m.kind == "epoch"]
        if arm is None or not epochs or epochs[-1].preview is None:
            continue
        shown = reg.preview_values(arm, epochs[-1].preview)
        pairs[f"{arm.label} (epoch {epochs[-1].epoch})"] = (
            plan.split.truth(arm.target)[: len(shown)],
            shown,
        )
    if pairs:
        arm = next(iter(plan.arms.values()))
        fig = rviz.scatter_figure(pairs, reg.UNITS[arm.target], arm.low, arm.high)
        st.plotly_chart(fig, key="regression.live")
        st.caption("Live: the regression heads' answers on the first 256 validation shapes.")


def _measured(plan: Plan, handles: dict[str, JobHandle]) -> list[reg.ArmResult]:
    def compute() -> list[reg.ArmResult]:
        out = []
        for name, arm in plan.arms.items():
            outcome = handles[name].outcome() if name in handles else None
            if outcome is not None and outcome.model is not None:
                out.append(reg.measure(arm, outcome.model, plan.split))
        return out

    return results.remembered(PAGE, "measured", _ids(handles), compute)


def _ids(handles: dict[str, JobHandle]) -> tuple[str, ...]:
    return tuple(sorted(job.id for job in handles.values()))


@dataclass(frozen=True)
class ResultsView:
    """What the ended runs show: three figures, the predictions' CSV, each model's bytes."""

    summary: go.Figure
    scatter: go.Figure
    errors: go.Figure
    csv: str
    models: dict[str, bytes]  # job name -> checkpoint


def _view(plan: Plan, handles: dict[str, JobHandle], measured: list[reg.ArmResult]) -> ResultsView:
    """Made once per set of runs in this session (the models are the session's own), not at
    every rerun: figures, CSV and checkpoints."""

    def compute() -> ResultsView:
        unit = reg.UNITS[plan.setup.target]
        mae = {r.arm.label: r.mean_abs_error for r in measured}
        arm = measured[0].arm
        pairs = {r.arm.label: (r.true, r.predicted) for r in measured}
        return ResultsView(
            rviz.summary_figure(mae, unit),
            rviz.scatter_figure(pairs, unit, arm.low, arm.high),
            rviz.error_figure({r.arm.label: r.errors for r in measured}, unit),
            reg.results_csv(measured),
            {
                name: reg.model_bytes(arm, handles[name].outcome().model, plan.split)
                for name, arm in plan.arms.items()
            },
        )

    return results.remembered(PAGE, "view", _ids(handles), compute)


def show_results(plan: Plan, handles: dict[str, JobHandle], guess: str | None) -> None:
    """Mean errors, the verdict, predicted against true, the error spread, downloads."""
    measured = _measured(plan, handles)
    if len(measured) < len(plan.arms):
        st.warning("A run ended without a trained model (stopped or failed): train again.")
        return
    view = _view(plan, handles, measured)
    unit = reg.UNITS[plan.setup.target]
    mae = {r.arm.label: r.mean_abs_error for r in measured}
    best = min(mae, key=mae.get)
    lab.reveal(guess, best, explain(plan, measured))
    st.plotly_chart(view.summary, key="regression.summary")
    left, right = st.columns(2)
    left.plotly_chart(view.scatter, key="regression.scatter")
    left.caption(
        f"Every validation shape ({len(measured[0].true)}); the dashed line is a perfect answer. "
        + " · ".join(f"{label}: {v:.2f} {unit} off on average" for label, v in mae.items())
    )
    right.plotly_chart(view.errors, key="regression.errors")
    right.caption(" · ".join(f"{r.arm.label}: RMS {r.rms_error:.2f} {unit}" for r in measured))
    _downloads(plan, view)


def explain(plan: Plan, measured: list[reg.ArmResult]) -> str:
    """Two to four sentences from the measured errors."""
    by = {r.arm.head: r for r in measured}
    unit = reg.UNITS[plan.setup.target]
    value, bins = by["value"], by["bins"]
    width = (bins.arm.high - bins.arm.low) / bins.arm.bins
    # A point drawn evenly in a bin lies a quarter of its width from the centre on average;
    # in a square cell of a grid, 0.383 of the side (the mean distance to the centre).
    floor = width * (0.383 if plan.setup.target == "position" else 0.25)
    text = (
        f"One linear output missed by {value.mean_abs_error:.2f} {unit} on average, "
        f"{bins.arm.bins} bins by {bins.mean_abs_error:.2f} {unit}. A bin answers with its "
        f"centre, so even a perfect classifier is off by {floor:.2f} {unit} on average "
        f"(bins {width:.2f} {unit} wide); a linear unit can say any number. "
    )
    if "sin-cos" in by:
        near, rest = reg.wrap_errors(value)
        text += (
            f"The (sin, cos) head missed by {by['sin-cos'].mean_abs_error:.1f}°. The degrees "
            f"head's mean error is {near:.1f}° for arrows within 20° of 0° and {rest:.1f}° "
            "for the rest: near the wrap its targets jump from 359 to 0."
        )
    elif bins.mean_abs_error < value.mean_abs_error:
        text += (
            "Here the bins won anyway, coarse answers and all: in this short run the regression "
            "head had not yet learned the number that well. Try more epochs or more shapes."
        )
    return text


def _downloads(plan: Plan, view: ResultsView) -> None:
    cols = st.columns(len(view.models) + 1)
    cols[0].download_button(
        "Predictions (CSV)", view.csv, "regression_predictions.csv",
        key="regression.download_csv",
    )  # fmt: skip
    for column, (name, arm) in zip(cols[1:], plan.arms.items()):
        column.download_button(
            f"Model: {arm.label} (.pt)",
            view.models[name],
            f"regression_{plan.setup.target}_{arm.head}.pt",
            key=f"regression.download_{arm.head}",
        )
