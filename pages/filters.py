"""Filters: the kernels a network learned, and the input each of its channels likes best."""

import streamlit as st

from models.inspect import filters as filt
from models.inspect.activations import ActivationError
from models.zoo import architecture
from ui import frame, model_picker
from ui.model_picker import zoo_model
from viz import filters as fiz

frame(
    "Filters",
    intro=(
        "A filter is the small grid of weights a convolution slides over its input. In the "
        "first layer each filter has one weight per position and colour, so you can look at it "
        "like a tiny picture; deeper filters mix the channels before them. Training shapes "
        "them; below you can also ask a channel to draw the input it likes best."
    ),
)
ss = st.session_state


bundle = model_picker.pick_model("filters", zoo=True)
convs = filt.conv_layers(bundle.model)
if not convs:
    st.error("This model has no convolution layers, so it has no filters to show.")
    st.stop()
if not bundle.trained:
    st.info(f"**{bundle.name}** has not been trained: its filters are random numbers from "
            "the initialisation. Train it on the Train page, or pick a pretrained model, to "
            "see learned edges and colour blobs.")  # fmt: skip
if ss.get("filters.layer") not in convs:
    ss["filters.layer"] = convs[0]
name = st.selectbox("Convolution layer", convs, key="filters.layer")
weights = filt.kernel_weights(bundle.model, name)
arch = architecture(bundle)
twin = (zoo_model(arch, False) if arch else filt.untrained_twin(bundle)) if bundle.trained else None
o, i, kh, kw = weights.shape
st.markdown(f"**{name}**: {o} filters, each {i}×{kh}×{kw} (input channels × height × width).")

kernels, histogram, favourite = st.tabs(["Kernels", "Weight histogram", "Feature visualization"])
with kernels:
    sides = [("trained" if bundle.trained else "this model", weights)]
    if twin is not None:
        sides.append(("freshly initialised, same network", filt.kernel_weights(twin.model, name)))
    for col, (label, w) in zip(st.columns(len(sides)), sides, strict=True):
        col.markdown(f"**{label}**")
        if w.shape[1] == 3:
            col.plotly_chart(fiz.kernel_tiles_figure(w), key=f"filters.tiles.{label}")
            col.caption("Each tile is one filter as colours: grey is 0, brighter red/green/blue "
                        "are positive weights on that colour, darker are negative.")  # fmt: skip
        col.plotly_chart(fiz.kernel_grid_figure(w), key=f"filters.grid.{label}")
        col.caption("A row per filter, a column per input channel (first 16 of each); hover "
                    "for the weight.")  # fmt: skip
with histogram:
    series = {"this model": weights.ravel()}
    if twin is not None:
        series = {"trained": weights.ravel(),
                  "freshly initialised": filt.kernel_weights(twin.model, name).ravel()}  # fmt: skip
    st.plotly_chart(fiz.weight_histogram_figure(series), key="filters.histogram")
    st.caption(f"{weights.size:,} weights in {name}. Training usually widens the spread and "
               "makes some weights clearly larger than the rest.")  # fmt: skip
with favourite:
    c = st.columns(4)
    channel = c[0].number_input(f"Channel (0–{o - 1})", 0, o - 1, 0, key="filters.channel")
    steps = c[1].slider("Steps", 8, 256, 96, 8, key="filters.steps")
    jitter = c[2].slider("Jitter (pixels)", 0, 8, 2, key="filters.jitter")
    seed = c[3].number_input("Seed", 0, 2**31 - 1, 0, key="filters.seed")
    if st.button(f"Synthesize the input that excites channel {channel} of {name}",
                 key="filters.synthesize"):  # fmt: skip
        config = filt.FeatureVizConfig(steps=steps, jitter=jitter, seed=int(seed))
        bar = st.progress(0.0, text="Gradient ascent on the input…")
        try:
            ss["_filters.viz"] = (bundle, name, channel, filt.visualize_channel(
                bundle, name, int(channel), config, progress=bar.progress))  # fmt: skip
        except ActivationError as err:
            st.error(f"The input could not be synthesized: {err}")
        bar.empty()
    done = ss.get("_filters.viz")
    if done and done[0] is bundle and done[1:3] == (name, channel):
        viz = done[3]
        left, right = st.columns(2)
        left.image(filt.to_png(viz.image), caption=f"{name}, channel {channel}", width="stretch")
        right.plotly_chart(fiz.ascent_curve_figure(viz.curve), key="filters.curve")
        right.caption(f"Mean activation of the channel: {viz.start:.3f} on the starting noise, "
                      f"{viz.end:.3f} on this image.")  # fmt: skip
        png_name = f"{name}_channel{channel}.png"
        st.download_button("Download image (PNG)", filt.to_png(viz.image), png_name,
                           "image/png", key="filters.download")  # fmt: skip

with st.expander("Go deeper"):
    st.markdown("Feature visualization (Olah, Mordvintsev and Schubert, Distill 2017) starts "
                "from faint gray noise and repeatedly moves the normalized input $x$ uphill on "
                "the channel's mean activation, with a small penalty on large values. Each "
                "step is an Adam step (an adaptive gradient step, size η) on:")  # fmt: skip
    st.latex(r"\max_x\;\tfrac{1}{HW}\sum_{i,j} A_k(x)[i,j]"
             r" - \lambda\,\overline{x^2}")  # fmt: skip
    st.markdown(
        "Each step first shifts the image by a few random pixels (jitter), every few steps "
        "blurs it slightly, and keeps every pixel in its valid range; without such priors "
        "the ascent finds high-frequency noise that excites the channel but means nothing to "
        "us. Parameters of a filter: $C_{in}/\\text{groups}\\cdot k_h\\cdot k_w$ weights "
        "plus one bias.\n\n"
        "Answers curriculum questions 6, 38, 39 (what feature detectors look for and how they "
        "build up with depth) and 21, 28 (what a CNN learns when it trains)."
    )
