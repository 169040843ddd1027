"""Widgets of the Filters page: the untrained twin, kernels side by side, feature visualization."""

from __future__ import annotations

import numpy as np
import streamlit as st

from models.bundle import ModelBundle
from models.inspect import filters as filt
from models.inspect.activations import ActivationError
from models.zoo import architecture
from ui import results
from ui.shared_models import zoo_model
from viz import filters as fiz


def twin(bundle: ModelBundle) -> ModelBundle | None:
    """The same network freshly initialised, to set beside a trained one (None if untrained)."""
    if not bundle.trained:
        return None
    arch = architecture(bundle)
    if arch:
        return zoo_model(arch, False)
    return results.remembered("filters", "twin", bundle, lambda: filt.untrained_twin(bundle))


def kernel_sides(
    bundle: ModelBundle, fresh: ModelBundle | None, name: str
) -> list[tuple[str, np.ndarray]]:
    """(label, weights) for this model and, when there is one, its fresh twin."""
    sides = [
        ("trained" if bundle.trained else "this model", filt.kernel_weights(bundle.model, name))
    ]
    if fresh is not None:
        sides.append(("freshly initialised, same network", filt.kernel_weights(fresh.model, name)))
    return sides


def show_kernels(sides: list[tuple[str, np.ndarray]]) -> None:
    """Each side's kernels as colour tiles (first layer) and as a grid of weights."""
    for col, (label, w) in zip(st.columns(len(sides)), sides, strict=True):
        col.markdown(f"**{label}**")
        if w.shape[1] == 3:
            col.plotly_chart(fiz.kernel_tiles_figure(w), key=f"filters.tiles.{label}")
            col.caption(
                "Each tile is one filter as colours: grey is 0, brighter red/green/blue "
                "are positive weights on that colour, darker are negative."
            )
        col.plotly_chart(fiz.kernel_grid_figure(w), key=f"filters.grid.{label}")
        col.caption(
            "A row per filter, a column per input channel (first 16 of each); hover for the weight."
        )


def show_histogram(sides: list[tuple[str, np.ndarray]], name: str) -> None:
    """The weights' spread, trained against freshly initialised when both are there."""
    labels = ["trained", "freshly initialised"] if len(sides) == 2 else ["this model"]
    series = {label: w.ravel() for label, (_, w) in zip(labels, sides, strict=True)}
    st.plotly_chart(fiz.weight_histogram_figure(series), key="filters.histogram")
    st.caption(
        f"{sides[0][1].size:,} weights in {name}. Training usually widens the spread and "
        "makes some weights clearly larger than the rest."
    )


def feature_visualization(bundle: ModelBundle, name: str, n_channels: int) -> None:
    """Settings, the button, and the synthesized image with its ascent curve."""
    c = st.columns(4)
    channel = c[0].number_input(
        f"Channel (0–{n_channels - 1})", 0, n_channels - 1, 0, key="filters.channel"
    )
    steps = c[1].slider("Steps", 8, 256, 96, 8, key="filters.steps")
    jitter = c[2].slider("Jitter (pixels)", 0, 8, 2, key="filters.jitter")
    seed = c[3].number_input("Seed", 0, 2**31 - 1, 0, key="filters.seed")
    config = filt.FeatureVizConfig(steps=steps, jitter=jitter, seed=int(seed))
    label = f"Synthesize the input that excites channel {channel} of {name}"
    pressed = st.button(label, key="filters.synthesize")
    bar = st.progress(0.0, text="Gradient ascent on the input…") if pressed else None

    def compute() -> filt.FeatureViz:
        return filt.visualize_channel(bundle, name, int(channel), config, progress=bar.progress)

    try:
        viz = results.on_press("filters", "viz", (bundle, name, channel, config), compute, pressed)
    except ActivationError as err:
        st.error(f"The input could not be synthesized: {err}")
        viz = None
    if bar is not None:
        bar.empty()
    if viz is not None:
        show_synthesized(viz, name, int(channel))


def show_synthesized(viz: filt.FeatureViz, name: str, channel: int) -> None:
    left, right = st.columns(2)
    png = filt.to_png(viz.image)
    left.image(
        png,
        caption=f"{name}, channel {channel}",
        width="stretch",
        alt=f"The image synthesised to excite channel {channel} of layer {name}",
    )
    right.plotly_chart(fiz.ascent_curve_figure(viz.curve), key="filters.curve")
    right.caption(
        f"Mean activation of the channel: {viz.start:.3f} on the starting noise, "
        f"{viz.end:.3f} on this image."
    )
    png_name = f"{name}_channel{channel}.png"
    st.download_button("Download image (PNG)", png, png_name, "image/png", key="filters.download")
