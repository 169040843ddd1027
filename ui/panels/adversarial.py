"""The Adversarial page's panels: the attack's controls, the attack shown, the ε curve.

The attacks are seeded, so an attack, the ε curve and their figures are functions of the model,
the image and the settings: made once for the whole class on a shipped model (`results.memo`).
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from models.bundle import ModelBundle
from models.errors import CNNLabError
from models.explain import adversarial as adv
from ui.results import memo, on_press
from viz import adversarial as aviz

PAGE = "adversarial"
Source = tuple[ModelBundle, Image.Image, adv.AttackConfig]  # what an attack is made from


def source(bundle: ModelBundle, image: Image.Image, config: adv.AttackConfig) -> Source:
    """The model, image and attack settings: the key of the attack and of its figures."""
    return (bundle, image, config)


def attack_controls() -> tuple[adv.AttackConfig, int]:
    """The attack's settings (AttackError if they cannot be used) and the display's amplifier."""
    left, mid, right = st.columns(3)
    method = left.radio("Attack", adv.ATTACKS, horizontal=True, key=f"{PAGE}.method")
    eps = left.slider(
        "ε: largest change per pixel (/255)", 0.0, 64.0, 8.0, 0.5, key=f"{PAGE}.epsilon"
    )
    pgd = method == "PGD"
    steps = mid.number_input("PGD steps", 1, 100, 10, key=f"{PAGE}.steps", disabled=not pgd)
    step_size = mid.number_input(
        "PGD step size (/255)", 0.1, 64.0, 2.0, 0.1, key=f"{PAGE}.step_size", disabled=not pgd
    )
    random_start = right.checkbox(
        "PGD: random start in the ε-box", True, key=f"{PAGE}.random_start", disabled=not pgd
    )
    amplify = right.slider("Show the perturbation ×", 1, 50, 10, key=f"{PAGE}.amplify")
    config = adv.AttackConfig(method, eps, int(steps), float(step_size), random_start)
    return config.effective(), amplify


def attack(src: Source) -> adv.AttackResult:
    """The attack on the image, computed again only when the model, image or attack changes
    (once for the class on a shipped model)."""
    return memo(PAGE, "attack", src, lambda: adv.attack_image(*src))


def _images_figure(names: list[str], result: adv.AttackResult, amplify: int) -> go.Figure:
    before, after = names[result.label], names[int(result.probs_after.argmax())]
    titles = (
        f"Original: {before} ({result.probs_before.max():.0%})",
        f"Perturbation ×{amplify} (L∞ = {result.linf:.1f}/255)",
        f"Adversarial: {after} ({result.probs_after.max():.0%})",
    )
    return aviz.attack_figure(result.original, result.adversarial, amplify, titles)


def attack_view(src: Source, names: list[str], result: adv.AttackResult, amplify: int) -> None:
    """The three images, whether the network was fooled, and the probabilities before/after."""
    eps = src[2].epsilon
    before, after = names[result.label], names[int(result.probs_after.argmax())]
    images = memo(PAGE, "images", (src, amplify), lambda: _images_figure(names, result, amplify))
    st.plotly_chart(images, key=f"{PAGE}.images")
    if result.fooled:
        st.success(f"Fooled: the network now says **{after}** instead of **{before}**.")
    else:
        st.info(
            f"Not fooled at ε = {eps:g}/255: the answer is still **{before}**. Raise ε or use PGD."
        )
    st.caption(f"Loss of the original answer: {result.loss_before:.3f} → {result.loss_after:.3f}.")
    probs = memo(
        PAGE,
        "probs",
        src,
        lambda: aviz.before_after_figure(names, result.probs_before, result.probs_after),
    )
    st.plotly_chart(probs, key=f"{PAGE}.probs")


def _measure(bundle: ModelBundle, config: adv.AttackConfig, eps_max: int, n: int):
    bar = st.progress(0.0, text="Attacking the validation images…")
    grid = [round(eps_max * i / 8, 2) for i in range(9)]
    try:
        return adv.robustness_curve(bundle, grid, config, n, bar.progress)
    finally:
        bar.empty()


def _curve_view(r: adv.Robustness, names: list[str]) -> tuple[go.Figure, bytes]:
    """(the accuracy, or unchanged answers, against ε; the curve as CSV)."""
    label = "accuracy" if r.labels_match else "answers unchanged"
    values = r.accuracy if r.labels_match else r.agreement
    chance = 1 / len(names) if r.labels_match else None
    figure = aviz.robustness_figure(list(r.epsilons), list(values), label, chance)
    return figure, r.to_csv().encode()


def robustness_panel(bundle: ModelBundle, config: adv.AttackConfig, names: list[str]) -> None:
    """The ε sliders, the Measure button, and the curve with its CSV once measured."""
    eps_max = st.slider("Largest ε (/255)", 2, 64, 16, key=f"{PAGE}.eps_max")
    n = st.select_slider("Images", [50, 100, 200, 400], 200, key=f"{PAGE}.n_images")
    pressed = st.button("Measure", key=f"{PAGE}.measure")
    # the curve sets ε itself, so the single image's ε is not one of its inputs
    inputs = (
        bundle,
        config.method,
        config.steps,
        config.step_size,
        config.random_start,
        config.seed,
        eps_max,
        n,
    )

    def measured() -> adv.Robustness:  # seeded: one measurement for the class
        return memo(PAGE, "measured", inputs, lambda: _measure(bundle, config, eps_max, n))

    try:
        r = on_press(PAGE, "curve", inputs, measured, pressed)
    except (CNNLabError, ValueError, RuntimeError) as err:
        st.error(f"The measurement failed: {err}")
        return
    if r is None:
        return
    figure, csv = memo(PAGE, "curve_view", inputs, lambda: _curve_view(r, names))
    st.plotly_chart(figure, key=f"{PAGE}.curve")
    st.caption(f"Attacked: {r.data_name}.")
    if not r.labels_match:
        st.caption(
            "These images are not of this model's classes, so the curve shows the "
            "share of answers that stay as they were on the clean image."
        )
    st.download_button("Curve (.csv)", csv, "robustness.csv", "text/csv", key=f"{PAGE}.download")
