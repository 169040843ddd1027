"""The Train page's panels: data, model and settings controls, the live run and its results.

Uploads are parsed once per upload (keyed by its `file_id`) through `ui.results`, and reused
on every rerun. The run itself is a named job in `ui.jobs`; its result (model, validation
scores, mistakes, metrics) is owned by the job (`JobHandle.result()`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st
from torch import nn

from models.bundle import ModelBundle
from models.data.datasets import ImageData, adapt_spec, check_fit, digits, shapes
from models.data.downloads import TORCHVISION_SETS, load_torchvision
from models.data.zipdata import load_zip
from models.device import available_devices, device_name, pick_device
from models.errors import CNNLabError
from models.network.presets import PRESETS
from models.network.spec import NetworkSpec, SpecError
from models.training.checkpoint import CheckpointError, from_bytes, to_bytes
from models.training.engine import (
    LOSSES,
    ONE_CYCLE_START,
    ONE_CYCLE_WARMUP,
    OPTIMIZERS,
    RANDOM_FLIPS,
    SCHEDULES,
    TrainConfig,
    lr_curve,
    steps_per_epoch,
)
from models.training.evaluate import predict_image
from models.training.executor import JobHandle
from models.training.jobs import FAILED, QUEUED, RUNNING, JobSnapshot, TrainingResult
from ui import jobs, results, runs, state
from ui.panels import train_captions as captions
from ui.shared_models import available_shipped, shipped_model  # read-only: training copies
from viz.train import LiveCurves, confusion_figure, lr_figure, prediction_figure

PAGE = "train"
JOBS = "train/"  # the page's jobs in `ui.jobs` are named with this prefix
JOB = JOBS + "run"  # its one job
DATA_SOURCES = ("Shapes (built in)", "Digits (built in)", *TORCHVISION_SETS, "Your zip of folders")
MODEL_SOURCES = (
    "Your current network",
    "A preset",
    "A shipped trained model",
    "Upload a checkpoint",
)
LR_CHOICES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
CHECKPOINT = "checkpoint"  # `_train.checkpoint`: the upload's bundle, or why it was refused
ZIP = "zip"  # `_train.zip`: the zip's (data, skipped), or why it was refused
LIVE = "_train.live"  # (job id, LiveCurves) of the run on screen
T = TypeVar("T")
DEFAULTS = TrainConfig()  # the page opens on the engine's default recipe
# Why the default recipe, from `python -m benchmarks.default_recipe --seeds 0 1 2` (README).
RECIPE_WHY = (
    "**Why these defaults?** The learning rate follows a *one-cycle* schedule: it starts at "
    f"{ONE_CYCLE_START:.0%} of its peak ({DEFAULTS.lr:g}), climbs for the first "
    f"{ONE_CYCLE_WARMUP:.0%} of the steps while Adam's running averages settle, then falls "
    "almost to zero, so the last epochs take small steps that settle into what the large ones "
    "found. On the default shapes this reached 93.0–95.5% validation accuracy in 10 epochs "
    "over three seeds, against 78.9–87.5% for a constant 1e-3. Starting at the peak with no "
    "warm-up (cosine from 3e-3) stayed at exactly 10% for all ten epochs, one class for every "
    "image: large first steps threw the fresh network somewhere it never left."
)


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
    key = f"_train.tv.{name}"
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

    data, skipped = parsed(ZIP, upload.file_id, read)  # errors: shown by data_controls
    if skipped:
        st.caption(f"{skipped} files were skipped (not images, hidden or outside the folders).")
    return data


def model_controls() -> tuple[NetworkSpec, nn.Module | None, str] | None:
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
            "Trained model (training goes on from its weights)",
            available_shipped(),
            key="train.shipped",
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


def parsed(name: str, inputs: Any, parse: Callable[[], T]) -> T:
    """`parse()` once per value of `inputs`, remembered as `_train.<name>`.

    Reruns with the same inputs reuse the result, or raise the same CNNLabError again, without
    reading the upload's bytes a second time.
    """

    def attempt() -> tuple[T | None, CNNLabError | None]:
        try:
            return parse(), None
        except CNNLabError as err:
            return None, err

    value, error = results.remembered(PAGE, name, inputs, attempt)
    if error is not None:
        raise error.with_traceback(None)
    return value


def uploaded_checkpoint(upload, fallback_spec: NetworkSpec) -> ModelBundle:
    """The uploaded checkpoint as a bundle, read once per upload (keyed by its `file_id`).

    A bare state dict is tried on `fallback_spec`, so a new spec reads it again.
    """
    return parsed(
        CHECKPOINT,
        (upload.file_id, fallback_spec),
        lambda: from_bytes(upload.getvalue(), fallback_spec=fallback_spec),
    )


def config_controls() -> tuple[TrainConfig, float] | None:
    """The hyper-parameters as a TrainConfig and the validation share."""
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.number_input(
        "Epochs", 1, 200, DEFAULTS.epochs, key="train.epochs", help="passes over the data"
    )
    batch = c2.select_slider(
        "Batch size (images)", [8, 16, 32, 64, 128, 256], DEFAULTS.batch_size, key="train.batch"
    )
    opt = c3.selectbox(
        "Optimizer",
        list(OPTIMIZERS),
        index=list(OPTIMIZERS).index(DEFAULTS.optimizer),
        key="train.optimizer",
    )
    lr = c4.select_slider(
        "Learning rate (peak)",
        LR_CHOICES,
        DEFAULTS.lr,
        key="train.lr",
        format_func=lambda v: f"{v:g}",
        help="the largest rate of the run; the schedule scales it step by step",
    )
    st.caption(RECIPE_WHY)
    with st.expander("More settings: schedule, regularization, loss, early stopping, device"):
        a, b, c = st.columns(3)
        schedule = a.selectbox(
            "LR schedule", SCHEDULES, SCHEDULES.index(DEFAULTS.schedule), key="train.schedule"
        )
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
        pipeline = state.saved_pipeline()
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


def _adapt(spec: NetworkSpec, data: ImageData) -> None:
    try:
        state.set_current_spec(adapt_spec(spec, data))
        st.session_state["train.model_source"] = MODEL_SOURCES[0]
    except SpecError as err:
        st.session_state["_train.adapt_error"] = str(err)


def fit_controls(data: ImageData, spec: NetworkSpec) -> bool:
    """Say where data and network disagree and offer the fix; True when training can start."""
    report = check_fit(data, spec)
    if "_train.adapt_error" in st.session_state:
        st.error(f"The network could not be adapted: {st.session_state.pop('_train.adapt_error')}")
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


def data_caption(data: ImageData) -> None:
    """How many images, their shape and the count per class."""
    counts = data.counts()
    st.caption(
        f"{len(data.y):,} images, {'×'.join(map(str, data.shape))}, {len(counts)} "
        "classes: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )


def device_caption(config: TrainConfig) -> bool:
    """Say where the run will train; False (with the reason shown) when that device is absent."""
    try:
        device, pool = pick_device(config.device), jobs.executor()
        where = "the **CPU**" if device.type == "cpu" else f"**{device_name(device)}**"
        st.caption(f"Trains on {where}, in {pool.describe()}.")
    except (ValueError, CNNLabError) as err:  # no such device; the executor's settings
        st.error(str(err))
        return False
    return True


def finish(name: str, job: JobHandle) -> None:
    """When the run ends with a model: it becomes the session's model on every page."""
    runs.record(job)  # kept for Compare runs, and drawn faintly behind the next run
    result = job.result()
    if result is not None:
        state.set_current_model(result.bundle)


