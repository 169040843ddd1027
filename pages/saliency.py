"""Saliency: which pixels made the network decide, by Captum's attribution methods, and a sanity
check that tells explanations from edge detectors."""

import streamlit as st

from models import attribution as attr
from models.sanity import sanity_check, weight_layers
from ui import frame, state
from ui.explain import method_settings
from ui.model_picker import pick_model
from viz import saliency as sviz

frame(
    "Saliency",
    intro=(
        "An attribution method gives every pixel a score: how much it pushed the network "
        "towards one class. Methods disagree, because they ask different questions: how fast "
        "would the score move (gradients), what happens if this patch is hidden (occlusion), "
        "which parts of a late layer mattered (Grad-CAM). Compare them side by side."
    ),
)
ss = st.session_state
bundle = pick_model("saliency")
image = state.current_image()
try:
    x = attr.prepare_pixels(image, bundle)
    probs = attr.predict(bundle, x)[0]
except (ValueError, RuntimeError) as err:
    st.error(f"This model cannot read the image: {err}")
    st.stop()

names = list(bundle.class_names)
order = [int(i) for i in probs.argsort()[::-1]]
if ss.get("saliency.target") not in order:
    ss["saliency.target"] = order[0]
left, right = st.columns([1, 1])
with left:
    target = st.selectbox("Explain the class", order, key="saliency.target",
                          format_func=lambda i: f"{names[i]} ({probs[i]:.1%})",
                          help="The network's answer comes first.")  # fmt: skip
    chosen = st.multiselect(
        "Methods",
        list(attr.ATTRIBUTION_METHODS),
        key="saliency.methods",
        default=["Integrated gradients", "Grad-CAM"],
        max_selections=6,
    )
with right:
    st.plotly_chart(sviz.probabilities_figure(names, probs, highlight=target),
                    key="saliency.probs")  # fmt: skip
requests = {}
for name in chosen:
    method = attr.ATTRIBUTION_METHODS[name]
    with st.expander(f"{name}: settings"):
        st.caption(method.about)
        requests[name] = method_settings(method, bundle, "saliency")

request = (id(bundle), id(image), target, repr(requests))
if st.button("Explain", type="primary", key="saliency.run") or "_saliency.maps" not in ss:
    bar = st.progress(0.0, text="Attributing…")
    try:
        ss["_saliency.maps"] = (
            request,
            attr.compute_attributions(bundle, x, int(target), requests, bar.progress),
        )
    except attr.AttributionError as err:
        st.error(str(err))
    bar.empty()
done, maps = ss.get("_saliency.maps", (None, {}))
if done != request and maps:
    st.caption("The settings changed: press **Explain** to update the maps.")

shown, sign_col, clip_col = st.columns([2, 2, 1])
mode = shown.radio("Overlay", sviz.OVERLAYS, horizontal=True, key="saliency.overlay")
sign = sign_col.radio("Sign", attr.SIGNS, index=2, horizontal=True, key="saliency.sign")
pct = clip_col.slider("Clip at percentile", 80.0, 100.0, 99.0, 0.5, key="saliency.clip")
heats = {name: attr.heatmap(m, sign, pct) for name, m in maps.items()}
pixels = x[0].permute(1, 2, 0).numpy()
if heats:
    st.plotly_chart(sviz.saliency_figure(pixels, heats, mode, sign == "all"),
                    key="saliency.figure")  # fmt: skip
    pick = st.selectbox("Download the map of", list(heats), key="saliency.download_method")
    png = sviz.png_bytes(sviz.overlay_rgb(pixels, heats[pick], mode, sign == "all"), upscale=4)
    one, two = st.columns(2)
    one.download_button("Overlay (.png)", png, "saliency.png", "image/png",
                        key="saliency.download_png")  # fmt: skip
    two.download_button("Raw map (.npy, C×H×W)", attr.npy_bytes(maps[pick]), "saliency.npy",
                        key="saliency.download_npy")  # fmt: skip
elif not chosen:
    st.info("Pick at least one method.")

st.subheader("Sanity check: randomize the top layers")
st.markdown("A map that explains the network must change when the network's weights are "
            "destroyed. Here the layers are re-initialized one by one from the output down, on "
            "a copy, and each map is compared with the original by rank correlation.")  # fmt: skip
n_layers = len(weight_layers(bundle.model))
top_k = st.slider("Layers to randomize", 1, max(2, n_layers), min(3, max(2, n_layers)),
                  key="saliency.top_k", disabled=n_layers < 2)  # fmt: skip
if st.button("Run the sanity check", key="saliency.sanity", disabled=not requests):
    bar = st.progress(0.0, text="Randomizing layers and attributing again…")
    try:
        ss["_saliency.sanity"] = (
            request,
            sanity_check(bundle, x, int(target), requests, top_k, progress=bar.progress),
        )
    except (attr.AttributionError, RuntimeError) as err:
        st.error(f"The sanity check failed: {err}")
    bar.empty()
sanity = ss.get("_saliency.sanity")
if sanity and sanity[0][:2] == request[:2]:
    result = sanity[1]
    st.plotly_chart(sviz.sanity_figure(list(result.steps), result.maps), key="saliency.cascade")
    st.plotly_chart(sviz.correlation_figure(list(result.steps), result.correlations,
                                            result.threshold), key="saliency.rho")  # fmt: skip
    for name in result.edge_detectors():
        st.warning(f"**{name}** barely changed (ρ = {result.correlations[name][-1]:.2f}) with "
                   "random weights: here it shows the image's edges more than the network's "
                   "reasons.")  # fmt: skip

with st.expander("Go deeper"):
    st.markdown("Saliency is the gradient of the class score $S_c$ (a logit, before softmax) "
                "with respect to each pixel. Integrated gradients average it along a straight "
                "path from a baseline $x'$:")  # fmt: skip
    st.latex(r"\mathrm{IG}_i(x)=(x_i-x'_i)\int_0^1\frac{\partial S_c(x'+\alpha(x-x'))}"
             r"{\partial x_i}\,d\alpha")  # fmt: skip
    st.markdown("Grad-CAM weighs a layer's maps $A^k$ by their mean gradient:")
    st.latex(r"L^c=\mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big),\quad"
             r"\alpha_k^c=\frac{1}{Z}\sum_{i,j}\frac{\partial S_c}{\partial A^k_{ij}}")  # fmt: skip
    st.markdown(
        "SmoothGrad averages maps over copies of the image with Gaussian noise of std σ "
        "(here a share of the pixel range). The sanity check follows Adebayo et al. (2018), "
        "*Sanity checks for saliency maps*; ρ is Spearman's rank correlation of |map|.\n\n"
        "Answers curriculum questions 6, 38 and 39 (what the features detect) and 47 "
        "(where the network looks), for your own image and model."
    )
