"""The Transfer learning page's pieces: the three arms, the learning curve, the drift slider and
the recovery runs, each explained from what was measured."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from models.bundle import ModelBundle
from models.data.shift import DRIFTS
from models.data.transfer_tasks import TARGET_CLASSES
from models.training import transfer as tr
from models.training.checkpoint import CheckpointError
from ui import lab, results
from ui.shared_models import shipped_model
from viz import transfer as viz

PAGE = "transfer"
PRETRAINED = "TinyVGG on shapes"
CHANCE = 1 / len(TARGET_CLASSES)
STRENGTHS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def pretrained() -> ModelBundle | None:
    """The shipped TinyVGG (read-only, shared), or None with a message when it is missing."""
    try:
        return shipped_model(PRETRAINED)
    except CheckpointError as err:
        st.error(f"The pretrained network could not be loaded: {err}")
        return None


def arm_settings() -> tr.TransferSpec:
    """Images per class and epochs for the three arms."""
    left, right = st.columns(2)
    n = left.slider("Labelled images per class", 1, 50, 20, key=f"{PAGE}.per_class")
    epochs = right.slider("Epochs (passes over them)", 1, 30, 12, key=f"{PAGE}.epochs")
    return tr.TransferSpec(per_class=n, epochs=epochs)


def imagenet_choice() -> bool:
    """Offer ImageNet features when their weights are cached; otherwise say what is needed."""
    path = tr.imagenet_weights_file()
    if path is None:
        st.caption(
            "ImageNet features (ResNet-18 trained on 1.2 million photos) could be a fourth arm, "
            "but their weights (about 45 MB) need one download into torchvision's cache, which "
            "this page does not do. Once the Saliency page has fetched them, they appear here."
        )
        return False
    return st.checkbox(
        "Add ResNet-18 with ImageNet weights (frozen, new head; slower)", key=f"{PAGE}.imagenet"
    )


def plan_arms(spec: tr.TransferSpec, bundle: ModelBundle, imagenet: bool) -> list:
    runs = tr.plan_transfer(spec, bundle)
    path = tr.imagenet_weights_file() if imagenet else None
    return runs + ([tr.imagenet_run(spec, path)] if path is not None else [])


def _download(name: str, rows: list[dict], key: str) -> None:
    csv = pd.DataFrame(rows).to_csv(index=False)
    st.download_button(f"Download {name} (CSV)", csv, f"{name}.csv", "text/csv", key=key)


def show_arms(res: lab.LabResults) -> None:
    """Bars of the arms' held-out accuracy, the reveal and the why, from the numbers."""
    acc = res.means("val_acc")
    if not acc:
        st.warning("No run finished, so there is nothing to compare. Run the experiment again.")
        return
    st.plotly_chart(viz.arms_figure(acc, CHANCE), key=f"{PAGE}.arms_chart")
    spec = arm_settings_used()
    line = "; ".join(f"{k}: {v:.0%}" for k, v in acc.items())
    st.caption(f"Held-out accuracy on {spec['val']} new shapes never trained on: {line}.")
    best = max(acc, key=acc.get)
    lab.reveal(res.guess if res.guess in acc else None, best, _why_arms(acc, spec))
    _download("transfer_arms", [{"arm": k, "accuracy": v} for k, v in acc.items()], "dl_arms")


def run_arms(spec: tr.TransferSpec, bundle: ModelBundle, imagenet: bool) -> None:
    """The run button of the three arms; remembers the images per class it ran with."""
    if lab.run_button(
        f"{PAGE}.arms", "Train the three arms", lambda: plan_arms(spec, bundle, imagenet)
    ):
        st.session_state[f"_{PAGE}.arms_used"] = spec.per_class


def arm_settings_used() -> dict:
    n = st.session_state.get(f"_{PAGE}.arms_used", 20)
    return {"n": n, "val": tr.TransferSpec().val_per_class * len(TARGET_CLASSES)}


def _why_arms(acc: dict[str, float], spec: dict) -> str:
    scratch, frozen, tuned = (acc.get(a, float("nan")) for a in tr.ARMS)
    text = (
        f"With {spec['n']} images per class, the network trained from random weights reached "
        f"{scratch:.0%} (chance is {CHANCE:.0%}), frozen shape features with a new head "
        f"{frozen:.0%} and full fine-tuning {tuned:.0%}. "
    )
    if max(frozen, tuned) > scratch + 0.05:
        text += (
            "The pretrained convolutions already respond to edges, corners and curves, so the "
            "few labelled images only have to teach which of those mark each new shape. "
        )
    else:
        text += (
            "Against the textbook this time: pretraining did not clearly help. With so few "
            "images and steps, every arm is still close to where it started; try more epochs. "
        )
    if tuned + 0.03 < frozen:
        text += (
            "Fine-tuning every layer scored below the frozen features here: its smaller rate "
            "moved the new head more slowly in these few steps, and every layer was free to "
            "bend towards the handful of images it saw."
        )
    elif tuned > frozen + 0.03:
        text += (
            "Letting every layer adapt helped: the new shapes reward features the old ones "
            "never needed."
        )
    return text


