"""The Segmentation page's pieces: the setup controls, the U-Net drawing, the live run with its
masks, and the results of the runs with and without skip connections.

A run is the named job `segmentation/run` in `ui.jobs`. When it ends, its trained U-Net is
measured on the validation images once and kept in the session by its skip setting
(`_segmentation.done`), so the page can set a run with skips beside one without.

The scenes and the U-Net drawing are seeded functions of the settings: made once for the whole
class (`results.memo`). Trained runs are the session's own.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import plotly.graph_objects as go
import streamlit as st

from models.data.masks import LABELS, MaskDataError
from models.errors import CNNLabError
from models.network.unet import UNetSpecError, build_unet, count_parameters, unet_stages
from models.training import segmentation as seg
from models.training.engine import PREVIEW_MASKS
from models.training.executor import JobHandle
from models.training.jobs import FAILED, QUEUED, RUNNING
from ui import jobs, lab
from ui.results import memo
from viz import segmentation as viz

PAGE = "segmentation"
JOBS = "segmentation/"
JOB = JOBS + "run"
SETUPS = "_segmentation.setups"  # job id -> the SegmentationSetup it trains
DONE = "_segmentation.done"  # skips (bool) -> the measured run with that setting
LIVE = "_segmentation.live"  # (job id, LiveCurves) of the run on screen
DEFAULT = seg.SegmentationSetup()


def setup_controls() -> seg.SegmentationSetup | None:
    """The run's settings; None (with the reason shown) when they cannot be used."""
    skips = st.toggle("Skip connections", True, key="segmentation.skips")
    with st.expander("Data and training settings"):
        a, b, c = st.columns(3)
        images = a.number_input(
            "Scenes (200 to 5,000)", 200, 5000, DEFAULT.images, 100, key="segmentation.images"
        )
        noise = a.slider("Background noise (std)", 0.0, 0.3, 0.0, 0.05, key="segmentation.noise")
        labels = b.radio(
            "Mask classes",
            LABELS,
            key="segmentation.labels",
            format_func=lambda v: {
                "binary": "shape or background",
                "shape": "one class per shape kind",
            }[v],
        )
        depth = b.slider(
            "U-Net depth (pooling steps)", 1, 3, DEFAULT.depth, key="segmentation.depth"
        )
        epochs = c.number_input(
            "Epochs (1 to 30)", 1, 30, DEFAULT.epochs, key="segmentation.epochs"
        )
        width = c.select_slider(
            "First-level channels", [4, 8, 16], DEFAULT.width, key="segmentation.width"
        )
    try:
        setup = replace(
            DEFAULT,
            images=int(images),
            noise=float(noise),
            labels=labels,
            depth=int(depth),
            epochs=int(epochs),
            width=int(width),
            skips=skips,
        )
        setup.spec(2).check_size(setup.size)
    except CNNLabError as err:
        st.error(str(err))
        return None
    st.caption(f"The run: {setup.describe()}.")
    return setup


def _tasks(scene) -> tuple[seg.ThreeTasks, go.Figure]:
    """(what each task is taught on the scene, the three drawn)."""
    tasks = seg.three_tasks(scene)
    return tasks, viz.three_tasks_figure(scene.image, tasks)


def _network(setup: seg.SegmentationSetup, classes: int) -> tuple[list, go.Figure, int]:
    """(the U-Net's stages, their drawing, its number of weights)."""
    spec = setup.spec(classes)
    stages = unet_stages(spec, setup.size)
    return stages, viz.unet_figure(stages), count_parameters(build_unet(spec, setup.seed))


def three_tasks(setup: seg.SegmentationSetup) -> None:
    """One scene as a classifier, a detector and a segmenter are each taught it."""
    scenes = memo(PAGE, "scenes", setup, lambda: seg.sample_scenes(setup))
    pick = st.slider("Scene", 0, len(scenes) - 1, 0, key="segmentation.scene")
    scene = scenes[pick]
    tasks, figure = memo(PAGE, "tasks", (setup, pick), lambda: _tasks(scene))
    st.plotly_chart(figure, key="segmentation.tasks")
    boxes = "; ".join(f"{k} at x {b[0]}–{b[2]}, y {b[1]}–{b[3]}" for k, b in tasks.boxes)
    st.caption(
        f"Classification names one thing, the largest visible shape (**{tasks.label}**). "
        f"Detection finds each shape's box ({boxes}), here the extent of its visible pixels. "
        f"Segmentation labels all {scene.instances.size:,} pixels: "
        f"{int((scene.instances > 0).sum()):,} belong to a shape."
    )