def live_curves(job: JobHandle) -> LiveCurves:
    """The run's live figure, made once per run (over the previous run's curves, faint) and
    updated in place at each redraw."""
    held = st.session_state.get(LIVE)
    if held is None or held[0] != job.id:
        before = runs.previous(job.id)  # every new run is drawn over the last one
        curves = LiveCurves(previous=before.history if before is not None else None)
        held = st.session_state[LIVE] = (job.id, curves)
    return held[1]


def draw_run(runs: dict[str, JobHandle]) -> None:
    """The run's progress, Stop, its messages and the live curves: once a second while it runs.

    Only what changes is computed here (a snapshot, a line of text, new points in a figure
    made once); the learning-rate plan is drawn outside the live panel by `lr_plan`.
    """
    job = runs.get(JOB)
    if job is None:
        saved_run()
        return
    snap = job.snapshot()
    share, line = progress_text(snap, job.config.batch_size)
    st.progress(share, text=f"**{snap.status.capitalize()}** · {line}")
    if snap.status in (QUEUED, RUNNING) and st.button("Stop training", key="train.stop"):
        job.stop()
    if snap.status == FAILED:
        st.error(snap.error)
    elif snap.diverged:
        st.warning(f"{snap.note} The session keeps its previous model.")
    elif snap.note:
        st.info(snap.note)
    st.plotly_chart(live_curves(job).update(snap.history), key="train.curves")
    st.caption(captions.curves_caption(snap.history))


