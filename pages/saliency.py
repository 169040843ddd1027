"""Saliency: which pixels made the network decide, by Captum's attribution methods, and the
model-randomization sanity check (Adebayo et al., 2018) that tells explanations of the network
from pictures of the image."""

import streamlit as st

from models.explain import attribution as attr
from models.explain import sanity
from ui import frame, glossary, results, state
from ui.explain import target_picker
from ui.model_picker import pick_model
from ui.panels import saliency as panel
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
glossary.popover_for("saliency")
st.page_link(
    "pages/attention.py",
    icon=":material/psychology:",
    label="Saliency explains one decision after the fact; it is not attention. "
    "Attention blocks are part of the network: see the Attention page.",
)


def _read(bundle, image):
    x = attr.prepare_pixels(image, bundle)
    return x, attr.predict(bundle, x)[0]


bundle = pick_model("saliency")
image = state.current_image()
try:  # computed again only when the model or the image changes
    x, probs = results.memo("saliency", "probs", (bundle, image), lambda: _read(bundle, image))
except (ValueError, RuntimeError) as err:
    st.error(f"This model cannot read the image: {err}")
    st.stop()

names = list(bundle.class_names)
left, right = st.columns([1, 1])
with left:
    target = target_picker("saliency", "Explain the class", names, probs)
    chosen = st.multiselect(
        "Methods",
        list(attr.ATTRIBUTION_METHODS),
        key="saliency.methods",
        default=["Integrated gradients", "Grad-CAM"],
        max_selections=6,
    )
with right:
    bars = results.memo(
        "saliency",
        "bars",
        (bundle, image, int(target)),
        lambda: sviz.probabilities_figure(names, probs, highlight=target),
    )
    st.plotly_chart(bars, key="saliency.probs")
    st.caption(f"Probability of {names[int(target)]}: {float(probs[int(target)]):.1%}.")
requests = panel.settings_panel(chosen, bundle)
pressed = st.button("Explain", type="primary", key="saliency.run")
maps_key, maps = panel.maps(bundle, image, x, int(target), requests, pressed)
panel.maps_view(bundle, maps_key, x, maps)
if not chosen and not maps:
    st.info("Pick at least one method.")

st.subheader("Sanity check: randomize the weights")
st.markdown(
    "A map that explains the network must change when the network's weights are "
    "destroyed. Here the weight layers of a copy are re-initialized one after another, "
    "from the output down to the input, and after each step every map is compared "
    "with the trained model's by Spearman's rank correlation ρ, of |map| (solid) and "
    "of the signed map (dotted), as Adebayo et al. (2018) do."
)
panel.sanity_panel(bundle, image, x, int(target), requests)

with st.expander("Go deeper"):
    st.markdown(
        "Saliency is the gradient of the class score $S_c$ (a logit, before softmax) "
        "with respect to each pixel (Simonyan et al., 2014). Integrated gradients "
        "(Sundararajan et al., 2017) multiply the difference from a baseline $x'$ by "
        "the gradient averaged along the straight path, so the map adds up to "
        "$S_c(x)-S_c(x')$; Captum's convergence delta is how far the sum is "
        "off:"
    )
    st.latex(
        r"\mathrm{IG}_i(x)=(x_i-x'_i)\int_0^1\frac{\partial S_c(x'+\alpha(x-x'))}"
        r"{\partial x_i}\,d\alpha,\qquad"
        r"\sum_i \mathrm{IG}_i(x)\approx S_c(x)-S_c(x')"
    )
    st.markdown(
        "Grad-CAM (Selvaraju et al., 2017) weighs a layer's rectified maps $A^k$ "
        "(after the ReLU) by their mean gradient, sums them, cuts the negatives and "
        "upsamples the result to the image:"
    )
    st.latex(
        r"L^c=\mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big),\quad"
        r"\alpha_k^c=\frac{1}{Z}\sum_{i,j}\frac{\partial S_c}{\partial A^k_{ij}}"
    )
    st.markdown(
        "SmoothGrad (Smilkov et al., 2017) averages maps over copies of the image with "
        "Gaussian noise of std σ, a share of the pixel range. The sanity check follows Adebayo "
        "et al. (2018), *Sanity checks for saliency maps*: cascading randomization and "
        "Spearman's ρ with and without absolute values. The paper reports ρ and draws no "
        f"line; the ρ ≥ {sanity.SIMILAR} used in the verdicts is ours.\n\n"
        "What this page answers: what the features detect, for your own image and model. "
        "Attention in CNNs is the Attention page's subject."
    )
