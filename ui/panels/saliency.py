"""The Saliency page's panels: methods and their settings, the maps, the sanity check."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st
import torch
from PIL import Image

from models.bundle import ModelBundle
from models.errors import CNNLabError
from models.explain import attribution as attr
from models.explain.layers import conv_layers
from models.explain.sanity import SIMILAR, SanityResult, sanity_check, weight_layers
from ui.params import param_widgets
from ui.results import forget, on_press, remembered, value_key
from viz import saliency as sviz

PAGE = "saliency"
Requests = dict[str, dict[str, Any]]  # method name -> its settings


def method_settings(method: attr.Method, bundle: ModelBundle) -> dict[str, Any]:
    """One widget per setting of the method, keyed `saliency.<method>.<setting>`.

    A layer setting chooses among the model's conv layers, the last one by default (none
    without conv layers: the method then says so when it runs).
    """
    layers = tuple(conv_layers(bundle.model))
    params = [
        p if p is not attr.LAYER else replace(p, options=layers, default=layers[-1])
        for p in method.params
        if p is not attr.LAYER or layers
    ]
    return param_widgets(params, f"{PAGE}.{method.name}")


def settings_panel(chosen: list[str], bundle: ModelBundle) -> Requests:
    """An expander of settings per chosen method: {method: settings}."""
    requests = {}
    for name in chosen:
        method = attr.ATTRIBUTION_METHODS[name]
        with st.expander(f"{name}: settings"):
            st.caption(method.about)
            requests[name] = method_settings(method, bundle)
    return requests


def maps(
    bundle: ModelBundle,
    image: Image.Image,
    x: torch.Tensor,
    target: int,
    requests: Requests,
    pressed: bool,
) -> dict[str, attr.Attribution]:
    """The maps: computed for a new model or image, or on a press; kept while settings change.

    Maps of older settings stay on screen with a caption asking for a press.
    """
    request = value_key((target, requests))

    def compute() -> tuple[str, dict[str, attr.Attribution]]:
        bar = st.progress(0.0, text="Attributing…")
        try:
            return request, attr.compute_attributions(bundle, x, target, requests, bar.progress)
        finally:
            bar.empty()

    if pressed:
        forget(PAGE, "maps")
    try:
        done, results = remembered(PAGE, "maps", (bundle, image), compute)
    except CNNLabError as err:
        st.error(str(err))
        return {}
    if done != request and results:
        st.caption("The settings changed: press **Explain** to update the maps.")
    return results


def maps_view(x: torch.Tensor, results: dict[str, attr.Attribution]) -> None:
    """The overlay controls, the maps over the image, completeness checks and downloads."""
    shown, sign_col, clip_col = st.columns([2, 2, 1])
    mode = shown.radio("Overlay", sviz.OVERLAYS, horizontal=True, key=f"{PAGE}.overlay")
    sign = sign_col.radio("Sign", attr.SIGNS, index=2, horizontal=True, key=f"{PAGE}.sign")
    pct = clip_col.slider("Clip at percentile", 80.0, 100.0, 99.0, 0.5, key=f"{PAGE}.clip")
    heats = {name: attr.heatmap(r.map, sign, pct) for name, r in results.items()}
    if not heats:
        return
    pixels = x[0].permute(1, 2, 0).numpy()  # (H, W, C)
    st.plotly_chart(sviz.saliency_figure(pixels, heats, mode, sign == "all"), key=f"{PAGE}.figure")
    for name, r in results.items():
        if r.completeness is not None:
            st.caption(f"**{name}**, completeness: {r.completeness.sentence()}.")
    pick = st.selectbox("Download the map of", list(heats), key=f"{PAGE}.download_method")
    png = sviz.png_bytes(sviz.overlay_rgb(pixels, heats[pick], mode, sign == "all"), upscale=4)
    one, two = st.columns(2)
    one.download_button(
        "Overlay (.png)", png, "saliency.png", "image/png", key=f"{PAGE}.download_png"
    )
    two.download_button(
        "Raw map (.npy, C×H×W)",
        attr.npy_bytes(results[pick].map),
        "saliency.npy",
        key=f"{PAGE}.download_npy",
    )


def _sanity(
    bundle: ModelBundle, x: torch.Tensor, target: int, requests: Requests, depth: int
) -> SanityResult:
    bar = st.progress(0.0, text="Randomizing layers and attributing again…")
    try:
        return sanity_check(bundle, x, target, requests, depth, progress=bar.progress)
    finally:
        bar.empty()


def sanity_panel(
    bundle: ModelBundle, image: Image.Image, x: torch.Tensor, target: int, requests: Requests
) -> None:
    """How many layers to randomize, the button, and the cascade with its verdicts."""
    ss = st.session_state
    n_layers = len(weight_layers(bundle.model))
    if not 1 <= ss.get(f"{PAGE}.top_k", 0) <= n_layers:
        ss[f"{PAGE}.top_k"] = n_layers  # a new model: all its layers, by default
    depth = n_layers
    if n_layers > 1:
        depth = st.slider(
            "Layers to randomize, from the output down", 1, n_layers, key=f"{PAGE}.top_k"
        )
    pressed = st.button("Run the sanity check", key=f"{PAGE}.sanity", disabled=not requests)
    inputs = (bundle, image, target, requests, depth)
    try:
        result = on_press(
            PAGE, "sanity", inputs, lambda: _sanity(bundle, x, target, requests, depth), pressed
        )
    except (CNNLabError, RuntimeError) as err:
        st.error(f"The sanity check failed: {err}")
        return
    if result is None:
        return
    st.plotly_chart(sviz.sanity_figure(list(result.steps), result.maps), key=f"{PAGE}.cascade")
    st.plotly_chart(
        sviz.correlation_figure(list(result.steps), result.rank_abs, result.rank_signed, SIMILAR),
        key=f"{PAGE}.rho",
    )
    for name in result.rank_abs:
        alarm = result.complete and result.unchanged(name)
        (st.warning if alarm else st.info)(result.verdict(name))
