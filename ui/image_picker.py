"""The sidebar's image picker: a built-in sample, an upload or the camera.

An upload is decoded once, when its `file_id` is new, into an image already shrunk to a
displayable size (`load_image`), and its sidebar thumbnail is encoded once per image, for
every session (`results.shared`): a rerun neither decodes nor encodes anything.
"""

from __future__ import annotations

import streamlit as st
from PIL import Image

from models.data.images import ImageError, load_image, preview_bytes
from models.data.samples import SAMPLE_IMAGES
from ui import results, state

SOURCES = ("Sample", "Upload", "Camera")
IMAGE_TYPES = ["png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff"]


def _keep(widget_key: str, default):
    """Give a sidebar widget its last value back on every page (see ui/state.py)."""
    store = f"_kept.{widget_key}"
    # Streamlit drops a widget's value when another page draws "the same" widget, so every
    # page sets it again from our own copy before drawing it.
    st.session_state[widget_key] = st.session_state.get(store, default)

    def save() -> None:
        st.session_state[store] = st.session_state[widget_key]

    return save


def _use_bytes(data: bytes, name: str) -> None:
    try:
        state.set_current_image(load_image(data), name)
    except ImageError as err:
        st.error(f"{name}: {err} The previous image is still in use.")


def image_picker() -> None:
    """Choose the session's image; show it as a thumbnail."""
    st.markdown("**Your image**")
    source = st.radio(
        "Source",
        SOURCES,
        horizontal=True,
        key="sidebar.image_source",
        on_change=_keep("sidebar.image_source", SOURCES[0]),
        label_visibility="collapsed",  # the bold "Your image" above names it
    )
    if source == "Sample":
        names = list(SAMPLE_IMAGES)
        name = st.selectbox(
            "Sample image", names, key="sidebar.sample", on_change=_keep("sidebar.sample", names[0])
        )
        if name != st.session_state.get(state.IMAGE_NAME):
            state.set_current_image(SAMPLE_IMAGES[name](), name)
    elif source == "Upload":
        upload = st.file_uploader("Upload an image", type=IMAGE_TYPES, key="sidebar.upload")
        if upload is not None and upload.file_id != st.session_state.get("_upload_id"):
            st.session_state["_upload_id"] = upload.file_id
            _use_bytes(upload.getvalue(), upload.name)
    else:
        shot = st.camera_input("Take a photo", key="sidebar.camera")
        if shot is not None and shot.file_id != st.session_state.get("_camera_id"):
            st.session_state["_camera_id"] = shot.file_id
            _use_bytes(shot.getvalue(), "camera photo")
    image = state.current_image()
    st.image(
        preview(image),
        caption=f"{state.current_image_name()} · {image.width}×{image.height}",
        width="stretch",
        alt=f"Your image: {state.current_image_name()}",
    )


def preview(image: Image.Image) -> bytes:
    """The image's thumbnail, encoded once per image for every session, not on every rerun.

    Given a PIL image, st.image encodes it at full size on every run (1.2 s for 40 megapixels);
    given small JPEG bytes, it sends them on as they are. A class on the same sample image
    shares one encoding (and one copy of its bytes).
    """
    # The session keeps a reference to the shared bytes, not a copy.
    return results.remembered(
        "image_picker", "preview", image, lambda: results.shared(preview_bytes, image)
    )
