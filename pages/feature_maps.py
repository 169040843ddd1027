"""Feature maps: what every channel of every layer computes for your image, from edges to parts."""

import streamlit as st

from models.data.shapes import make_shapes
from models.inspect import activations as act
from models.inspect.filters import top_exciting_images
from ui import frame, model_picker, state
from viz import feature_maps as fviz

frame(
    "Feature maps",
    intro=(
        "Each filter of a convolution slides over the image and leaves behind a map: bright "
        "where it found its pattern, dark where it did not. Every layer makes one map per "
        "filter (a channel) from the maps before it. In trained networks early layers react to "
        "edges and colours and later ones to larger parts (Zeiler and Fergus, 2014). Move the "
        "depth slider to walk through the network."
    ),
)
ss = st.session_state


@st.cache_data(show_spinner="Drawing the shapes data set…")
def shapes(n: int):
    return make_shapes(n, seed=0)[0]


def feature_maps(bundle, image) -> act.FeatureMaps:
    """Compute once per model and image; widgets then only redraw."""
    key = (bundle, image, bundle.trained)
    cached = ss.get("_feature_maps.result")
    if cached is None or any(a is not b for a, b in zip(cached[0], key, strict=True)):
        ss["_feature_maps.result"] = (key, act.compute_feature_maps(bundle, image))
    return ss["_feature_maps.result"][1]


def clamp(key: str, options: list) -> None:
    if ss.get(key) not in options:
        ss[key] = options[0]


bundle = model_picker.pick_model("feature_maps", zoo=True)
if not bundle.trained:
    st.info(f"**{bundle.name}** has not been trained: its filters are random, so these maps "
            "are random mixtures of the image, not learned features. Train it on the Train "
            "page, or pick a pretrained model above, to see what learning changes.")  # fmt: skip
try:
    fm = feature_maps(bundle, state.current_image())
except act.ActivationError as err:
    st.error(f"The feature maps could not be computed: {err}")
    st.stop()

seen, controls = st.columns([1, 2])
with seen:
    st.plotly_chart(fviz.model_input_figure(fm.image), key="feature_maps.input")
    c, h, w = bundle.input_shape
    mean, std = act.round3(bundle.mean), act.round3(bundle.std)
    st.caption(f"As the model sees it: {w}×{h} pixels, {c} channel(s), then normalized with "
               f"mean {mean} and std {std} per channel.")  # fmt: skip
with controls:
    clamp("feature_maps.layer", fm.names)
    name = st.select_slider("Depth: layer (input side → output side)", fm.names,
                            key="feature_maps.layer")  # fmt: skip
    layer = fm.layer(name)
    st.markdown(f"**{name}** · {layer.kind} · {layer.maps.shape[0]} channels of "
                f"{layer.maps.shape[1]}×{layer.maps.shape[2]}")  # fmt: skip
    scale = st.radio("Colour range", list(act.SCALES), format_func=act.SCALES.get,
                     horizontal=True, key="feature_maps.scale")  # fmt: skip
    ordered = st.toggle("Order channels by mean activation", key="feature_maps.ordered")
order = act.channel_order(layer.maps) if ordered else None
ranges = act.color_ranges(fm, name, scale)
st.plotly_chart(fviz.channel_grid_figure(layer.maps, ranges, order), key="feature_maps.grid")
st.download_button("Download all maps (.npz)", act.maps_npz(fm), "feature_maps.npz",
                   key="feature_maps.download")  # fmt: skip

one, sparsity, excite, journey = st.tabs(
    ["One channel", "Zeros after ReLU", "What excites it", "Through the network"]
)
channels = list(range(layer.maps.shape[0]))
with one:
    clamp("feature_maps.channel", channels)
    channel = st.selectbox("Channel", channels, key="feature_maps.channel")
    opacity = st.slider("Map opacity", 0.0, 1.0, 0.6, 0.05, key="feature_maps.opacity")
    st.plotly_chart(fviz.channel_overlay_figure(fm.image, layer.maps[channel], opacity),
                    key="feature_maps.overlay")  # fmt: skip
    if layer.before is not None:
        pair = fviz.before_after_figure(layer.before[channel], layer.maps[channel], layer.kind)
        st.plotly_chart(pair, key="feature_maps.before_after")
    else:
        st.caption("Pick an activation layer (ReLU, tanh, …) to compare before and after it.")
with sparsity:
    shares = act.zero_shares(fm)
    if shares:
        names, values = zip(*shares, strict=True)
        st.plotly_chart(fviz.zero_share_figure(list(names), list(values)),
                        key="feature_maps.zeros")  # fmt: skip
    else:
        st.caption("This network has no separate activation layers to measure.")
with excite:
    n = st.select_slider("Images to search (coloured shapes)", [64, 128, 256, 512], 256,
                         key="feature_maps.n_images")  # fmt: skip
    if st.button(f"Find the shapes that excite channel {channel} of {name} most",
                 key="feature_maps.excite"):  # fmt: skip
        bar = st.progress(0.0, text="Running the data set through the model…")
        ss["_feature_maps.exciting"] = (bundle, name, channel, top_exciting_images(
            bundle, shapes(n), name, channel, progress=bar.progress))  # fmt: skip
        bar.empty()
    found = ss.get("_feature_maps.exciting")
    if found and found[0] is bundle and found[1:3] == (name, channel):
        ex = found[3]
        st.plotly_chart(fviz.exciting_figure(ex.images, ex.boxes, ex.values),
                        key="feature_maps.exciting")  # fmt: skip
        st.caption("Titles: the channel's peak value. Box: the pixels that can move that peak "
                   "unit (where its gradient is not zero).")  # fmt: skip
with journey:
    st.plotly_chart(fviz.journey_figure(act.strongest_channels(fm, per_layer=6)),
                    key="feature_maps.journey")  # fmt: skip
    st.caption("A row per layer, its six strongest channels (highest mean), each on its own "
               "colour range. Maps shrink and get coarser as you go down.")  # fmt: skip

with st.expander("Go deeper"):
    st.markdown("Channel $k$ of a convolution is its own filter $W_k$ slid over all input "
                "channels plus a bias (here with stride 1 and no padding; PyTorch computes this "
                "cross-correlation and calls it convolution); the activation then acts on each "
                "number alone:")  # fmt: skip
    st.latex(r"A_k[i,j] = b_k + \sum_{c}\sum_{u,v} W_k[c,u,v]\,X_c[i+u,\,j+v]")
    st.latex(r"\mathrm{ReLU}(a)=\max(0,a)\qquad\text{zeros share}=\frac{\#\{A=0\}}{\#A}")
    st.markdown(
        "Colour range: *each channel* stretches every map to its own min and max (patterns "
        "show, sizes do not compare); *layer* and *whole network* share one range (like CNN "
        "Explainer's module and global scales).\n\n"
        "Answers curriculum questions 1, 3, 21, 28 (what a CNN does, following one image), "
        "5 (ReLU and sparsity), 6, 38, 39 (feature maps, spatial hierarchies, feature detectors)."
    )
