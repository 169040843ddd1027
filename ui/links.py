"""Settings in a link: `/pooling?pooling.window=3&pooling.mode=avg` opens a page set up.

A lesson step, or a teacher, shares a page with its widgets already set. Only the widget keys
registered in `LINKABLE` can be set, each through a parser that checks the text (its length,
then its type, then its range or options) before anything is converted or stored, so a link
cannot set anything else, nor make the app allocate anything. `?image=<sample name>` chooses a
built-in image; `?net=` (ui/state.py) sets the network.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from models.data.samples import SAMPLE_IMAGES
from models.errors import CNNLabError
from models.lessons import builtin_ids
from ui import state

IMAGE_KEY = "image"  # ?image=<sample name>
APPLIED = "_links.applied"  # ((page, the link's settings), message) of the link last applied
MAX_PARAMS = 40  # a link with more settings than this is refused whole, unread
MAX_TEXT = 40  # characters of one value; longer ones are refused before parsing
MAX_SHOWN = 4  # rejected settings named in the message
_INT = re.compile(r"-?[0-9]{1,9}", re.ASCII)
_FLOAT = re.compile(r"-?[0-9]{1,9}(\.[0-9]{1,9})?([eE]-?[0-9]{1,2})?", re.ASCII)
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


class LinkError(CNNLabError):
    """A setting in a link that was refused, with the reason."""


@dataclass(frozen=True)
class Whole:
    """A whole number from `low` to `high` (a slider's or number input's range)."""

    what: str  # how the message names it: "the window"
    low: int
    high: int
    step: int = 1

    def parse(self, text: str) -> int:
        if not _INT.fullmatch(text):
            raise LinkError(f"{self.what} is a whole number from {self.low} to {self.high}")
        value = int(text)
        if not self.low <= value <= self.high or (value - self.low) % self.step:
            every = f" in steps of {self.step}" if self.step > 1 else ""
            raise LinkError(f"{self.what} is {self.low} to {self.high}{every}")
        return value


@dataclass(frozen=True)
class Real:
    """A number from `low` to `high`, on the slider's grid of `step` when one is given."""

    what: str
    low: float
    high: float
    step: float | None = None

    def parse(self, text: str) -> float:
        if not _FLOAT.fullmatch(text):
            raise LinkError(f"{self.what} is a number from {self.low:g} to {self.high:g}")
        value = float(text)
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise LinkError(f"{self.what} is {self.low:g} to {self.high:g}")
        if self.step is not None:
            cells = (value - self.low) / self.step
            if abs(cells - round(cells)) > 1e-6:
                raise LinkError(f"{self.what} moves in steps of {self.step:g} from {self.low:g}")
            value = round(self.low + round(cells) * self.step, 10)
        return value


@dataclass(frozen=True)
class OneOf:
    """One of a few options, written as the widget shows them (numbers become numbers)."""

    what: str
    options: tuple[str | int | float, ...]

    def parse(self, text: str) -> str | int | float:
        for option in self.options:
            if text == _text(option):
                return option
        shown = ", ".join(_text(o) for o in self.options)
        raise LinkError(f"{self.what} is one of: {shown}")


@dataclass(frozen=True)
class Switch:
    """On or off: true/false (also 1/0, yes/no, on/off)."""

    what: str

    def parse(self, text: str) -> bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise LinkError(f"{self.what} is true or false")


Parser = Whole | Real | OneOf | Switch
# the kernels of models/operations/kernels.py, and the rates of ui/panels/train.py
_KERNELS = ("Identity", "Ones", "Box blur", "Gaussian", "Sharpen", "Sobel x", "Sobel y")
_KERNELS += ("Laplacian", "Emboss", "Gabor")
_LR = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)

