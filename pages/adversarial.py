"""Adversarial examples: pixel changes too small to see that change the network's answer (FGSM
and PGD), and how accuracy falls as the allowed change ε grows."""

import streamlit as st

from models.explain import adversarial as adv
from ui import frame, state
from ui.model_picker import pick_model
from viz import adversarial as aviz

frame(
    "Adversarial examples",
    intro=(
        "The gradient that trains a network also tells an attacker which way to nudge each "
        "pixel to make the network's answer worse. A change of a few values out of 255 per "
        "pixel, invisible to you, is often enough to flip it. FGSM takes one such step; PGD "
        "takes several small ones and is stronger."
    ),
)
ss = st.session_state
bundle = pick_model("adversarial")
names = list(bundle.class_names)

left, mid, right = st.columns(3)
method = left.radio("Attack", adv.ATTACKS, horizontal=True, key="adversarial.method")
eps = left.slider("ε: largest change per pixel (/255)", 0.0, 64.0, 8.0, 0.5,
                  key="adversarial.epsilon")  # fmt: skip
steps = mid.number_input("PGD steps", 1, 100, 10, key="adversarial.steps",
                         disabled=method != "PGD")  # fmt: skip
step_size = mid.number_input("PGD step size (/255)", 0.1, 64.0, 2.0, 0.1,
                             key="adversarial.step_size", disabled=method != "PGD")  # fmt: skip
random_start = right.checkbox("PGD: random start in the ε-box", True,
                              key="adversarial.random_start", disabled=method != "PGD")  # fmt: skip
amplify = right.slider("Show the perturbation ×", 1, 50, 10, key="adversarial.amplify")
try:
    config = adv.AttackConfig(method, eps, int(steps), float(step_size), random_start)
    result = adv.attack_image(bundle, state.current_image(), config)
except (adv.AttackError, ValueError, RuntimeError) as err:
    st.error(f"The attack could not run: {err}")
    st.stop()

before, after = names[result.label], names[int(result.probs_after.argmax())]
titles = (f"Original: {before} ({result.probs_before.max():.0%})",
          f"Perturbation ×{amplify} (L∞ = {result.linf:.1f}/255)",
          f"Adversarial: {after} ({result.probs_after.max():.0%})")  # fmt: skip
st.plotly_chart(aviz.attack_figure(result.original, result.adversarial, amplify, titles),
                key="adversarial.images")  # fmt: skip
if result.fooled:
    st.success(f"Fooled: the network now says **{after}** instead of **{before}**.")
else:
    st.info(f"Not fooled at ε = {eps:g}/255: the answer is still **{before}**. Raise ε or use "
            "PGD.")  # fmt: skip
st.caption(f"Loss of the original answer: {result.loss_before:.3f} → {result.loss_after:.3f}.")
st.plotly_chart(aviz.before_after_figure(names, result.probs_before, result.probs_after),
                key="adversarial.probs")  # fmt: skip

st.subheader("Accuracy against ε")
st.markdown("The same attack on every image of a held-out set, at several ε. Digits models get "
            "the digits' validation split (20%, seed 0), which the shipped digits model never "
            "trained on, nor does one trained on the Train page at its default split. Other "
            "models get shapes drawn with a seed that training never uses.")  # fmt: skip
eps_max = st.slider("Largest ε (/255)", 2, 64, 16, key="adversarial.eps_max")
n = st.select_slider("Images", [50, 100, 200, 400], 200, key="adversarial.n_images")
if st.button("Measure", key="adversarial.measure"):
    bar = st.progress(0.0, text="Attacking the validation images…")
    grid = [round(eps_max * i / 8, 2) for i in range(9)]
    try:
        ss["_adversarial.curve"] = (bundle, adv.robustness_curve(bundle, grid, config, n,
                                                                 bar.progress))  # fmt: skip
    except (adv.AttackError, ValueError, RuntimeError) as err:
        st.error(f"The measurement failed: {err}")
    bar.empty()
curve = ss.get("_adversarial.curve")
if curve and curve[0] is bundle:
    r = curve[1]
    label = "accuracy" if r.labels_match else "answers unchanged"
    values = r.accuracy if r.labels_match else r.agreement
    chance = 1 / len(names) if r.labels_match else None
    st.plotly_chart(aviz.robustness_figure(list(r.epsilons), list(values), label, chance),
                    key="adversarial.curve")  # fmt: skip
    st.caption(f"Attacked: {r.data_name}.")
    if not r.labels_match:
        st.caption("These images are not of this model's classes, so the curve shows the share "
                   "of answers that stay as they were on the clean image.")  # fmt: skip
    cols = zip(r.epsilons, r.accuracy, r.agreement, strict=True)
    rows = "\n".join(f"{e},{a:.4f},{g:.4f}" for e, a, g in cols)
    st.download_button("Curve (.csv)", f"epsilon_255,accuracy,unchanged\n{rows}".encode(),
                       "robustness.csv", "text/csv", key="adversarial.download")  # fmt: skip

with st.expander("Go deeper"):
    st.markdown(
        "With cross-entropy loss $L$, label $y$ and pixels $x\\in[0,1]$, FGSM (Goodfellow, "
        "Shlens and Szegedy, 2015) moves every pixel by ε in the direction that raises the "
        "loss. Above, $y$ is the network's own answer on your image; on the ε curve it is the "
        "true label (when the set's classes are the model's)."
    )
    st.latex(r"x_{adv}=\mathrm{clip}_{[0,1]}\big(x+\epsilon\,\mathrm{sign}(\nabla_x L(x,y))\big)")
    st.markdown("PGD (Madry et al., 2018) starts at a random point of the ε-box (if ticked), "
                "repeats steps of size α and projects back into the box "
                "$\\|x'-x\\|_\\infty\\le\\epsilon$ (and into $[0,1]$) after each:")  # fmt: skip
    st.latex(r"x^{t+1}=\Pi_{\|x'-x\|_\infty\le\epsilon}\big(x^t+\alpha\,"
             r"\mathrm{sign}(\nabla_x L(x^t,y))\big)")  # fmt: skip
    st.markdown("The normalization sits inside the model here, so ε is a change of raw pixel "
                "values. Answers curriculum question 51 (adversarial examples).")  # fmt: skip
