"""Streamlit glue for the Train page: the session's job, the server-wide cap and live panels.

The job lives in a session-scoped `st.cache_resource`, so closing the tab releases it and its
`on_release` stops the thread. A global `st.cache_resource` holds the semaphore that caps how
many trainings run at once on the server. The live panel is a fragment that reruns itself every
half second while the job runs and reruns the whole page once when it ends (DESIGN.md).
Uploads are parsed once, keyed by the upload's id, and reused on every rerun.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

import streamlit as st

from models.bundle import ModelBundle
from models.data.datasets import ImageData, digits, shapes
from models.data.downloads import TORCHVISION_SETS, load_torchvision
from models.data.zipdata import load_zip
from models.device import available_devices
from models.errors import CNNLabError
from models.network.presets import PRESETS
from models.network.spec import NetworkSpec
from models.training.checkpoint import SHIPPED, CheckpointError, from_bytes
from models.training.engine import LOSSES, OPTIMIZERS, RANDOM_FLIPS, SCHEDULES, TrainConfig
from models.training.jobs import ENDED, JobSnapshot, TrainingJob
from ui import state
from ui.model_picker import shipped_model  # shared read-only: training copies it

DATA_SOURCES = ("Shapes (built in)", "Digits (built in)", *TORCHVISION_SETS, "Your zip of folders")
MODEL_SOURCES = (
    "Your current network",
    "A preset",
    "A shipped trained model",
    "Upload a checkpoint",
)
LR_CHOICES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
POLL_S = 0.5
CHECKPOINT_CACHE = "_train_ckpt"  # ((file_id, fallback spec), bundle or None, error or None)
ZIP_CACHE = "_train_zip"  # (file_id, (data, skipped) or None, error or None)
T = TypeVar("T")


class _JobBox:
    """The session's current job; a box so a new job can replace the old one in place."""

    def __init__(self) -> None:
        self.job: TrainingJob | None = None

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()


@st.cache_resource(show_spinner=False)
def training_slots() -> threading.BoundedSemaphore:
    """Server-wide cap on trainings at once ($CNNLAB_MAX_TRAININGS, default 2)."""
    return threading.BoundedSemaphore(max(1, int(os.environ.get("CNNLAB_MAX_TRAININGS", "2"))))


@st.cache_resource(scope="session", on_release=lambda box: box.stop(), show_spinner=False)
def _job_box() -> _JobBox:
    return _JobBox()


def current_job() -> TrainingJob | None:
    return _job_box().job


def run_job(job: TrainingJob) -> None:
    """Stop the session's previous job, keep this one and start it."""
    box = _job_box()
    box.stop()
    box.job = job.start()


def live_panel(draw: Callable[[JobSnapshot], None], on_end: Callable[[TrainingJob], None]) -> None:
    """Draw the job's snapshot now and every POLL_S seconds while it runs."""
    job = current_job()
    running = job is not None and job.status not in ENDED

    @st.fragment(run_every=POLL_S if running else None)
    def panel() -> None:
        if job is None:
            return
        snap = job.snapshot()
        draw(snap)
        seen = st.session_state.setdefault("_train_ended", set())
        if snap.status in ENDED and id(job) not in seen:
            seen.add(id(job))
            on_end(job)
            if running:  # started while this run was live: redraw the page around the result
                st.rerun()

    panel()


def data_controls() -> ImageData | None:
    """Pick a data set; None (with a message shown) when it cannot be loaded."""
    source = st.selectbox("Data set", DATA_SOURCES, key="train.data_source")
    try:
        if source.startswith("Shapes"):
            c1, c2, c3, c4 = st.columns(4)
            n = c1.number_input(
                "Images",
                200,
                20_000,
                4000,
                200,
                key="train.shapes_n",
                help="how many to draw (200 to 20,000)",
            )
            noise = c2.slider("Background noise (std)", 0.0, 0.5, 0.0, 0.05, key="train.noise")
            imb = c3.slider("Imbalance (most ÷ least)", 1.0, 20.0, 1.0, 1.0, key="train.imb")
            spread = c4.slider(
                "Position spread",
                0.0,
                1.0,
                0.3,
                0.1,
                key="train.spread",
                help="0: every shape centred; 1: anywhere in the image (much harder to learn)",
            )
            with st.spinner("Drawing shapes…"):
                return shapes(int(n), 0, float(noise), float(imb), float(spread))
        if source.startswith("Digits"):
            return digits()
        if source in TORCHVISION_SETS:
            return _torchvision(source)
        return _zip()
    except CNNLabError as err:  # DataError, and a zip's or a download's own refusals
        st.error(str(err))
        return None


