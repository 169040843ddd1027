"""Prepared experiments on the teaching pages: predict, run a few quick runs, watch, reveal.

A page with an experiment (Imbalance, Regularization, Ensembles, …) calls these in order:

    guess = lab.predict("imbalance", "Which class will plain cross-entropy miss most?", options)
    lab.run_button("imbalance", "Run the four losses", make_runs)   # make_runs() -> PlannedRun list
    lab.watch("imbalance", show_results)                            # live curves, then results

The runs are named jobs (`<page>/<run>`) on the server's executor (`ui.jobs`), so they train in
worker processes, queue fairly with every other session's runs, and stop when the tab closes.
Each ended run joins the session's history (`ui.runs`), labelled by its arm and grouped by its
experiment, so Compare runs shows it too. A page may hold several experiments: give each its
own `page` key ("regularization.bn", "regularization.overfit").
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

from models.errors import CNNLabError
from models.training.executor import JobHandle
from models.training.experiments import PlannedRun
from models.training.jobs import FAILED, QUEUED, RUNNING, TrainingResult
from ui import jobs, runs
from viz.experiments import overlay_figure


def _plan_key(page: str) -> str:
    return f"_lab.{page}"


def _prefix(page: str) -> str:
    return f"lab/{page}/"


def predict(page: str, question: str, options: Sequence[str]) -> str | None:
    """The student's prediction before the run (None until they choose)."""
    return st.radio(question, list(options), index=None, horizontal=True, key=f"{page}.guess")


def run_button(
    page: str,
    label: str,
    make_runs: Callable[[], list[PlannedRun]],
    *,
    disabled: bool = False,
    group: str = "",
) -> bool:
    """A primary button that plans and submits the runs; True on the run it was pressed.

    `make_runs` is called only on the press (planning draws the data). A refusal (a setting out
    of range, a run too big for this server) is shown as a sentence and nothing is submitted.
    """
    if not st.button(label, type="primary", key=f"{page}.run", disabled=disabled):
        return False
    try:
        with st.spinner("Preparing the runs…"):
            planned = make_runs()
        jobs.stop(_prefix(page))
        for run in planned:
            jobs.submit(_prefix(page) + run.request.name, run.request)
    except CNNLabError as err:
        st.error(f"The experiment could not start: {err}")
        return False
    st.session_state[_plan_key(page)] = {
        "group": group or uuid.uuid4().hex[:8],
        "labels": {run.request.name: run.label for run in planned},
        "guess": st.session_state.get(f"{page}.guess"),
    }
    return True


@dataclass(frozen=True)
class LabResults:
    """The runs of one experiment once every one has ended, by arm label in plan order."""

    handles: dict[str, list[JobHandle]]
    guess: str | None

    def finals(self, field: str = "val_acc") -> dict[str, list[float]]:
        """Each arm's last epoch value of `field` (a TrainMetrics field), one per run."""
        out: dict[str, list[float]] = {}
        for label, handles in self.handles.items():
            for job in handles:
                epochs = [m for m in job.snapshot().history if m.kind == "epoch"]
                if epochs:
                    out.setdefault(label, []).append(getattr(epochs[-1], field))
        return out

    def means(self, field: str = "val_acc") -> dict[str, float]:
        """Each arm's mean over its runs of the last epoch's `field`."""
        return {k: statistics.fmean(v) for k, v in self.finals(field).items()}

    def results(self, label: str) -> list[TrainingResult]:
        """The trained models and their validation scores for one arm (runs that made one)."""
        return [r for r in (job.result() for job in self.handles.get(label, [])) if r is not None]

    def histories(self) -> dict[str, list]:
        """Each arm's runs' reports, for `viz.experiments.overlay_figure`."""
        return {
            label: [job.snapshot().history for job in handles]
            for label, handles in self.handles.items()
        }


def _by_label(page: str) -> tuple[dict | None, dict[str, list[JobHandle]]]:
    planned = st.session_state.get(_plan_key(page))
    handles = jobs.my_jobs(_prefix(page))
    if planned is None:
        return None, {}
    grouped: dict[str, list[JobHandle]] = {}
    for name, job in handles.items():
        label = planned["labels"].get(name.removeprefix(_prefix(page)))
        if label is not None:
            grouped.setdefault(label, []).append(job)
    return planned, grouped


def status_line(grouped: dict[str, list[JobHandle]]) -> str:
    """One short status per run: waiting (with its place), its epoch, or how it ended."""
    parts = []
    for handles in grouped.values():
        for job in handles:
            snap = job.snapshot()
            name = job.info.name
            if snap.status == QUEUED:
                place = f" ({snap.place} in the queue)" if snap.place else ""
                parts.append(f"**{name}**: waiting{place}")
            elif snap.status == RUNNING:
                m = snap.latest
                parts.append(f"**{name}**: epoch {m.epoch if m else 0}/{job.config.epochs}")
            else:
                accs = [h.val_acc for h in snap.history if h.kind == "epoch"]
                end = f", {accs[-1]:.0%}" if accs and accs[-1] == accs[-1] else ""
                parts.append(f"**{name}**: {snap.status}{end}")
    return " · ".join(parts)


def watch(
    page: str,
    show_results: Callable[[LabResults], None],
    *,
    metric: str = "accuracy",
    split: str = "validation",
    empty: str = "Make your prediction, then run the experiment.",
) -> None:
    """Live curves of the page's runs (redrawn each second), then `show_results` once all end.

    `metric` and `split` pick the live curve (see `viz.experiments.CURVE_METRICS`, `SPLITS`).
    """
    prefix = _prefix(page)

    def draw(_: dict[str, JobHandle]) -> None:
        planned, grouped = _by_label(page)
        if not grouped:
            st.info(empty)
            return
        st.caption(status_line(grouped))
        for handles in grouped.values():
            for job in handles:
                if job.status == FAILED:
                    st.error(f"{job.info.name}: {job.snapshot().error}")
        live = jobs.running({j.id: j for h in grouped.values() for j in h})
        if live and st.button("Stop the runs", key=f"{page}.stop"):
            jobs.stop(prefix)
        histories = {label: [j.snapshot().history for j in h] for label, h in grouped.items()}
        st.plotly_chart(
            overlay_figure(histories, metric, split, "epochs"), key=f"{page}.live_chart"
        )
        if not live:
            show_results(LabResults(grouped, planned.get("guess")))

    def keep(name: str, job: JobHandle) -> None:
        planned = st.session_state.get(_plan_key(page)) or {}
        label = planned.get("labels", {}).get(name.removeprefix(prefix), "")
        runs.record(job, label, planned.get("group", ""))

    jobs.live_panel(prefix, draw, keep)


def reveal(guess: str | None, answer: str, because: str) -> None:
    """Say whether the prediction matched the measured answer, then why, from the numbers.

    `answer` is one of the prediction's options; `because` is two to four sentences built from
    the measured values (honest when they go against the textbook).
    """
    if guess is None:
        st.info(f"The measurement says **{answer}**. {because}")
        return
    verdict = "right" if guess == answer else "not this time"
    st.success(f"You predicted **{guess}**; the measurement says **{answer}**: {verdict}.")
    st.markdown(because)