# Per page (the file name in pages/, "app" for Home): the widget keys, less the page prefix, a
# link may set. The AppTest in tests/test_links.py checks each against the widget it sets.
LINKABLE: dict[str, dict[str, Parser]] = {
    "app": {},
    "lessons": {
        "lesson": OneOf("the lesson", tuple(builtin_ids())),
        "step": Whole("the step", 1, 30),
    },
    "build": {},
    "train": {
        "epochs": Whole("the number of epochs", 1, 200),
        "batch": OneOf("the batch size", (8, 16, 32, 64, 128, 256)),
        "lr": OneOf("the learning rate", _LR),
        "seed": Whole("the seed", 0, 2**31 - 1),
    },
    "experiments": {},
    "convolution": {
        "rows": Whole("the number of input rows", 1, 12),
        "cols": Whole("the number of input columns", 1, 12),
        "kernel_size": Whole("the kernel size", 1, 7),
        "kernel": OneOf("the kernel", _KERNELS),
        "stride": Whole("the stride", 1, 4),
        "padding": Whole("the padding", 0, 6),
        "dilation": Whole("the dilation", 1, 4),
        "transposed": Switch("transposed"),
        "seed": Whole("the seed", 0, 10_000),
        "image_kernel": OneOf("the image kernel", _KERNELS),
        "relu": Switch("ReLU"),
        "rate": Whole("the dilation rate", 1, 8),
        "tab": OneOf("the tab", ("Step by step", "Dilated kernels", "Kernels on your image")),
    },
    "pooling": {
        "mode": OneOf("the pooling mode", ("max", "avg", "lp")),
        "window": Whole("the window", 1, 6),
        "stride": Whole("the stride", 1, 6),
        "padding": Whole("the padding", 0, 3),
        "ceil": Switch("ceil_mode"),
        "grid_side": Whole("the grid side", 3, 8),
        "grid_seed": Whole("the grid seed", 0, 10_000),
    },
    "augmentation": {},
    "feature_maps": {"ordered": Switch("ordering channels")},
    "filters": {},
    "neuron": {},
    "receptive_field": {"depth": Whole("the stack depth", 1, 8)},
    "saliency": {},
    "attention": {},
    "adversarial": {
        "method": OneOf("the attack", ("FGSM", "PGD")),
        "epsilon": Real("ε (/255)", 0.0, 64.0, 0.5),
        "steps": Whole("the number of PGD steps", 1, 100),
    },
    "imbalance": {"ratio": Real("the imbalance ratio", 1.0, 50.0, 1.0)},
    "losses": {
        "classes": Whole("the number of classes", 3, 5),
        "p_true": Real("the true class's probability", 0.01, 0.99, 0.01),
        "gamma": Real("focal γ", 0.0, 5.0, 0.5),
        "smoothing": Real("label smoothing ε", 0.0, 0.5, 0.05),
        "temperature": Real("the temperature", 0.1, 10.0, 0.1),
    },
    "regularization": {
        "comparison": OneOf(
            "the comparison",
            ("Against overfitting", "Batchnorm at two learning rates", "Input normalization"),
        )
    },
    "transfer": {},
    "ensembles": {},
    "backprop": {},
    "gradient_flow": {
        "depth": Whole("the depth", 4, 56, 2),
        "init": OneOf("the initial weights", ("PyTorch default", "He normal")),
    },
    "architectures": {
        "channels": Whole("the number of channels", 1, 512),
        "side": Whole("the input side", 8, 224),
        "g_in": OneOf("the input channels", (4, 6, 8, 12, 16, 32)),
        "g_out": OneOf("the number of filters", (4, 6, 8, 12, 16, 32)),
        "separable": Switch("the depthwise-separable comparison"),
    },
    "segmentation": {"skips": Switch("skip connections")},
    "signals": {},
    "regression": {},
    "class_board": {},
}


