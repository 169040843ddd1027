"""The Gradient flow page's parts: gradient norms per layer, plain against residual, and the
depth × width sweep (the last two are quick runs through `ui.lab`)."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence

import streamlit as st

from models.inspect import gradient_flow as flow
from models.training.experiments import INITS
from ui import lab, results
from viz import gradient_flow as gviz

DEFAULT_VARIANTS = ["plain", "residual", "batchnorm", "plain, sigmoid"]
FIRST, LAST, SAME = "the first layer (next to the image)", "the last layer", "about the same"


def flow_controls() -> tuple[list[str], flow.FlowSettings, bool]:
    """The networks to compare, the measurement's settings, and the log-scale switch."""
    a, b, c = st.columns([2, 1, 1])
    variants = a.multiselect(
        "Networks", list(flow.VARIANTS), DEFAULT_VARIANTS, key="gradient_flow.variants"
    )
    depth = b.slider("Depth (weighted layers)", 4, 56, 20, 2, key="gradient_flow.depth")
    init = c.radio("Initial weights", list(INITS)[:2], key="gradient_flow.init")
    log = c.toggle("Log scale", True, key="gradient_flow.log")
    return variants, flow.FlowSettings(depth=depth, init=init), log


def measured(variants: Sequence[str], settings: flow.FlowSettings) -> list[flow.FlowResult]:
    """Each variant's norms, made once per variant and settings for the whole class (seeded,
    the same for everyone), so adding a variant computes only that one."""
    if not variants:
        raise flow.FlowError("choose at least one network to measure")
    return [
        results.memo(
            "gradient_flow",
            f"flow.{v}",
            (v, settings),
            lambda v=v: flow.compare_flow([v], settings)[0],
        )
        for v in variants
    ]


def _where_smallest(r: flow.FlowResult) -> str:
    first, last = r.at_init[0], r.at_init[-1]
    if first < last / 10:
        return FIRST
    return LAST if last < first / 10 else SAME


def show_flow(
    found: list[flow.FlowResult], settings: flow.FlowSettings, log: bool, guess: str | None
) -> None:
    """The figure, its caption, the answer from the numbers, and the CSV."""
    figure, table = results.memo(
        "gradient_flow",
        "flow_view",
        (found, log),  # the results' values: variants and settings are in them
        lambda: (gviz.flow_figure(found, log), _flow_csv(found)),
    )
    st.plotly_chart(figure, key="gradient_flow.flow_chart")
    lines = [
        f"- **{r.variant}**: first layer {r.at_init[0]:.2g}, last {r.at_init[-1]:.2g} at "
        f"initialisation (first ÷ last = {r.at_init[0] / r.at_init[-1]:.2g}); after "
        f"{settings.steps} SGD steps the loss went "
        f"{r.loss_init:.3f} → {r.loss_after:.3f}"
        for r in found
    ]
    st.caption(
        "Gradient norm of each layer's weights on one batch of shapes at 32×32, at "
        "initialisation (dotted) and after a few SGD steps (solid)."
    )
    st.markdown("\n".join(lines))
    plain = next((r for r in found if r.variant == "plain"), None)
    if plain is not None:
        answer = _where_smallest(plain)
        others = [r for r in found if r.variant != "plain"]
        best = max(others, key=lambda r: r.at_init[0] / r.at_init[-1], default=None)
        because = (
            f"In the plain ReLU stack the first layer's gradient is "
            f"{plain.at_init[0] / plain.at_init[-1]:.2g} times the last layer's: each layer on "
            "the way back multiplies the gradient by its weights and its activation's slope."
        )
        if best is not None:
            because += (
                f" Of the others, **{best.variant}** keeps the most for the first layer "
                f"(first ÷ last = {best.at_init[0] / best.at_init[-1]:.2g})."
            )
        lab.reveal(guess, answer, because)
    st.download_button(
        "Download the norms (CSV)",
        table,
        "gradient_norms.csv",
        "text/csv",
        key="gradient_flow.flow_dl",
    )


def _flow_csv(found: list[flow.FlowResult]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["network", "layer", "index", "norm_at_init", "norm_after_steps"])
    for r in found:
        for i, (name, a, b) in enumerate(zip(r.layers, r.at_init, r.after), start=1):
            writer.writerow([r.variant, name, i, f"{a:.6g}", f"{b:.6g}"])
    return out.getvalue()