def curve_sizes() -> tuple[int, ...]:
    sizes = st.multiselect(
        "Labelled images per class on the curve",
        [5, 10, 20, 50, 100],
        default=list(tr.CURVE_SIZES),
        key=f"{PAGE}.sizes",
    )
    return tuple(sizes)


def show_curve(res: lab.LabResults) -> None:
    """Accuracy against labelled images, and whether the gap to scratch grows or shrinks."""
    points = tr.curve_points(res.means("val_acc"))
    if not points:
        st.warning("No run finished, so there is no curve. Run the experiment again.")
        return
    st.plotly_chart(viz.curve_figure(points, CHANCE), key=f"{PAGE}.curve_chart")
    rows = [
        {"arm": a, "per_class": n, "accuracy": v} for a, p in points.items() for n, v in p.items()
    ]
    gaps = _gaps(points)
    if gaps is None:
        st.caption("The curve needs every arm at two sizes or more to compare gaps.")
    else:
        (lo, g_lo), (hi, g_hi) = gaps
        answer = (
            "it shrinks"
            if g_hi < g_lo - 0.05
            else "it grows"
            if g_hi > g_lo + 0.05
            else "it stays about the same"
        )
        st.caption(
            f"Best pretrained arm minus from scratch: {g_lo:+.0%} at {lo} per class, "
            f"{g_hi:+.0%} at {hi}."
        )
        lab.reveal(res.guess, answer, _why_curve(answer, lo, hi, g_lo, g_hi))
    _download("transfer_curve", rows, "dl_curve")


def _gaps(points: dict) -> tuple | None:
    if tr.SCRATCH not in points or len(points) < 2 or len(points[tr.SCRATCH]) < 2:
        return None
    sizes = sorted(points[tr.SCRATCH])
    best = {n: max(p[n] for a, p in points.items() if a != tr.SCRATCH and n in p) for n in sizes}
    gap = {n: best[n] - points[tr.SCRATCH][n] for n in sizes}
    return (sizes[0], gap[sizes[0]]), (sizes[-1], gap[sizes[-1]])


def _why_curve(answer: str, lo: int, hi: int, g_lo: float, g_hi: float) -> str:
    if answer == "it shrinks":
        return (
            f"From {lo} to {hi} images per class the head start of pretraining fell from "
            f"{g_lo:.0%} to {g_hi:.0%}: the more labels, the more a network can learn on its "
            "own, and the less borrowed features are worth."
        )
    return (
        f"The head start went from {g_lo:.0%} at {lo} to {g_hi:.0%} at {hi} per class. The "
        "textbook expects it to shrink as labels grow, and it does, but later: a network from "
        "random weights needs far more images and steps than these quick runs give it before "
        "its own features beat borrowed ones."
    )


@dataclass(frozen=True)
class DriftView:
    """What the drift section shows for one model, drift and strength."""

    curve: list[float]  # accuracy at each of STRENGTHS
    accuracy: float  # accuracy at the slider's strength
    images: int  # how many fresh shapes were scored
    samples: go.Figure  # clean shapes above, shifted below
    chart: go.Figure  # accuracy against strength, the slider marked
    csv: str  # the curve, for the download button


def _drift_curve(bundle: ModelBundle, drift: str) -> list[float]:
    """The accuracy at every strength of one drift: once per model and drift (for the whole
    class on the shipped model)."""
    data = tr.drift_test_set(bundle.input_shape)
    return results.memo(
        PAGE,
        "curve",
        (bundle, drift, STRENGTHS),
        lambda: tr.drift_curve(bundle, data, drift, STRENGTHS),
    )


def _drift_view(bundle: ModelBundle, drift: str, strength: float) -> DriftView:
    data = tr.drift_test_set(bundle.input_shape)
    curve = _drift_curve(bundle, drift)
    on_grid = [a for s, a in zip(STRENGTHS, curve, strict=True) if abs(s - strength) < 1e-6]
    acc = on_grid[0] if on_grid else tr.drift_accuracy(bundle, data, drift, strength)
    clean, moved = tr.drift_samples(data, drift, strength)
    rows = [
        {"drift": drift, "strength": s, "accuracy": a}
        for s, a in zip(STRENGTHS, curve, strict=True)
    ]
    return DriftView(
        curve=curve,
        accuracy=acc,
        images=len(data.y),
        samples=viz.samples_figure(clean, moved),
        chart=viz.drift_figure(STRENGTHS, curve, (strength, acc), drift),
        csv=pd.DataFrame(rows).to_csv(index=False),
    )


def drift_view(bundle: ModelBundle, drift: str, strength: float) -> DriftView:
    """The drift section's numbers, figures and file: made once per model, drift and strength
    (for the whole class on the shipped model), so a new session only draws them."""
    return results.memo(
        PAGE, "drift", (bundle, drift, strength), lambda: _drift_view(bundle, drift, strength)
    )