def network(setup: seg.SegmentationSetup, classes: int) -> None:
    """The U-Net of this setup, drawn with each stage's output shape."""
    spec = setup.spec(classes)
    stages, figure, params = memo(PAGE, "unet", (setup, classes), lambda: _network(setup, classes))
    st.plotly_chart(figure, key="segmentation.unet")
    bottom = next(s for s in stages if s.part == "bottleneck")
    skips = "orange arrows: the skip connections" if spec.skips else "no skip connections"
    st.caption(
        f"{params:,} weights. The encoder halves the map {spec.depth} times, down to "
        f"{bottom.channels}×{bottom.side}×{bottom.side}; transposed convolutions double it back "
        f"to {setup.size}×{setup.size}, and a 1×1 convolution scores {classes} classes per "
        f"pixel ({skips})."
    )


def start(setup: seg.SegmentationSetup) -> None:
    """Submit a run of `setup`, replacing the session's previous one."""
    try:
        with st.spinner("Drawing the scenes…"):
            request = seg.segmentation_request(
                setup, "U-Net" + ("" if setup.skips else " (no skips)")
            )
        handle = jobs.submit(JOB, request)
    except (CNNLabError, UNetSpecError, MaskDataError) as err:
        st.error(f"The run could not start: {err}")
        return
    st.session_state.setdefault(SETUPS, {})[handle.id] = setup


def _curves(job: JobHandle):
    held = st.session_state.get(LIVE)
    if held is None or held[0] != job.id:
        held = st.session_state[LIVE] = (job.id, viz.live_curves())
    return held[1]


def draw(runs: dict[str, JobHandle]) -> None:
    """Progress, Stop, live loss and IoU curves and the latest predicted masks."""
    job = runs.get(JOB)
    setup = st.session_state.get(SETUPS, {}).get(job.id) if job is not None else None
    if job is None or setup is None:
        st.info("Make your prediction, then press **Train the U-Net**: masks appear as it learns.")
        return
    snap = job.snapshot()
    m = snap.latest
    share = m.step / max(m.total_steps, 1) if m else 0.0
    text = (
        f"epoch {m.epoch} of {job.config.epochs}, step {m.step:,}"
        if m
        else (jobs.waiting_text(snap) or "Starting…")
    )
    st.progress(min(share, 1.0), text=f"**{snap.status.capitalize()}** · {text}")
    if snap.status in (QUEUED, RUNNING) and st.button("Stop training", key="segmentation.stop"):
        job.stop()
    if snap.status == FAILED:
        st.error(snap.error)
    elif snap.note:
        st.info(snap.note)
    st.plotly_chart(_curves(job).update(snap.history), key="segmentation.curves")
    epochs = [h for h in snap.history if h.kind == "epoch" and h.preview is not None]
    if epochs:
        _preview(setup, epochs[-1])


def _preview(setup: seg.SegmentationSetup, report) -> None:
    images, truth = seg.validation_preview(setup, PREVIEW_MASKS)
    predicted = report.preview.numpy()
    st.plotly_chart(viz.masks_figure(images, truth, predicted), key="segmentation.preview")
    st.caption(
        f"Predicted masks after epoch {report.epoch} (orange: shape, bottom row) under the true "
        f"ones (middle row): validation IoU {report.val_acc:.3f}."
    )


def finish(name: str, job: JobHandle) -> None:
    """When a run ends with a model: measure it once and keep it by its skip setting."""
    outcome, setup = job.outcome(), st.session_state.get(SETUPS, {}).get(job.id)
    if outcome is None or outcome.model is None or setup is None:
        return
    data = seg.split(seg.scenes(setup), setup.val_fraction, setup.seed)
    result = seg.measure(outcome.model, data)
    history = [h for h in job.snapshot().history if h.kind == "epoch"]
    st.session_state.setdefault(DONE, {})[setup.skips] = (setup, outcome.model, result, history)


