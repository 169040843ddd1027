"""The Augmentation page's panels: the pipeline editor, its samples and code, the experiment.

The pipeline being edited is a list of (widget id, augmentation name, default probability) in
session state; each step's widgets are keyed by its id, so moving a step keeps its settings.
The with/without experiment runs as two named jobs in `ui.jobs`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from models.data import augment as aug
from models.errors import CNNLabError
from models.training.augment_experiment import (
    MIXES,
    ExperimentConfig,
    experiment_requests,
    mix_batch,
)
from models.training.engine import TrainMetrics
from models.training.executor import JobHandle
from ui import jobs, results, runs, state
from ui.params import param_widgets
from viz import augmentation as aviz

PAGE = "augmentation"
STEPS = "_augmentation.steps"  # [(widget id, augmentation name, default probability)]
PIPELINE = state.PIPELINE  # the PipelineSpec the Train page may train with
JOBS = "augmentation/"  # the experiment's jobs in `ui.jobs` are named with this prefix
GROUP = "_augmentation.group"  # the experiment's group in the run history
THUMB = 160  # px: how wide the original and each sample are shown


def init() -> None:
    """The default pipeline's steps and the sample seed, on the page's first run."""
    steps = [(f"s{i}", s.name, s.p) for i, s in enumerate(aug.DEFAULT_PIPELINE.steps)]
    st.session_state.setdefault(STEPS, steps)
    st.session_state.setdefault("augmentation.seed", 0)


def _move(i: int, by: int) -> None:
    steps = st.session_state[STEPS]
    steps[i], steps[i + by] = steps[i + by], steps[i]


def _add_step() -> None:
    steps = st.session_state[STEPS]
    uid = f"s{1 + max((int(u[1:]) for u, _, _ in steps), default=0)}"
    steps.append((uid, st.session_state["augmentation.add"], 0.5))


def new_draw() -> None:
    st.session_state["augmentation.seed"] += 1


def _step_editor(i: int, uid: str, name: str, p: float) -> aug.StepSpec:
    """One step's switch, probability, parameters and order buttons."""
    key, about = f"augmentation.{uid}", aug.AUGMENTATIONS[name].about
    steps = st.session_state[STEPS]
    with st.container(border=True):
        top = st.columns([4, 1, 1, 1], vertical_alignment="center")
        on = top[0].toggle(f"{i + 1}. {name}", True, key=f"{key}.on", help=about)
        top[1].button("↑", key=f"{key}.up", on_click=_move, args=(i, -1), disabled=i == 0)
        last = i == len(steps) - 1
        top[2].button("↓", key=f"{key}.down", on_click=_move, args=(i, 1), disabled=last)
        top[3].button("✕", key=f"{key}.remove", on_click=steps.pop, args=(i,))
        prob = st.slider("Probability", 0.0, 1.0, p, 0.05, key=f"{key}.p", disabled=not on)
        values = param_widgets(aug.AUGMENTATIONS[name].params, key, not on)
    return aug.StepSpec(name, tuple(values.items()), prob, on)


def pipeline_editor() -> aug.PipelineSpec:
    """The steps, top to bottom, and a menu to add one: the pipeline as a spec."""
    st.markdown("**Pipeline** (runs top to bottom)")
    steps = st.session_state[STEPS]
    spec = aug.PipelineSpec(tuple(_step_editor(i, *s) for i, s in enumerate(steps)))
    st.selectbox("Step to add", list(aug.AUGMENTATIONS), key="augmentation.add")
    st.button("Add the step", key="augmentation.add_step", on_click=_add_step)
    return spec


def samples(spec: aug.PipelineSpec) -> None:
    """The session's image and `n` samples the pipeline drew from it, with what each drew."""
    a, b, c = st.columns(3, vertical_alignment="bottom")
    n = a.slider("Samples", 4, 16, 16, 4, key="augmentation.n")
    seed = b.number_input("Seed", 0, 2**31 - 1, key="augmentation.seed")
    c.button("New draw", key="augmentation.new_draw", on_click=new_draw, type="primary")
    image = state.current_image()
    try:
        view = sample_view(image, spec, n, int(seed))
    except aug.AugmentError as err:
        st.error(str(err))
        return
    st.image(view.original, caption="original", width=THUMB, alt="Your image before augmentation")
    st.image(
        list(view.images),
        caption=[f"sample {i}" for i in range(n)],
        width=THUMB,
        alt=[f"Augmented sample {i} of your image" for i in range(n)],
    )
    with st.expander("What each sample drew"):
        st.dataframe(view.table, hide_index=True, key="augmentation.notes")


@dataclass(frozen=True)
class SampleView:
    """The samples a pipeline drew, ready to show: the draws and their pictures as JPEG."""

    grid: aug.GridSample
    original: bytes  # the image, THUMB px wide
    images: tuple[bytes, ...]  # each sample, THUMB px wide
    table: dict[str, list]  # per sample and step, what it drew


def _sample_view(image: Image.Image, spec: aug.PipelineSpec, n: int, seed: int) -> SampleView:
    grid = aug.sample_grid(image, spec, n, seed)
    table = {
        "sample": [i for i, lines in enumerate(grid.notes) for _ in lines],
        "step: what it drew": [x for lines in grid.notes for x in lines],
    }
    return SampleView(
        grid,
        aviz.thumbnail_jpeg(grid.original, THUMB),
        tuple(aviz.thumbnail_jpeg(im, THUMB) for im in grid.images),
        table,
    )