def drift_section(bundle: ModelBundle) -> tuple[str, float, float, float]:
    """The drift menu and slider, the samples and the accuracy curve; returns
    (drift, strength, accuracy there, accuracy unshifted)."""
    left, right = st.columns([1, 2])
    drift = left.radio("Drift", list(DRIFTS), horizontal=True, key=f"{PAGE}.drift")
    strength = right.slider(
        "Strength (0 = as trained, 1 = strongest)",
        0.0,
        1.0,
        0.5,
        0.1,
        key=f"{PAGE}.strength",
        help=f"At 1: {DRIFTS[drift].at_full}.",
    )
    view = drift_view(bundle, drift, strength)
    curve, acc = view.curve, view.accuracy
    st.plotly_chart(view.samples, key=f"{PAGE}.samples_chart")
    st.caption(
        "Top: fresh shapes, looking as the model's training images did. Bottom: the same "
        f"shapes at {drift} {strength:.1f}."
    )
    st.plotly_chart(view.chart, key=f"{PAGE}.drift_chart")
    st.caption(
        f"{PRETRAINED} on {view.images} fresh shapes: {curve[0]:.0%} right unshifted, {acc:.0%} "
        f"at {drift} {strength:.1f}, {curve[-1]:.0%} at full strength."
    )
    st.download_button(
        "Download transfer_drift (CSV)", view.csv, "transfer_drift.csv", "text/csv", key="dl_drift"
    )
    return drift, strength, acc, curve[0]


def drift_words(drift: str, strength: float, acc: float, clean: float) -> str:
    """Two sentences on what the slider measured."""
    drop = clean - acc
    if drop < 0.05:
        return (
            f"At {drift} {strength:.1f} the model still gets {acc:.0%} right (unshifted: "
            f"{clean:.0%}): this much drift stays inside what its training images varied over."
        )
    return (
        f"At {drift} {strength:.1f} accuracy falls from {clean:.0%} to {acc:.0%}. The labels did "
        "not change, only how the images look: the network learnt the look of its training "
        "images along with the shapes, and nothing in training showed it this look."
    )


def run_recovery(
    bundle: ModelBundle, drift: str, strength: float, acc: float, clean: float
) -> None:
    """The recovery run button; remembers the drift it was pressed for."""
    n = st.slider("Shifted images per class to fine-tune on", 2, 30, 10, key=f"{PAGE}.recover_n")
    pressed = lab.run_button(
        f"{PAGE}.recover",
        "Fine-tune on the shifted images",
        lambda: tr.plan_recovery(bundle, drift, strength, n),
    )
    if pressed:
        st.session_state[f"_{PAGE}.recover_used"] = (drift, strength, acc, clean, n)


def show_recovery(res: lab.LabResults) -> None:
    """Before against after on the shifted held-out shapes, and what fine-tuning forgot."""
    used = st.session_state.get(f"_{PAGE}.recover_used")
    acc = res.means("val_acc")
    if not acc or used is None:
        st.warning("No run finished, so there is nothing to compare. Run the experiment again.")
        return
    drift, strength, before, clean, n = used
    bars = {"no fine-tuning": before, **acc}
    st.plotly_chart(viz.arms_figure(bars, 0.1), key=f"{PAGE}.recover_chart")
    forgot = _forgetting(res, drift)
    st.caption(
        f"Accuracy on the {drift} {strength:.1f} held-out shapes; unshifted, the shipped model "
        f"scored {clean:.0%}. After fine-tuning, on unshifted shapes: {forgot}."
    )
    best = max(acc.values())
    lost = clean - before
    share = (best - before) / lost if lost > 0.02 else 1.0
    answer = "almost none" if share < 0.25 else "about half" if share < 0.75 else "most of it"
    lab.reveal(
        res.guess,
        answer,
        (
            f"Before fine-tuning the model got {before:.0%} of the shifted shapes right; after "
            f"seeing {n} shifted images per class, the best run got {best:.0%}, {share:.0%} of the "
            f"{lost:.0%} that the drift took away. A few examples of the new look are enough to "
            "re-tune features that already exist; whether the unshifted images still work after it "
            "is the caption's last figure."
        ),
    )
    rows = [{"run": k, "shifted_accuracy": v} for k, v in bars.items()]
    _download("transfer_recovery", rows, "dl_recover")


def _forgetting(res: lab.LabResults, drift: str) -> str:
    parts = []
    for label in res.handles:
        for run in res.results(label):
            data = tr.drift_test_set(run.bundle.input_shape)
            acc = results.remembered(
                PAGE,
                f"forget.{label}",
                run.bundle,
                lambda b=run.bundle, d=data: tr.drift_accuracy(b, d, drift, 0.0),
            )
            parts.append(f"{label} {acc:.0%}")
    return ", ".join(parts) or "not measured"
