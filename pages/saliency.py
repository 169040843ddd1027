"""Saliency: which pixels made the network decide, by Captum's attribution methods, and the
model-randomization sanity check (Adebayo et al., 2018) that tells explanations of the network
from pictures of the image."""

import streamlit as st

from models.explain import attribution as attr
from models.explain.sanity import SIMILAR, sanity_check, weight_layers
from ui import frame, state
from ui.explain import method_settings, target_picker
from ui.model_picker import pick_model
from viz import saliency as sviz

frame(
    "Saliency",
    intro=(
        "An attribution method gives every pixel a score: how much it pushed the network "
        "towards one class. Methods disagree, because they ask different questions: how fast "
        "would the score move (gradients), what happens if this patch is hidden (occlusion), "
        "which maps of a late layer mattered (Grad-CAM). Compare them side by side."
    ),
)
st.page_link("pages/attention.py", icon=":material/psychology:",
             label="Saliency explains one decision after the fact; it is not attention. "
                   "Attention blocks are part of the network: see the Attention page.")  # fmt: skip
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
left, right = st.columns([1, 1])
with left:
    target = target_picker("saliency", "Explain the class", names, probs)
    chosen = st.multiselect("Methods", list(attr.ATTRIBUTION_METHODS), key="saliency.methods",
                            default=["Integrated gradients", "Grad-CAM"],
                            max_selections=6)  # fmt: skip
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
done, results, _ = ss.get("_saliency.maps", (None, {}, None))
new_subject = done is None or done[:2] != request[:2]  # another model or image: old maps lie
if st.button("Explain", type="primary", key="saliency.run") or new_subject:
    bar = st.progress(0.0, text="Attributing…")
    done, results = None, {}
    try:
        results = attr.compute_attributions(bundle, x, int(target), requests, bar.progress)
        done = request
        ss["_saliency.maps"] = (done, results, (bundle, image))  # alive: their ids stay theirs
    except attr.AttributionError as err:
        st.error(str(err))
    bar.empty()
if done != request and results:
    st.caption("The settings changed: press **Explain** to update the maps.")

shown, sign_col, clip_col = st.columns([2, 2, 1])
mode = shown.radio("Overlay", sviz.OVERLAYS, horizontal=True, key="saliency.overlay")
sign = sign_col.radio("Sign", attr.SIGNS, index=2, horizontal=True, key="saliency.sign")
pct = clip_col.slider("Clip at percentile", 80.0, 100.0, 99.0, 0.5, key="saliency.clip")
heats = {name: attr.heatmap(r.map, sign, pct) for name, r in results.items()}
pixels = x[0].permute(1, 2, 0).numpy()
if heats:
    st.plotly_chart(sviz.saliency_figure(pixels, heats, mode, sign == "all"),
                    key="saliency.figure")  # fmt: skip
    for name, r in results.items():
        if r.completeness is not None:
            st.caption(f"**{name}**, completeness: {r.completeness.sentence()}.")
    pick = st.selectbox("Download the map of", list(heats), key="saliency.download_method")
    png = sviz.png_bytes(sviz.overlay_rgb(pixels, heats[pick], mode, sign == "all"), upscale=4)
    one, two = st.columns(2)
    one.download_button("Overlay (.png)", png, "saliency.png", "image/png",
                        key="saliency.download_png")  # fmt: skip
    two.download_button("Raw map (.npy, C×H×W)", attr.npy_bytes(results[pick].map),
                        "saliency.npy", key="saliency.download_npy")  # fmt: skip
elif not chosen:
    st.info("Pick at least one method.")

st.subheader("Sanity check: randomize the weights")
st.markdown("A map that explains the network must change when the network's weights are "
            "destroyed. Here the weight layers of a copy are re-initialized one after another, "
            "from the output down to the input, and after each step every map is compared "
            "with the trained model's by Spearman's rank correlation ρ, of |map| (solid) and "
            "of the signed map (dotted), as Adebayo et al. (2018) do.")  # fmt: skip
n_layers = len(weight_layers(bundle.model))
if not 1 <= ss.get("saliency.top_k", 0) <= n_layers:
    ss["saliency.top_k"] = n_layers  # a new model: all its layers, by default
depth = n_layers
if n_layers > 1:
    depth = st.slider("Layers to randomize, from the output down", 1, n_layers,
                      key="saliency.top_k")  # fmt: skip
if st.button("Run the sanity check", key="saliency.sanity", disabled=not requests):
    bar = st.progress(0.0, text="Randomizing layers and attributing again…")
    try:
        result = sanity_check(bundle, x, int(target), requests, depth, progress=bar.progress)
        ss["_saliency.sanity"] = (request, result, (bundle, image))
    except (attr.AttributionError, RuntimeError) as err:
        st.error(f"The sanity check failed: {err}")
    bar.empty()
sanity = ss.get("_saliency.sanity")
if sanity and sanity[0][:2] == request[:2]:
    result = sanity[1]
    st.plotly_chart(sviz.sanity_figure(list(result.steps), result.maps), key="saliency.cascade")
    st.plotly_chart(sviz.correlation_figure(list(result.steps), result.rank_abs,
                                            result.rank_signed, SIMILAR),
                    key="saliency.rho")  # fmt: skip
    for name in result.rank_abs:
        alarm = result.complete and result.unchanged(name)
        st.warning(result.verdict(name)) if alarm else st.info(result.verdict(name))

with st.expander("Go deeper"):
    st.markdown("Saliency is the gradient of the class score $S_c$ (a logit, before softmax) "
                "with respect to each pixel (Simonyan et al., 2014). Integrated gradients "
                "(Sundararajan et al., 2017) multiply the difference from a baseline $x'$ by "
                "the gradient averaged along the straight path, so the map adds up to "
                "$S_c(x)-S_c(x')$; Captum's convergence delta is how far the sum is "
                "off:")  # fmt: skip
    st.latex(r"\mathrm{IG}_i(x)=(x_i-x'_i)\int_0^1\frac{\partial S_c(x'+\alpha(x-x'))}"
             r"{\partial x_i}\,d\alpha,\qquad"
             r"\sum_i \mathrm{IG}_i(x)\approx S_c(x)-S_c(x')")  # fmt: skip
    st.markdown("Grad-CAM (Selvaraju et al., 2017) weighs a layer's rectified maps $A^k$ "
                "(after the ReLU) by their mean gradient, sums them, cuts the negatives and "
                "upsamples the result to the image:")  # fmt: skip
    st.latex(r"L^c=\mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big),\quad"
             r"\alpha_k^c=\frac{1}{Z}\sum_{i,j}\frac{\partial S_c}{\partial A^k_{ij}}")  # fmt: skip
    st.markdown(
        "SmoothGrad (Smilkov et al., 2017) averages maps over copies of the image with "
        "Gaussian noise of std σ, a share of the pixel range. The sanity check follows Adebayo "
        "et al. (2018), *Sanity checks for saliency maps*: cascading randomization and "
        "Spearman's ρ with and without absolute values. The paper reports ρ and draws no "
        "line; the ρ ≥ 0.5 used in the verdicts is ours.\n\n"
        "Deepens curriculum questions 6, 38 and 39 (what the features detect) for your own "
        "image and model. Question 47, attention in CNNs, is the Attention page's."
    )
