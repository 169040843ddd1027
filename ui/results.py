"""Compute when the inputs change (or on a button press), and remember the result.

The one memo every page uses: `remembered` and `on_press` per session, `shared` for pure
results that every session may reuse (figures of shipped models and sample images).
A session's result is stored in `st.session_state["_<page>.<name>"]` with a key made from
the inputs' *values*: a spec's JSON, an image's digest, a bundle's token, settings. Never
`id()`, which Python reuses after garbage collection, so an id-keyed memo can hand back a
result computed for another object.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image

from models.bundle import ModelBundle
from models.settings import positive_setting
from ui import server
from ui.shared_models import is_shared_model
from viz import narrow

T = TypeVar("T")
_DIGEST = "cnnlab.digest"  # an image's digest, kept in its `info` so it is computed once


def image_digest(image: Image.Image) -> str:
    """A digest of the image's pixels, mode and size (kept on the image after the first call)."""
    if _DIGEST not in image.info:
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{image.mode}{image.size}".encode())
        h.update(image.tobytes())
        image.info[_DIGEST] = h.hexdigest()
    return image.info[_DIGEST]


def value_key(value: Any) -> str:
    """A string that changes exactly when `value` does, for the values pages pass as inputs."""
    if isinstance(value, Image.Image):
        return "image:" + image_digest(value)
    if isinstance(value, ModelBundle):
        return "model:" + value.token
    if isinstance(value, np.ndarray | torch.Tensor):
        data = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        digest = hashlib.blake2b(np.ascontiguousarray(data).tobytes(), digest_size=16).hexdigest()
        return f"array:{data.dtype.str}{data.shape}:{digest}"  # same bytes, other shape: other key
    if isinstance(value, tuple | list):
        return "(" + ",".join(value_key(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{value_key(v)}" for k, v in sorted(value.items())) + "}"
    if hasattr(value, "to_json"):
        return value.to_json(indent=None)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # field by field, not through dataclasses.asdict, which deep-copies every field first
        fields = ",".join(
            f"{f.name}={value_key(getattr(value, f.name))}" for f in dataclasses.fields(value)
        )
        return f"{type(value).__qualname__}({fields})"
    return repr(value)


def _slot(page: str, name: str) -> str:
    return f"_{page}.{name}"


def remembered(page: str, name: str, inputs: Any, compute: Callable[[], T]) -> T:
    """`compute()` when `inputs` differ from last time on this page, else the stored result."""
    slot, key = _slot(page, name), value_key(inputs)
    stored = st.session_state.get(slot)
    if stored is None or stored[0] != key:
        stored = (key, compute())
        st.session_state[slot] = stored
    return stored[1]


def on_press(
    page: str, name: str, inputs: Any, compute: Callable[[], T], pressed: bool
) -> T | None:
    """The result for `inputs`: computed when `pressed`, else the stored one if still current.

    Returns None when nothing has been computed for these inputs yet, so a stale result is
    never shown beside inputs it was not computed from.
    """
    slot, key = _slot(page, name), value_key(inputs)
    if pressed:
        st.session_state[slot] = (key, compute())
    stored = st.session_state.get(slot)
    return stored[1] if stored is not None and stored[0] == key else None


_BUILDING = threading.local()  # how many shared results this thread is building right now
WAIT_S = 120.0  # the longest a session waits for another's build before building it itself


class _Shared:
    """A bounded, thread-safe map from a key to a result, the least recently used dropped first.

    Bounded by count and by the bytes of the arrays inside (`nbytes`), so a class on large
    torchvision models cannot fill the server's memory. One build per key at a time: when 30
    sessions ask for the same missing result at once, one builds it and the others wait for it
    instead of building 30 copies (if that build fails, the waiting sessions build it
    themselves). A thread that is itself building a result never waits for another's: results
    built inside other builds cannot wait for each other in a circle, so no session can hang.
    """

    def __init__(self, max_entries: int, max_bytes: int = 1 << 62) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.items: OrderedDict[Any, Any] = OrderedDict()
        self.sizes: dict[Any, int] = {}
        self.building: dict[Any, threading.Event] = {}

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())

    def _get(self, key: Any) -> tuple[bool, Any]:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return True, self.items[key]
            return False, None

    def get_or_build(self, key: Any, build: Callable[[], T]) -> T:
        found, value = self._get(key)
        if found:
            return value
        with self.lock:
            done = self.building.get(key)
            mine = done is None
            if mine:
                done = self.building[key] = threading.Event()
        if not mine and not getattr(_BUILDING, "depth", 0):
            done.wait(WAIT_S)  # another session is building it: use theirs
            found, value = self._get(key)
            if found:
                return value
        _BUILDING.depth = getattr(_BUILDING, "depth", 0) + 1
        try:
            value = build()
            self._put(key, value)
        finally:
            _BUILDING.depth -= 1
            if mine:
                with self.lock:
                    self.building.pop(key, None)
                done.set()
        return value

    def _put(self, key: Any, value: Any) -> None:
        size = nbytes(value)
        if size > self.max_bytes // 4:
            return  # too large to keep for everyone: its session's caller still gets it
        with self.lock:
            self.items[key] = value
            self.sizes[key] = size
            while len(self.items) > self.max_entries or (
                len(self.items) > 1 and sum(self.sizes.values()) > self.max_bytes
            ):
                old, _ = self.items.popitem(last=False)
                self.sizes.pop(old, None)