def saved_run() -> None:
    """With no run in this server's memory: the workspace's last Train run, as it was saved
    (after a server restart, say), or how to start one."""
    record = runs.previous("")
    if record is None:
        st.info("Press **Start training**: the curves appear here and move as the network learns.")
        return
    accuracy = record.metrics.get("validation_accuracy")
    score = f", validation accuracy {accuracy:.1%}" if isinstance(accuracy, float) else ""
    st.info(
        f"Your last run, **{record.name}** ({record.status}{score}), saved with your work. "
        "Press **Start training** for a new one; it is drawn over this."
    )
    curves = results.remembered(
        PAGE, "saved_curves", record.id, lambda: LiveCurves().update(record.history)
    )
    st.plotly_chart(curves, key="train.curves")
    st.caption(captions.curves_caption(record.history))


def lr_plan(job: JobHandle | None) -> None:
    """The run's learning rate at every step, drawn once per run (not at every live redraw)."""
    if job is None:
        return
    config, n_train = job.config, job.info.n_train
    per_epoch = steps_per_epoch(n_train, config.batch_size)

    def drawn() -> tuple[Any, str]:
        lrs = lr_curve(config, n_train)
        return lr_figure(lrs, per_epoch), captions.lr_caption(lrs, config.schedule, per_epoch)

    figure, caption = results.remembered(PAGE, "lr_plan", job.id, drawn)
    st.markdown("**The run's learning rate, step by step** (the progress line says where it is)")
    st.plotly_chart(figure, key="train.lr_plot")
    st.caption(caption)


def current_result(job: JobHandle | None, model: ModelBundle) -> TrainingResult | None:
    """The run's result when its model is still the session's model (by the bundle's token)."""
    result = job.result() if job is not None else None
    return result if result is not None and result.bundle.token == model.token else None


def evaluation(result: TrainingResult) -> None:
    """Validation accuracy, scores per class, the confusion matrix and the mistakes."""
    scores, names = result.evaluation, result.bundle.class_names
    st.metric("Validation accuracy", f"{scores.accuracy:.1%}")
    left, right = st.columns([2, 3])
    table = {"class": names, "precision": scores.precision, "recall": scores.recall}
    table |= {"F1": scores.f1, "images": scores.support}
    left.dataframe(table, hide_index=True)
    confusion = results.remembered(  # once per trained model, not at every rerun
        PAGE,
        "confusion",
        result.bundle.token,
        lambda: confusion_figure(scores.confusion.numpy(), names),
    )
    right.plotly_chart(confusion, key="train.confusion")
    wrong = result.misclassified
    st.markdown(f"**Misclassified validation images** ({len(wrong)} shown; true → predicted)")
    if wrong:
        st.image(
            [w[0] for w in wrong],
            caption=[w[1] for w in wrong],
            width=72,
            alt=[f"Misclassified validation image: {w[1]}" for w in wrong],
        )
    with st.expander("This run's settings (saved in the checkpoint's metrics)"):
        st.json(result.metrics["config"])


def prediction(model: ModelBundle, result: TrainingResult | None) -> None:
    """The session's model on the session's image, and its checkpoint to download."""
    st.markdown(f"**Your image** with the session's model ({model.name})")
    image = state.current_image()
    figure, caption = results.memo(
        PAGE, "prediction", (model, image), lambda: _predicted(model, image)
    )
    st.plotly_chart(figure, key="train.predict")
    st.caption(caption)
    if model.spec is not None:
        metrics = result.metrics if result is not None else None
        st.download_button(
            "Download the checkpoint (.pt)",
            results.memo(PAGE, "checkpoint", (model, metrics), lambda: to_bytes(model, metrics)),
            file_name="cnn_lab_model.pt",
            key="train.download",
        )


def _predicted(model: ModelBundle, image) -> tuple[Any, str]:
    """The prediction figure of `model` on `image`, and its caption."""
    logits, probs = predict_image(model, image)
    figure = prediction_figure(logits, probs, model.class_names)
    return figure, captions.prediction_caption(probs, model.class_names)


def progress_text(snap: JobSnapshot, batch_size: int) -> tuple[float, str]:
    """The share done and a line: step, examples per second, the learning rate and time left."""
    m = snap.latest
    if m is None:
        return 0.0, jobs.waiting_text(snap) or "Starting…"
    speed = next((h.examples_per_s for h in reversed(snap.history) if h.kind == "step"), 0.0)
    left = (m.total_steps - m.step) * batch_size / speed if speed > 0 else float("nan")
    left_text = f"{left:,.0f} s left" if left == left else "time left unknown"
    line = (
        f"Epoch {m.epoch}, step {m.step:,} of {m.total_steps:,} · {speed:,.0f} images/s · "
        f"learning rate {m.lr:.2g} · {left_text}"
    )
    return min(m.step / max(m.total_steps, 1), 1.0), line
