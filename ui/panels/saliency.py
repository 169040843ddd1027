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
from ui.results import memo, on_press, value_key
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
) -> tuple[str, dict[str, attr.Attribution]]:
    """The maps: computed for a new model or image, or on a press; kept while settings change.

    Returns (a key naming what they were computed from, the maps). The computation itself is
    `results.memo`'s: made once for the whole class on a shipped model, so 30 students opening
    the page on its defaults wait for one run of the methods, not 30. Maps of older settings
    stay on screen with a caption asking for a press.
    """
    request = value_key((target, requests))
    source = value_key((bundle, image))
    slot = f"_{PAGE}.maps"
    stored = st.session_state.get(slot)
    if pressed or stored is None or stored[0] != source:

        def compute() -> dict[str, attr.Attribution]:
            bar = st.progress(0.0, text="Attributing…")
            try:
                return attr.compute_attributions(bundle, x, target, requests, bar.progress)
            finally:
                bar.empty()

        try:
            found = memo(PAGE, "attributions", (bundle, image, target, requests), compute)
        except CNNLabError as err:
            st.error(str(err))
            return "", {}
        stored = (source, request, found)
        st.session_state[slot] = stored
    _, done, found = stored
    if done != request and found:
        st.caption("The settings changed: press **Explain** to update the maps.")
    return source + done, found


def _view(x: torch.Tensor, results: dict[str, attr.Attribution], mode: str, sign: str, pct: float):
    """(the maps over the image, the heat maps by method): what every overlay setting shows."""
    heats = {name: attr.heatmap(r.map, sign, pct) for name, r in results.items()}
    if not heats:
        return None, heats
    pixels = x[0].permute(1, 2, 0).numpy()  # (H, W, C)
    return sviz.saliency_figure(pixels, heats, mode, sign == "all"), heats


def _files(
    x: torch.Tensor, heat, raw: torch.Tensor, mode: str, signed: bool
) -> tuple[bytes, bytes]:
    """The chosen map as an overlay PNG and as raw numbers (.npy)."""
    pixels = x[0].permute(1, 2, 0).numpy()
    png = sviz.png_bytes(sviz.overlay_rgb(pixels, heat, mode, signed), upscale=4)
    return png, attr.npy_bytes(raw)


def maps_view(
    bundle: ModelBundle, key: str, x: torch.Tensor, results: dict[str, attr.Attribution]
) -> None:
    """The overlay controls, the maps over the image, completeness checks and downloads.

    `key` names the maps (`maps`' first value): figures and files are made once per key and
    setting, for the whole class when the model is shared."""
    shown, sign_col, clip_col = st.columns([2, 2, 1])
    mode = shown.radio("Overlay", sviz.OVERLAYS, horizontal=True, key=f"{PAGE}.overlay")
    sign = sign_col.radio("Sign", attr.SIGNS, index=2, horizontal=True, key=f"{PAGE}.sign")
    pct = clip_col.slider("Clip at percentile", 80.0, 100.0, 99.0, 0.5, key=f"{PAGE}.clip")
    figure, heats = memo(
        PAGE, "view", (bundle, key, mode, sign, pct), lambda: _view(x, results, mode, sign, pct)
    )
    if figure is None:
        return
    st.plotly_chart(figure, key=f"{PAGE}.figure")
    for name, r in results.items():
        if r.completeness is not None:
            st.caption(f"**{name}**, completeness: {r.completeness.sentence()}.")
    pick = st.selectbox("Download the map of", list(heats), key=f"{PAGE}.download_method")
    png, npy = memo(
        PAGE,
        "files",
        (bundle, key, mode, sign, pct, pick),
        lambda: _files(x, heats[pick], results[pick].map, mode, sign == "all"),
    )
    one, two = st.columns(2)
    one.download_button(
        "Overlay (.png)", png, "saliency.png", "image/png", key=f"{PAGE}.download_png"
    )
    two.download_button("Raw map (.npy, C×H×W)", npy, "saliency.npy", key=f"{PAGE}.download_npy")


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