def nbytes(value: Any, depth: int = 0) -> int:
    """About how many bytes `value` holds in arrays, tensors, bytes and strings: what matters
    for a cache of figures and results (containers, dataclasses and figures are walked)."""
    if depth > 6:
        return 0
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, bytes | str):
        return len(value)
    if isinstance(value, go.Figure):
        return nbytes(value._data, depth + 1) + nbytes(value._layout, depth + 1)  # noqa: SLF001
    if isinstance(value, dict):
        return sum(nbytes(v, depth + 1) for v in value.values())
    if isinstance(value, tuple | list):
        if value and isinstance(value[0], int | float):
            return 8 * len(value)
        return sum(nbytes(v, depth + 1) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value))
    return 0


SHARED_ENTRIES = 256  # figures and results kept for every session; the least recently used go
SHARED_MB_ENV = "CNNLAB_SHARED_MB"  # and at most this many MB of their arrays (default 512)


@st.cache_resource
def _shared_store() -> _Shared:
    mb = positive_setting(SHARED_MB_ENV, 512)
    return _Shared(SHARED_ENTRIES, int(mb * 1024 * 1024))


def clear_shared() -> None:
    """Forget every result kept for the class (the next session to ask builds it again): for
    tests and benchmarks that need a cold store."""
    store = _shared_store()
    with store.lock:
        store.items.clear()
        store.sizes.clear()


def shared(build: Callable[..., T], *args: Any) -> T:
    """`build(*args)`, made once per distinct value of `args` for every session on the server.

    For pure functions of values: a viz figure factory, or a computation on a sample image.
    When 30 students open a page on its defaults, the figures are built once, not 30 times.
    The object returned is shared, so it must never be modified (st.plotly_chart copies a
    figure before sending it). Keys are the arguments' values (`value_key`), never `id()`.
    """
    # the function itself (two closures never share a key), and the screen's layout bucket: a
    # phone's stacked figure is not a laptop's (viz/narrow.py)
    key = (build, value_key(args), narrow.layout_key())
    return _shared_store().get_or_build(key, lambda: _frozen(build(*args)))


def class_wide(inputs: Any) -> bool:
    """Whether a result of `inputs` can serve every session: no model among them is a session's
    own (a trained, uploaded or untrained one, whose token no other session will ever have).
    Shipped and torchvision models are read-only and the same object for everyone."""
    if isinstance(inputs, ModelBundle):
        return is_shared_model(inputs)
    if isinstance(inputs, tuple | list):
        return all(class_wide(v) for v in inputs)
    if isinstance(inputs, dict):
        return all(class_wide(v) for v in inputs.values())
    return True


def memo(page: str, name: str, inputs: Any, compute: Callable[[], T]) -> T:
    """`remembered`, for the whole class when it can be: a result of shared models, sample or
    uploaded images and settings is made once for every session (`shared`'s store, keyed by
    page, name and the inputs' values); one that involves a session's own model stays in that
    session. `compute` must depend on `inputs` only, and its result must never be modified."""
    if not class_wide(inputs):
        return remembered(page, name, (inputs, narrow.layout_key()), compute)
    key = (page, name, value_key(inputs), narrow.layout_key())
    return _shared_store().get_or_build(key, lambda: _frozen(compute()))


class SharedFigure(go.Figure):
    """A figure every session shows as it is: its dict and JSON are made once, not at every run.

    `st.plotly_chart` turns a figure into a dict (a deep copy, and numpy arrays to base64) and
    the dict into JSON on every run of every page that shows it; for a figure built once for the
    whole class that was about a tenth of a page run. The dict is a `server.FigureDict`, which
    keeps its JSON (`server.reuse_figure_json`). The figure must not be modified afterwards
    (`shared` says so): a change would not reach the dict.
    """

    def to_dict(self) -> dict:
        made = self.__dict__.get("_made_dict")
        if made is None:
            made = server.FigureDict(super().to_dict())  # its JSON is made once, too
            self.__dict__["_made_dict"] = made
        return made


def _frozen(value: T) -> T:
    """`value`, with every plotly figure in it (itself, the items of a tuple, list or dict, a
    dataclass's fields) turned into a `SharedFigure`."""
    if type(value) is go.Figure:
        value.__class__ = SharedFigure
    elif isinstance(value, tuple | list):
        for item in value:
            _frozen(item)
    elif isinstance(value, dict):
        for item in value.values():
            _frozen(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _frozen(getattr(value, field.name))
    return value


def forget(page: str, name: str) -> None:
    """Drop a stored result (the next `remembered` call computes it again)."""
    st.session_state.pop(_slot(page, name), None)
