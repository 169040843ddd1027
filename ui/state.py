"""What a session carries from page to page: its network, its image and its model.

Every value lives in `st.session_state` under one key. Widgets get their own keys, and their
values are copied here, because Streamlit forgets a widget's value on pages that do not draw it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import zlib

import streamlit as st
from PIL import Image

from models.bundle import ModelBundle, untrained_bundle
from models.errors import CNNLabError
from models.network.presets import DEFAULT_PRESET, PRESETS
from models.network.spec import NetworkSpec, SpecError
from models.training.checkpoint import CheckpointError
from models.training.checkpoint import to_bytes as checkpoint_bytes
from ui import results, workspace
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
    """Fill in defaults once per session: a returning browser's workspace first, then a `?net=`
    link's network (a link wins over what was saved), then the defaults."""
    ss = st.session_state
    restored = workspace.begin() or workspace.take_switch()
    if restored is not None:
        _restore(restored)
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

        set_current_image(SAMPLE_IMAGES[DEFAULT_SAMPLE](), DEFAULT_SAMPLE, save=False)


# What the workspace keeps (ui/workspace.py): the names of its values and files.
W_NETWORK, W_IMAGE, W_PIPELINE, W_SESSION = "network", "image", "pipeline", "session"
W_IMAGE_FILE, W_MODEL_FILE = "image.png", "model.pt"
KEPT_PREFIXES = ("_lessons.", "lessons.step")  # session values a workspace keeps (lesson progress)
_SAMPLE_PICKED = "_kept.sidebar.sample"  # the image picker's remembered choices (ui/image_picker)
_SOURCE_PICKED = "_kept.sidebar.image_source"


def _restore(saved: workspace.Restored) -> None:
    """Put back what a workspace held; a part that cannot be read is left out and said."""
    parts = (
        ("network", _restore_network),
        ("image", _restore_image),
        ("model", _restore_model),
        ("augmentation pipeline", _restore_pipeline),
        ("lesson progress", _restore_session),
    )
    for what, put_back in parts:
        try:
            put_back(saved)
        except (CNNLabError, ValueError, TypeError, KeyError, OSError) as err:
            workspace.notice(f"Your saved {what} could not be restored ({err}).")


def _restore_network(saved: workspace.Restored) -> None:
    if W_NETWORK in saved.fields:
        st.session_state[NETWORK] = NetworkSpec.from_json(saved.fields[W_NETWORK])


def _restore_image(saved: workspace.Restored) -> None:
    from models.data.images import load_image
    from models.data.samples import SAMPLE_IMAGES

    if W_IMAGE not in saved.fields:
        return
    info = json.loads(saved.fields[W_IMAGE])
    name = str(info["name"])
    if info.get("sample") and name in SAMPLE_IMAGES:
        set_current_image(SAMPLE_IMAGES[name](), name, save=False)
        st.session_state[_SAMPLE_PICKED] = name
    elif W_IMAGE_FILE in saved.blobs:
        set_current_image(load_image(saved.blobs[W_IMAGE_FILE]), name, save=False)
        st.session_state[_SOURCE_PICKED] = "Upload"


def _restore_model(saved: workspace.Restored) -> None:
    from models.training.checkpoint import from_bytes

    if W_MODEL_FILE in saved.blobs:
        bundle = from_bytes(saved.blobs[W_MODEL_FILE])
        if bundle.spec is not None and bundle.spec == st.session_state.get(NETWORK):
            st.session_state[MODEL] = bundle


def _restore_pipeline(saved: workspace.Restored) -> None:
    from models.data.augment import PipelineSpec

    if W_PIPELINE in saved.fields:
        st.session_state[PIPELINE] = PipelineSpec.from_dict(json.loads(saved.fields[W_PIPELINE]))


def _restore_session(saved: workspace.Restored) -> None:
    if W_SESSION in saved.fields:
        values = json.loads(saved.fields[W_SESSION])
        for key, value in values.items():
            if isinstance(key, str) and key.startswith(KEPT_PREFIXES):
                st.session_state[key] = value


def keep_session_values(values: dict) -> None:
    """Save session values (lesson progress) with the workspace; only KEPT_PREFIXES keys."""
    kept = {k: v for k, v in values.items() if k.startswith(KEPT_PREFIXES)}
    workspace.save_json(W_SESSION, kept, "lesson progress")


def current_spec() -> NetworkSpec:
    return st.session_state[NETWORK]


def set_current_spec(spec: NetworkSpec) -> None:
    """Make `spec` the session's network; a trained model of another network is let go."""
    ss = st.session_state
    ss[NETWORK] = spec
    bundle = ss.get(MODEL)
    if bundle is not None and bundle.spec != spec:
        del ss[MODEL]
        workspace.save_file(W_MODEL_FILE, None, "model")
    workspace.save_text(W_NETWORK, spec.to_json(indent=None), "network")


def current_image() -> Image.Image:
    """The session's image, always RGB."""
    return st.session_state[IMAGE]


def current_image_name() -> str:
    return st.session_state.get(IMAGE_NAME, "image")


def set_current_image(image: Image.Image, name: str, save: bool = True) -> None:
    """Make `image` the session's image; an uploaded one is saved with the workspace."""
    from models.data.samples import SAMPLE_IMAGES

    st.session_state[IMAGE] = image
    st.session_state[IMAGE_NAME] = name
    if not save:
        return
    sample = name in SAMPLE_IMAGES
    if not sample:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        workspace.save_file(W_IMAGE_FILE, buffer.getvalue(), "image")
    workspace.save_json(W_IMAGE, {"name": name, "sample": sample}, "image")


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
        workspace.save_text(W_NETWORK, bundle.spec.to_json(indent=None), "network")
        with contextlib.suppress(CheckpointError):  # torchvision's models have no spec: not kept
            workspace.save_file(W_MODEL_FILE, checkpoint_bytes(bundle), "model")


def saved_pipeline():
    """The augmentation pipeline saved on the Augmentation page for training, or None."""
    return st.session_state.get(PIPELINE)


def set_pipeline(spec) -> None:
    """Save an augmentation pipeline (a PipelineSpec) for the Train page, with the workspace."""
    st.session_state[PIPELINE] = spec
    workspace.save_json(W_PIPELINE, spec.to_dict(), "augmentation pipeline")