def degradation() -> None:
    """Plain-20 against residual-20, trained as quick runs on the executor."""
    depth = st.select_slider(
        "Depth of both networks", [8, 14, 20, 32], 20, key="gradient_flow.deep_depth"
    )
    options = [f"plain-{depth}", f"residual-{depth}", SAME]
    lab.predict("gradient_flow.deep", "After five quick epochs, which is more accurate?", options)
    lab.run_button(
        "gradient_flow.deep",
        f"Train plain-{depth} and residual-{depth}",
        lambda: flow.plan_degradation(depth, settings=flow.RUN_SETTINGS),
    )
    lab.watch("gradient_flow.deep", lambda res: _degradation_result(res, depth))


def _degradation_result(res: lab.LabResults, depth: int) -> None:
    val, train = res.means("val_acc"), res.means("train_acc")
    plain, resid = f"plain-{depth}", f"residual-{depth}"
    if plain not in val or resid not in val:
        st.warning("A run ended without an epoch, so there is nothing to compare.")
        return
    gap = val[resid] - val[plain]
    answer = SAME if abs(gap) < 0.03 else (resid if gap > 0 else plain)
    because = (
        f"Measured: validation accuracy {val[plain]:.0%} for {plain} and {val[resid]:.0%} for "
        f"{resid}; training accuracy {train[plain]:.0%} and {train[resid]:.0%}. "
    )
    if answer == resid:
        because += (
            "The residual network fits even its training images better: the same layers, but "
            "gradients reach the first ones through the shortcuts, which is He et al.'s point."
        )
    else:
        because += (
            "In this short run the skips did not pay off; He et al.'s gap appears over many "
            "epochs and at larger depths, so try depth 32 or run it again."
        )
    lab.reveal(res.guess, answer, because)


def sweep() -> None:
    """Residual networks of two or three depths × widths, as quick runs."""
    a, b = st.columns(2)
    depths = a.multiselect("Depths", [8, 14, 20, 32], [8, 14], key="gradient_flow.depths")
    widths = b.multiselect("Widths", [4, 8, 16], [4, 8], key="gradient_flow.widths")
    lab.predict(
        "gradient_flow.sweep",
        "In a quick run, which helps more: the deeper network or the wider one?",
        ["deeper", "wider", "neither"],
    )
    lab.run_button(
        "gradient_flow.sweep",
        f"Train {len(depths) * len(widths)} residual networks",
        lambda: flow.plan_sweep(tuple(sorted(depths)), tuple(sorted(widths)), flow.RUN_SETTINGS),
        disabled=not depths or not widths,
    )
    lab.watch("gradient_flow.sweep", _sweep_result)


def _points(res: lab.LabResults) -> list[gviz.SweepPoint]:
    points = []
    for label, handles in res.handles.items():
        for job in handles:
            history = job.snapshot().history
            epochs = [m for m in history if m.kind == "epoch"]
            depth, width = (int(t) for t in label.removeprefix("depth ").split(" × width "))
            params = flow.stack_params(flow.StackOptions(depth, width, True, True))
            if epochs:
                seconds = history[-1].elapsed_s
                points.append(gviz.SweepPoint(depth, width, params, epochs[-1].val_acc, seconds))
    return points


def _gain(points: list[gviz.SweepPoint], field: str) -> float:
    values = sorted({getattr(p, field) for p in points})
    low = [p.accuracy for p in points if getattr(p, field) == values[0]]
    high = [p.accuracy for p in points if getattr(p, field) == values[-1]]
    return statistics.fmean(high) - statistics.fmean(low)


def _sweep_result(res: lab.LabResults) -> None:
    points = _points(res)
    if not points:
        st.warning("No run finished an epoch, so there is nothing to compare.")
        return
    st.plotly_chart(gviz.sweep_figure(points), key="gradient_flow.sweep_chart")
    rows = [
        {
            "depth": p.depth,
            "width": p.width,
            "parameters": p.params,
            "validation accuracy": round(p.accuracy, 4),
            "seconds": round(p.seconds, 1),
        }
        for p in points
    ]
    st.dataframe(rows, hide_index=True, key="gradient_flow.sweep_table")
    deeper, wider = _gain(points, "depth"), _gain(points, "width")
    answer = "neither" if max(deeper, wider) < 0.03 else ("deeper" if deeper > wider else "wider")
    fastest = min(points, key=lambda p: p.seconds)
    because = (
        f"Measured: going from the shallowest to the deepest changed validation accuracy by "
        f"{deeper:+.0%} on average, from the narrowest to the widest by {wider:+.0%}. The "
        f"quickest run ({fastest.depth}×{fastest.width}, {fastest.params:,} parameters) took "
        f"{fastest.seconds:.0f} s. Depth adds layers to train through; width adds features "
        "per layer and usually trains faster per epoch."
    )
    lab.reveal(res.guess, answer, because)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    st.download_button(
        "Download the sweep (CSV)",
        buf.getvalue(),
        "depth_width.csv",
        "text/csv",
        key="gradient_flow.sweep_dl",
    )