def _torchvision(name: str) -> ImageData | None:
    key = f"_train_tv.{name}"
    if key not in st.session_state:
        st.info(f"{name} is downloaded once into the cache folder, then read from there.")
        if not st.button(f"Load {name}", key="train.load_tv"):
            return None
        with st.spinner(f"Loading {name}…"):
            st.session_state[key] = load_torchvision(name)
    return st.session_state[key]


def _zip() -> ImageData | None:
    upload = st.file_uploader(
        "A zip of class folders (cat/1.jpg, dog/2.png, …)", type=["zip"], key="train.zip"
    )
    if upload is None:
        return None

    def read() -> tuple[ImageData, int]:
        with st.spinner("Reading the zip…"):
            return load_zip(upload.getvalue())

    data, skipped = parse_once(ZIP_CACHE, upload.file_id, read)  # errors: shown by data_controls
    if skipped:
        st.caption(f"{skipped} files were skipped (not images, hidden or outside the folders).")
    return data


def model_controls():
    """(spec, starting model or None, name), or None with a message when unusable."""
    source = st.radio("Model", MODEL_SOURCES, horizontal=True, key="train.model_source")
    if source == MODEL_SOURCES[0]:
        return state.current_spec(), None, "your network"
    if source == MODEL_SOURCES[1]:
        name = st.selectbox("Preset", list(PRESETS), key="train.preset")
        st.caption(PRESETS[name].about)
        return PRESETS[name].spec, None, name
    if source == MODEL_SOURCES[2]:
        name = st.selectbox(
            "Trained model (training goes on from its weights)", list(SHIPPED), key="train.shipped"
        )
        try:
            bundle = shipped_model(name)
        except CheckpointError as err:
            st.error(str(err))
            return None
        return bundle.spec, bundle.model, name
    upload = st.file_uploader("Checkpoint (.pt)", type=["pt", "pth"], key="train.ckpt")
    if upload is None:
        return None
    try:
        bundle = uploaded_checkpoint(upload, state.current_spec())
    except CNNLabError as err:  # CheckpointError, or a budget the file exceeds
        st.error(f"{upload.name}: {err}")
        return None
    if st.button("Use this model on every page", key="train.adopt_upload"):
        state.set_current_model(bundle)
    return bundle.spec, bundle.model, upload.name


def parse_once(slot: str, key: Hashable, parse: Callable[[], T]) -> T:
    """`parse()` once per `key`, kept in session state under `slot`.

    Reruns with the same key reuse the result, or raise the same CNNLabError again, without
    reading the upload's bytes a second time.
    """
    cached = st.session_state.get(slot)
    if cached is None or cached[0] != key:
        try:
            cached = (key, parse(), None)
        except CNNLabError as err:
            cached = (key, None, err)
        st.session_state[slot] = cached
    if cached[2] is not None:
        raise cached[2].with_traceback(None)
    return cached[1]


def uploaded_checkpoint(upload, fallback_spec: NetworkSpec) -> ModelBundle:
    """The uploaded checkpoint as a bundle, read once per upload (keyed by its `file_id`).

    A bare state dict is tried on `fallback_spec`, so a new spec reads it again.
    """
    return parse_once(
        CHECKPOINT_CACHE,
        (upload.file_id, fallback_spec),
        lambda: from_bytes(upload.getvalue(), fallback_spec=fallback_spec),
    )


