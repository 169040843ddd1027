"""What a session carries from page to page: its network, its image and its model.

Every value lives in `st.session_state` under one key. Widgets get their own keys, and their
values are copied here, because Streamlit forgets a widget's value on pages that do not draw it.
"""

from __future__ import annotations

import base64
import binascii
import zlib

import streamlit as st
from PIL import Image

from models.bundle import ModelBundle, untrained_bundle
from models.network.presets import DEFAULT_PRESET, PRESETS
from models.network.spec import NetworkSpec, SpecError
from models.training.checkpoint import CheckpointError
from ui import results
from ui.shared_models import available_shipped, shipped_model

NETWORK, IMAGE, IMAGE_NAME, MODEL = "network", "image", "image_name", "model"
PIPELINE = "augmentation.pipeline"  # the PipelineSpec saved on Augmentation for the Train page
LINK_LOADED, LINK_ERROR = "_link.loaded", "_link.error"  # the last `?net=` link and its refusal
QUERY_KEY = "net"


def encode_spec(spec: NetworkSpec) -> str:
    """The spec packed for a URL: compact JSON, zlib, URL-safe base64."""
    raw = zlib.compress(spec.to_json(indent=None).encode(), 9)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MAX_LINK_CHARS = 100_000  # a 200-layer network packs into a few thousand characters
MAX_LINK_BYTES = 200_000  # its JSON, unpacked
DAMAGED_LINK = (
    "the network in this link is damaged (perhaps the link was cut short when it was copied), "
    "so it could not be read"
)


def decode_spec(text: str) -> NetworkSpec:
    """The inverse of `encode_spec`; a damaged, oversized or invalid link raises SpecError.

    Nothing bigger than a network could be is ever unpacked: the link's length and the unpacked
    size are capped first, then `NetworkSpec` checks the layers and what they would cost.
    """
    if not isinstance(text, str) or len(text) > MAX_LINK_CHARS:
        raise SpecError("this link is far longer than any network made here, so it was not read")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        unpacker = zlib.decompressobj()
        data = unpacker.decompress(raw, MAX_LINK_BYTES)
    except (binascii.Error, zlib.error, ValueError):  # ValueError: characters that are not ASCII
        raise SpecError(DAMAGED_LINK) from None
    if len(data) >= MAX_LINK_BYTES:
        raise SpecError(
            f"this link unpacks to more than {MAX_LINK_BYTES // 1000} kB, more than any network "
            "made here, so it was not opened"
        )
    if not unpacker.eof:
        raise SpecError(DAMAGED_LINK)
    try:
        return NetworkSpec.from_json(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError(DAMAGED_LINK) from None


def init() -> None:
    """Fill in defaults once per session; a `?net=` link sets the network."""
    ss = st.session_state
    if QUERY_KEY in st.query_params and ss.get(LINK_LOADED) != st.query_params[QUERY_KEY]:
        ss[LINK_LOADED] = st.query_params[QUERY_KEY]
        try:
            set_current_spec(decode_spec(st.query_params[QUERY_KEY]))
        except SpecError as err:
            ss[LINK_ERROR] = str(err)
    if NETWORK not in ss:
        ss[NETWORK] = PRESETS[DEFAULT_PRESET].spec
    if IMAGE not in ss:
        from models.data.samples import DEFAULT_SAMPLE, SAMPLE_IMAGES

        set_current_image(SAMPLE_IMAGES[DEFAULT_SAMPLE](), DEFAULT_SAMPLE)


def current_spec() -> NetworkSpec:
    return st.session_state[NETWORK]


def set_current_spec(spec: NetworkSpec) -> None:
    """Make `spec` the session's network; a trained model of another network is let go."""
    ss = st.session_state
    ss[NETWORK] = spec
    bundle = ss.get(MODEL)
    if bundle is not None and bundle.spec != spec:
        del ss[MODEL]


def current_image() -> Image.Image:
    """The session's image, always RGB."""
    return st.session_state[IMAGE]


def current_image_name() -> str:
    return st.session_state.get(IMAGE_NAME, "image")


def set_current_image(image: Image.Image, name: str) -> None:
    st.session_state[IMAGE] = image
    st.session_state[IMAGE_NAME] = name


def shipped_for(spec: NetworkSpec) -> ModelBundle | None:
    """The shipped checkpoint trained for exactly this network, if there is one (read-only)."""
    for name in available_shipped():
        try:
            bundle = shipped_model(name)
        except CheckpointError:
            continue
        if bundle.spec == spec:
            return bundle
    return None


def current_model() -> ModelBundle:
    """The session's own model; else the shipped model of its network; else an untrained one."""
    ss = st.session_state
    bundle = ss.get(MODEL) or shipped_for(current_spec())
    if bundle is None:
        spec = current_spec()
        bundle = results.remembered("state", "untrained", spec, lambda: untrained_bundle(spec))
    return bundle


def set_current_model(bundle: ModelBundle) -> None:
    """Make a trained or uploaded model the session's model (and its spec the network)."""
    ss = st.session_state
    ss[MODEL] = bundle
    if bundle.spec is not None:
        ss[NETWORK] = bundle.spec


def saved_pipeline():
    """The augmentation pipeline saved on the Augmentation page for training, or None."""
    return st.session_state.get(PIPELINE)