def _text(value: object) -> str:
    """A value as a link writes it: true/false, whole numbers plainly, others by `g`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class LinkSettings:
    """What a link asks of one page: widget values, a sample image, and what was refused."""

    values: dict[str, object] = field(default_factory=dict)  # full widget key -> value
    image: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """One line naming the refused settings ("" when none)."""
        if not self.problems:
            return ""
        more = len(self.problems) - MAX_SHOWN
        shown = "; ".join(self.problems[:MAX_SHOWN]) + (f"; and {more} more" if more > 0 else "")
        return f"Some settings in this link were not applied: {shown}."


def parse_setting(page: str, key: str, text: str) -> object:
    """The value of one `<page>.<key>=text`, or LinkError saying why not."""
    parser = LINKABLE.get(page, {}).get(key)
    if parser is None:
        raise LinkError("this page has no such setting")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise LinkError(f"the value is longer than {MAX_TEXT} characters")
    return parser.parse(text.strip())


def _shorten(text: str) -> str:
    return text if len(text) <= 24 else text[:21] + "…"


def parse_link(page: str, params: Mapping[str, str]) -> LinkSettings:
    """The settings for `page` among a link's parameters; others' are left for their pages."""
    if len(params) > MAX_PARAMS:
        return LinkSettings(
            problems=(
                f"the link has {len(params)} parameters, more than "
                f"the {MAX_PARAMS} a link may hold, so none was read",
            )
        )
    values: dict[str, object] = {}
    image, problems = None, []
    for name, text in params.items():
        if name == IMAGE_KEY:
            if text in SAMPLE_IMAGES:
                image = text
            else:
                problems.append(f"image={_shorten(text)}: not one of the sample images")
            continue
        owner, dot, key = name.partition(".")
        if not dot or owner != page:
            continue
        try:
            values[name] = parse_setting(page, key, text)
        except LinkError as err:
            problems.append(f"{_shorten(name)}={_shorten(str(text))}: {err}")
    return LinkSettings(values, image, tuple(problems))


def current_page() -> str:
    """The running page's name: its file name without .py ("app" for Home)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return "app"
    info = ctx.pages_manager.get_pages().get(ctx.pages_manager.current_page_script_hash)
    path = (info or {}).get("script_path") or ctx.pages_manager.main_script_path
    return Path(path).stem


def apply_link(page: str | None = None) -> None:
    """Write a link's settings for this page into the session, once per visit by that link.

    Call before any widget is made (ui.frame does). Settings the student changes afterwards
    stick while the link stays in the address bar; any page opened without a link forgets it,
    so the same link opened again (a lesson step's button, say) sets the page again.
    """
    page = page or current_page()
    ss, params = st.session_state, st.query_params
    if len(params) > MAX_PARAMS:
        mine = {"": str(len(params))}
    else:
        mine = {k: params[k] for k in params if k == IMAGE_KEY or k.startswith(f"{page}.")}
    if not mine:
        ss.pop(APPLIED, None)
        return
    seen = (page, tuple(sorted(mine.items())))
    if ss.get(APPLIED, (None, ""))[0] != seen:
        found = parse_link(page, params if "" in mine else mine)
        ss.update(found.values)
        if found.image is not None:
            _use_sample(found.image)
        ss[APPLIED] = (seen, found.message)
    if message := ss[APPLIED][1]:
        st.error(message)


def _use_sample(name: str) -> None:
    """Make a sample the session's image, and the sidebar picker show it (ui/image_picker.py)."""
    ss = st.session_state
    ss["_kept.sidebar.image_source"] = "Sample"
    ss["_kept.sidebar.sample"] = name
    if ss.get(state.IMAGE_NAME) != name:
        state.set_current_image(SAMPLE_IMAGES[name](), name)


def link_params(page: str, **settings: object) -> dict[str, str]:
    """The query parameters that open `page` with these settings (`image=` picks a sample).

    Raises LinkError when a setting is not linkable or its value would be refused.
    """
    params: dict[str, str] = {}
    for key, value in settings.items():
        text = _text(value)
        if key in (IMAGE_KEY, state.QUERY_KEY):
            if key == IMAGE_KEY and text not in SAMPLE_IMAGES:
                raise LinkError(f"image: {text!r} is not one of the sample images")
            params[key] = text
            continue
        try:
            parse_setting(page, key, text)
        except LinkError as err:
            raise LinkError(f"{page}.{key}={text}: {err}") from None
        params[f"{page}.{key}"] = text
    return params


def link(page: str, **settings: object) -> str:
    """A relative URL that opens `page` with these settings, e.g. "/pooling?pooling.window=3"."""
    if page not in LINKABLE:
        raise LinkError(f"there is no page called {page!r}")
    query = urlencode(link_params(page, **settings), quote_via=quote)
    path = "/" if page == "app" else f"/{page}"
    return f"{path}?{query}" if query else path