def config_controls() -> tuple[TrainConfig, float] | None:
    """The hyper-parameters as a TrainConfig and the validation share."""
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.number_input("Epochs", 1, 200, 10, key="train.epochs", help="passes over the data")
    batch = c2.select_slider(
        "Batch size (images)", [8, 16, 32, 64, 128, 256], 32, key="train.batch"
    )
    opt = c3.selectbox("Optimizer", list(OPTIMIZERS), index=1, key="train.optimizer")
    lr = c4.select_slider(
        "Learning rate", LR_CHOICES, 1e-3, key="train.lr", format_func=lambda v: f"{v:g}"
    )
    with st.expander("More settings: schedule, regularization, loss, early stopping, device"):
        a, b, c = st.columns(3)
        schedule = a.selectbox("LR schedule", SCHEDULES, key="train.schedule")
        wd = a.number_input(
            "Weight decay (0 to 0.1)", 0.0, 0.1, 0.0, 1e-4, format="%.4f", key="train.wd"
        )
        smooth = a.slider("Label smoothing", 0.0, 0.3, 0.0, 0.05, key="train.smoothing")
        loss = b.selectbox("Loss", LOSSES, key="train.loss")
        gamma = b.slider("Focal γ", 0.0, 5.0, 2.0, 0.5, key="train.gamma")
        weights = b.checkbox("Class weights (1 / frequency)", key="train.class_weights")
        patience = b.number_input(
            "Early stopping patience (epochs, 0 = off)", 0, 50, 0, key="train.patience"
        )
        restore = c.checkbox("Restore the best epoch's weights", True, key="train.restore")
        clip = c.number_input(
            "Clip gradient norm (0 = off)", 0.0, 100.0, 0.0, 0.5, key="train.clip"
        )
        seed = c.number_input("Seed", 0, 2**31 - 1, 0, key="train.seed")
        val = c.slider("Validation share", 0.1, 0.5, 0.2, 0.05, key="train.val")
        device = c.selectbox("Device", available_devices(), key="train.device")
        pipeline = st.session_state.get("augmentation.pipeline")
        shapes_data = str(st.session_state.get("train.data_source", "")).startswith("Shapes")
        flips = st.checkbox(
            "Random flips (shapes keep their class; digits and letters do not)",
            shapes_data,
            key=f"train.flips.{shapes_data}",  # the default follows the data set
        )
        aug = st.checkbox(
            "Augment with the Augmentation page's pipeline",
            False,
            key="train.augment",
            disabled=pipeline is None,
        )
    try:
        config = TrainConfig(
            int(epochs),
            int(batch),
            opt,
            float(lr),
            schedule,
            weight_decay=float(wd),
            label_smoothing=float(smooth),
            loss=loss,
            focal_gamma=float(gamma),
            class_weights=weights,
            augmentation=pipeline if aug else (RANDOM_FLIPS if flips else None),
            patience=int(patience),
            restore_best=restore,
            clip_grad=float(clip),
            seed=int(seed),
            device=device,
        )
    except CNNLabError as err:  # TrainConfigError names the setting
        st.error(str(err))
        return None
    return config, float(val)


def _adapt(spec, data: ImageData) -> None:
    from models.data.datasets import adapt_spec
    from models.network.spec import SpecError

    try:
        state.set_current_spec(adapt_spec(spec, data))
        st.session_state["train.model_source"] = MODEL_SOURCES[0]
    except SpecError as err:
        st.session_state["_train_adapt_error"] = str(err)


def fit_controls(data: ImageData, spec) -> bool:
    """Say where data and network disagree and offer the fix; True when training can start."""
    from models.data.datasets import check_fit

    report = check_fit(data, spec)
    if "_train_adapt_error" in st.session_state:
        st.error(f"The network could not be adapted: {st.session_state.pop('_train_adapt_error')}")
    if not report.problems:
        return True
    st.warning("The data and the network disagree: " + "; ".join(report.problems) + ".")
    if report.classes_match:
        st.caption("Training will convert and resize the images to fit the network, or:")
    st.button(
        "Adapt the network to the data (input size and last layer)",
        key="train.adapt",
        on_click=_adapt,
        args=(spec, data),
    )
    return report.classes_match


def finish_job(job: TrainingJob) -> None:
    """When a job ends: make its model the session's model and evaluate it on validation."""
    from models.training.evaluate import evaluate, misclassified

    bundle = job.bundle()
    if bundle is None:
        return
    state.set_current_model(bundle)
    d = job.data
    result = evaluate(bundle.model, d.val_x, d.val_y, d.mean, d.std, len(d.class_names))
    wrong = misclassified(d.val_x, d.val_y, result.predictions, d.class_names)
    st.session_state["_train_eval"] = (id(bundle), result, wrong, d.class_names)
    epochs = [m for m in job.snapshot().history if m.kind == "epoch"]
    keys = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")
    st.session_state["_train_metrics"] = {
        "data": d.name,
        "validation_accuracy": result.accuracy,
        "epochs": [{k: getattr(m, k) for k in keys} for m in epochs],
    }


def progress_text(snap: JobSnapshot, batch_size: int) -> tuple[float, str]:
    """The share done and a line: step, examples per second and time left."""
    m = snap.latest
    if m is None:
        return 0.0, "Waiting for a free training slot…" if snap.status == "queued" else "Starting…"
    speed = next((h.examples_per_s for h in reversed(snap.history) if h.kind == "step"), 0.0)
    left = (m.total_steps - m.step) * batch_size / speed if speed > 0 else float("nan")
    left_text = f"{left:,.0f} s left" if left == left else "time left unknown"
    line = (
        f"Epoch {m.epoch}, step {m.step:,} of {m.total_steps:,} · {speed:,.0f} images/s · "
        f"{left_text}"
    )
    return min(m.step / max(m.total_steps, 1), 1.0), line