def results(guess: str | None) -> None:
    """The last measured run, its downloads, and the comparison once both settings ran."""
    done = st.session_state.get(DONE, {})
    if not done:
        return
    for skips, (setup, model, result, history) in sorted(done.items(), reverse=True):
        label = "with skips" if skips else "without skips"
        st.markdown(
            f"**U-Net {label}**: mean IoU {result.mean_iou:.3f} on "
            f"{len(result.iou):,} validation images, edge pixels right "
            f"{result.boundary_accuracy:.1%}"
        )
        downloads(setup, model, result, history, "on" if skips else "off")
    both = done.get(True), done.get(False)
    if None in both:
        st.info("Flip **Skip connections** and train again to compare the two.")
        return
    compare(both[0], both[1], guess)


def downloads(setup, model, result, history, tag: str) -> None:
    """The run's IoU per image (CSV), its masks (PNG), its weights (.pt) and its record (JSON)."""
    a, b, c, d = st.columns(4)
    a.download_button(
        "IoU per image (CSV)",
        seg.iou_csv(result),
        f"iou_skips_{tag}.csv",
        key=f"segmentation.csv.{tag}",
    )
    classes = 2 if setup.labels == "binary" else 11
    b.download_button(  # the PNG and the weights are written on the click, not at every run
        "Masks (PNG)",
        lambda: seg.masks_png(result.predictions[:16], classes),
        f"masks_skips_{tag}.png",
        "image/png",
        key=f"segmentation.png.{tag}",
    )
    c.download_button(
        "Weights (.pt)",
        lambda: seg.state_dict_bytes(model),
        f"unet_skips_{tag}.pt",
        "application/octet-stream",
        key=f"segmentation.pt.{tag}",
    )
    record = {
        "setup": asdict(setup),
        "mean_iou": result.mean_iou,
        "edge_accuracy": result.boundary_accuracy,
        "epochs": [{"epoch": h.epoch, "val_iou": h.val_acc} for h in history],
    }
    d.download_button(
        "Run (JSON)",
        json.dumps(record, indent=2),
        f"run_skips_{tag}.json",
        key=f"segmentation.json.{tag}",
    )


def compare(with_skips, without, guess: str | None) -> None:
    """Both runs side by side, then the answer to the prediction from the measured numbers."""
    (_, _, a, _), (_, _, b, _) = with_skips, without
    rows = {
        "with skips": {"mean IoU": a.mean_iou, "edge pixels right": a.boundary_accuracy},
        "without skips": {"mean IoU": b.mean_iou, "edge pixels right": b.boundary_accuracy},
    }
    st.plotly_chart(viz.comparison_figure(rows), key="segmentation.compare")
    st.caption(
        f"Mean IoU {a.mean_iou:.3f} with skips against {b.mean_iou:.3f} without; pixels on the "
        f"masks' edges right {a.boundary_accuracy:.1%} against {b.boundary_accuracy:.1%}."
    )
    answer = "with skips" if a.mean_iou >= b.mean_iou else "without skips"
    lab.reveal(guess, answer, _explanation(a, b))


def _explanation(a: seg.SegmentationResult, b: seg.SegmentationResult) -> str:
    """Two to four sentences on the measured difference, honest when it is small or reversed."""
    gap, edge_gap = a.mean_iou - b.mean_iou, a.boundary_accuracy - b.boundary_accuracy
    where = (
        f"Most of the gap sits on the edges: {edge_gap:+.1%} of edge pixels against "
        f"{a.pixel_accuracy - b.pixel_accuracy:+.1%} of all pixels."
    )
    if gap > 0.02:
        return (
            f"The skips raised the mean IoU by {gap:.3f}. Without them every detail has to pass "
            "through the small bottleneck map and be guessed back by the transposed "
            f"convolutions, so boundaries come out blurred. {where}"
        )
    return (
        f"The two differ by only {gap:+.3f} IoU here. On small images with a shallow U-Net the "
        "bottleneck keeps most of the detail, so the skips matter less than the textbook "
        f"picture suggests; try depth 3 or more epochs. {where}"
    )
