"""Widgets of the Filters page: the untrained twin, kernels side by side, feature visualization.

The figures are functions of the model and the layer (their `source`), and feature
visualization is seeded: each is made once for the whole class on a shared model
(`results.memo`).
"""

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

PAGE = "filters"
Source = tuple[ModelBundle, bool, str]  # the model, whether it is trained, the layer


def source(bundle: ModelBundle, name: str) -> Source:
    """What the kernels shown are read from: the key of the page's figures."""
    return (bundle, bundle.trained, name)


def twin(bundle: ModelBundle) -> ModelBundle | None:
    """The same network freshly initialised, to set beside a trained one (None if untrained)."""
    if not bundle.trained:
        return None
    arch = architecture(bundle)
    if arch:
        return zoo_model(arch, False)
    # seed 0 and read-only (only its weights are read): one twin for the class
    return results.memo(PAGE, "twin", bundle, lambda: filt.untrained_twin(bundle))


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


def _kernel_figures(sides: list[tuple[str, np.ndarray]]) -> list[tuple]:
    """(label, colour tiles or None, weight grid) for each side."""
    return [
        (label, fiz.kernel_tiles_figure(w) if w.shape[1] == 3 else None, fiz.kernel_grid_figure(w))
        for label, w in sides
    ]


def show_kernels(sides: list[tuple[str, np.ndarray]], src: Source) -> None:
    """Each side's kernels as colour tiles (first layer) and as a grid of weights."""
    figures = results.memo(PAGE, "kernels", src, lambda: _kernel_figures(sides))
    for col, (label, tiles, grid) in zip(st.columns(len(sides)), figures, strict=True):
        col.markdown(f"**{label}**")
        if tiles is not None:
            col.plotly_chart(tiles, key=f"filters.tiles.{label}")
            col.caption(
                "Each tile is one filter as colours: grey is 0, brighter red/green/blue "
                "are positive weights on that colour, darker are negative."
            )
        col.plotly_chart(grid, key=f"filters.grid.{label}")
        col.caption(
            "A row per filter, a column per input channel (first 16 of each); hover for the weight."
        )


def _histogram(sides: list[tuple[str, np.ndarray]]):
    labels = ["trained", "freshly initialised"] if len(sides) == 2 else ["this model"]
    series = {label: w.ravel() for label, (_, w) in zip(labels, sides, strict=True)}
    return fiz.weight_histogram_figure(series)


def show_histogram(sides: list[tuple[str, np.ndarray]], name: str, src: Source) -> None:
    """The weights' spread, trained against freshly initialised when both are there."""
    figure = results.memo(PAGE, "histogram", src, lambda: _histogram(sides))
    st.plotly_chart(figure, key="filters.histogram")
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

    inputs = (bundle, name, channel, config)

    def compute() -> filt.FeatureViz:  # seeded: one ascent for the class on a shared model
        return results.memo(
            PAGE,
            "viz_result",
            inputs,
            lambda: filt.visualize_channel(
                bundle, name, int(channel), config, progress=bar.progress
            ),
        )

    try:
        viz = results.on_press(PAGE, "viz", inputs, compute, pressed)
    except ActivationError as err:
        st.error(f"The input could not be synthesized: {err}")
        viz = None
    if bar is not None:
        bar.empty()
    if viz is not None:
        show_synthesized(viz, name, int(channel), inputs)


def show_synthesized(viz: filt.FeatureViz, name: str, channel: int, inputs: object) -> None:
    """The synthesized image, its ascent curve and the PNG (made once per `inputs`)."""
    left, right = st.columns(2)
    png, curve = results.memo(
        PAGE,
        "viz_view",
        inputs,
        lambda: (filt.to_png(viz.image), fiz.ascent_curve_figure(viz.curve)),
    )
    left.image(
        png,
        caption=f"{name}, channel {channel}",
        width="stretch",
        alt=f"The image synthesised to excite channel {channel} of layer {name}",
    )
    right.plotly_chart(curve, key="filters.curve")
    right.caption(
        f"Mean activation of the channel: {viz.start:.3f} on the starting noise, "
        f"{viz.end:.3f} on this image."
    )
    png_name = f"{name}_channel{channel}.png"
    st.download_button("Download image (PNG)", png, png_name, "image/png", key="filters.download")