def sample_view(image: Image.Image, spec: aug.PipelineSpec, n: int, seed: int) -> SampleView:
    """`n` samples of the pipeline from the image: drawn and encoded once per pipeline, count,
    seed and image for the whole class (seeded, no model), so a new session only shows them."""
    return results.memo(
        PAGE, "samples", (spec, n, seed, image), lambda: _sample_view(image, spec, n, seed)
    )


def code_and_use(spec: aug.PipelineSpec) -> None:
    """The pipeline as Python, and a button that hands it to the Train page."""
    size = state.current_spec().input_shape[1:]
    try:
        code = aug.pipeline_code(spec, size)
        aug.build_pipeline(spec, size)  # the same checks the training run will make
    except aug.AugmentError as err:
        st.error(str(err))
        return
    st.markdown(f"**As Python** (crops sized for your network's {size[0]}×{size[1]} input)")
    st.code(code, language="python")
    if st.button("Use in training", key="augmentation.use"):
        state.set_pipeline(spec)
        st.success("Saved: tick “Augment with the Augmentation page's pipeline” on Train.")


def mixing() -> None:
    """MixUp or CutMix on a batch of shapes, with the soft targets the loss sees."""
    a, b, c = st.columns(3)
    kind = a.radio("Method", list(MIXES), horizontal=True, key="augmentation.mix")
    alpha = b.slider(
        "α of the Beta(α, α) mixing share", 0.1, 4.0, 1.0, 0.1, key="augmentation.alpha"
    )
    seed = c.number_input("Seed", 0, 10_000, 0, key="augmentation.mix_seed")
    figure, targets = mix_view(kind, alpha, int(seed))
    st.plotly_chart(figure, key="augmentation.mix_chart")
    st.caption(f"{kind} targets the loss is given, per mixed image: {targets}.")


def _mix_view(kind: str, alpha: float, seed: int) -> tuple[go.Figure, str]:
    batch = mix_batch(kind, alpha, 8, seed)
    targets = "; ".join(f"{i}: {batch.label(i)}" for i in range(len(batch.mixed)))
    return aviz.mix_figure(batch), targets


def mix_view(kind: str, alpha: float, seed: int) -> tuple[go.Figure, str]:
    """The mixed batch's figure and targets, once per method, α and seed for the whole class."""
    return results.memo(PAGE, "mix", (kind, alpha, seed), lambda: _mix_view(kind, alpha, seed))


def experiment(spec: aug.PipelineSpec) -> None:
    """Train the small network without and with the pipeline, side by side, live."""
    a, b = st.columns(2)
    n_images = a.slider("Shapes (70 % train)", 100, 1000, 300, 50, key="augmentation.exp_n")
    epochs = b.slider("Epochs", 1, 30, 12, key="augmentation.exp_epochs")
    if st.button("Train both", key="augmentation.train", type="primary"):
        try:
            planned = experiment_requests(spec, ExperimentConfig(n_images, epochs))
            jobs.stop(JOBS)
            for name, request in planned.items():
                jobs.submit(JOBS + name, request)
            st.session_state[GROUP] = "augmentation " + uuid.uuid4().hex[:6]
        except CNNLabError as err:  # AugmentError, DataError, SpecError, executor settings
            st.error(f"The experiment could not start: {err}")
    jobs.warm()
    jobs.live_panel(JOBS, _draw_experiment, _keep_run)


def _keep_run(name: str, job: JobHandle) -> None:
    """Each of the experiment's runs joins the session's run history, for Compare runs."""
    runs.record(job, name.removeprefix(JOBS), st.session_state.get(GROUP, ""))


def _draw_experiment(runs: dict[str, JobHandle]) -> None:
    snaps = {name.removeprefix(JOBS): job.snapshot() for name, job in runs.items()}
    for name, snap in snaps.items():
        m = snap.latest
        st.caption(f"**{name}**: {snap.status}" + (f", epoch {m.epoch}" if m else ""))
        if snap.status == "queued":
            st.caption(jobs.waiting_text(snap))
        if snap.error:
            st.error(snap.error)
        elif snap.diverged:
            st.warning(snap.note)
    if snaps:
        curves = {name: snap.history for name, snap in snaps.items()}
        st.plotly_chart(aviz.experiment_figure(curves), key="augmentation.experiment_chart")
        st.caption(experiment_caption(curves))


def experiment_caption(curves: dict[str, Sequence[TrainMetrics]]) -> str:
    """The experiment figure's numbers: each run's last epoch, training against validation."""
    parts = []
    for name, history in curves.items():
        epochs = [h for h in history if h.kind == "epoch"]
        if epochs:
            m = epochs[-1]
            parts.append(
                f"{name} after epoch {m.epoch}: training accuracy {m.train_acc:.1%}, validation "
                f"{m.val_acc:.1%} (loss {m.train_loss:.3f} and {m.val_loss:.3f})"
            )
    return "; ".join(parts) + "." if parts else "The curves appear after each run's first epoch."
