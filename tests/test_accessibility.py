"""Accessibility checks that need no browser: contrast of the theme's text colours (WCAG 2.x),
colour-blind safety of the palettes (simulated with Machado et al. 2009), image alt texts and
widget labels in the source. The browser check of every page is tests/e2e/test_accessibility.py.
"""

from __future__ import annotations

import ast
import itertools
import tomllib
from pathlib import Path

import numpy as np
import pytest

from viz import theme

ROOT = Path(__file__).resolve().parent.parent
WHITE = "#ffffff"
AA_TEXT, AA_MARK = 4.5, 3.0  # WCAG 1.4.3 (normal text) and 1.4.11 (lines, marks)

# Machado, Oliveira & Fernandes (2009), "A physiologically-based model for simulation of color
# vision deficiency", severity 1.0; applied to linear RGB.
CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}  # fmt: skip
VISIONS = [None, *CVD]  # None: typical colour vision


def srgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)])


def linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance."""
    return float(linear(srgb(hex_colour)) @ [0.2126, 0.7152, 0.0722])


def contrast(fg: str, bg: str = WHITE) -> float:
    """WCAG contrast ratio, from 1 (same) to 21 (black on white)."""
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def blend(fg: str, bg: str, alpha: float) -> str:
    """`fg` drawn at `alpha` opacity over `bg`, as a hex colour."""
    mixed = alpha * srgb(fg) + (1 - alpha) * srgb(bg)
    return "#" + "".join(f"{round(v * 255):02x}" for v in mixed)


def lab_as_seen(hex_colour: str, vision: str | None) -> np.ndarray:
    """CIELAB (D65) of the colour as a reader with `vision` sees it."""
    rgb = linear(srgb(hex_colour))
    if vision is not None:
        rgb = np.clip(np.array(CVD[vision]) @ rgb, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    x, y, z = (xyz @ rgb) / np.array([0.95047, 1.0, 1.08883])
    f = [np.cbrt(t) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z)]
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def closest_pair(colours: list[str]) -> tuple[float, str, str, str]:
    """The smallest CIE76 colour difference between two of `colours` under any vision."""
    return min(
        (float(np.linalg.norm(lab_as_seen(a, v) - lab_as_seen(b, v))), a, b, v or "typical")
        for a, b in itertools.combinations(colours, 2)
        for v in VISIONS
    )


def test_contrast_matches_the_wcag_reference_values():
    assert contrast("#000000") == pytest.approx(21.0)
    assert contrast("#777777") == pytest.approx(4.48, abs=0.01)  # the classic near-miss grey
    assert contrast(WHITE, WHITE) == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["INK", "MUTED_TEXT", "ACCENT", "ACCENT_2", "BAD"])
def test_theme_colours_used_for_text_reach_aa_contrast_on_white(name):
    assert contrast(getattr(theme, name)) >= AA_TEXT


def test_series_and_muted_colours_stand_out_from_white_as_lines_and_marks():
    marks = [*theme.SERIES, theme.MUTED]
    weak = {c: round(contrast(c), 2) for c in marks if contrast(c) < AA_MARK}
    assert not weak, f"series colours below {AA_MARK}:1 against white: {weak}"


def test_the_old_green_against_red_pair_fails_the_opposites_check():
    """The check below can fail: GOOD/BAD used to be green/red, too close for deuteranopes."""
    distance, *_ = closest_pair(["#16a34a", "#dc2626"])
    assert distance < 40


@pytest.mark.parametrize(
    ("first", "second"), [("ACCENT", "ACCENT_2"), ("TRAIN_COLOR", "VAL_COLOR"), ("GOOD", "BAD")]
)
def test_paired_colours_stay_far_apart_for_colour_blind_readers(first, second):
    distance, a, b, vision = closest_pair([getattr(theme, first), getattr(theme, second)])
    assert distance >= 40, f"{a} and {b} are only {distance:.1f} apart under {vision}"


@pytest.mark.parametrize(
    ("colours", "least"),
    [
        (theme.SERIES[:4], 15.0),  # most figures show two to four series
        ([theme.SERIES[i] for i in (0, 1, 3, 5, 6)], 10.0),  # viz/architectures.py's palette
        (theme.SERIES, 8.0),
        (list(theme.LAYER_COLORS.values()), 10.0),
    ],
    ids=["first four series", "architectures", "all series", "layer kinds"],
)
def test_palettes_stay_distinct_under_simulated_colour_blindness(colours, least):
    distance, a, b, vision = closest_pair(list(colours))
    assert distance >= least, f"{a} and {b} are only {distance:.1f} apart under {vision}"


def test_the_old_series_palette_fails_the_palette_check():
    old = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777"]
    assert closest_pair(old)[0] < 8.0


def test_streamlit_theme_text_and_captions_reach_aa_contrast():
    """Streamlit draws captions, help and placeholders in textColor at 60% opacity."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    t = config["theme"]
    for background in (t["backgroundColor"], t["secondaryBackgroundColor"]):
        assert contrast(t["textColor"], background) >= 7.0
        caption = blend(t["textColor"], background, 0.6)
        assert contrast(caption, background) >= AA_TEXT, (caption, background)
    assert contrast(WHITE, t["primaryColor"]) >= AA_TEXT  # white text on primary buttons


def _calls(attribute: str):
    """(file, call) for every `<something>.<attribute>(...)` in app.py, pages/ and ui/."""
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    files += sorted((ROOT / "ui").rglob("*.py"))
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == attribute
            ):
                yield path.relative_to(ROOT).as_posix(), node


def test_every_image_has_alt_text():
    missing = [
        f"{name}:{call.lineno}"
        for name, call in _calls("image")
        if not any(k.arg == "alt" for k in call.keywords)
    ]
    assert not missing, f"st.image without alt= (screen readers say nothing): {missing}"


# A hidden label is still the widget's accessible name; hide one only where visible text right
# beside the widget already names it.
COLLAPSED_LABELS_ALLOWED = {
    # The bold "Your image" just above names the radio; its hidden label "Source" stays the
    # radio group's accessible name (axe finds it labelled).
    "ui/image_picker.py": 1,
}


LABELLED_WIDGETS = (
    *("radio", "selectbox", "slider", "select_slider", "text_input", "number_input"),
    *("checkbox", "toggle", "multiselect", "file_uploader", "segmented_control", "pills"),
    *("text_area", "camera_input", "color_picker", "date_input", "time_input"),
)


def test_widget_labels_are_hidden_only_where_visible_text_names_them():
    found: dict[str, int] = {}
    for attribute in LABELLED_WIDGETS:
        for name, call in _calls(attribute):
            for k in call.keywords:
                if k.arg == "label_visibility" and getattr(k.value, "value", "") == "collapsed":
                    found[name] = found.get(name, 0) + 1
    assert found == COLLAPSED_LABELS_ALLOWED


def _text_colours(fig) -> set[str]:
    """Every text colour a figure sets: its font, title, axes, legend and annotations."""
    layout = fig.layout
    colours = {layout.font.color, layout.title.font.color, layout.legend.font.color}
    colours |= {a.font.color for a in layout.annotations}
    axes = [layout[k] for k in layout if k.startswith(("xaxis", "yaxis"))]
    colours |= {a.title.font.color for a in axes} | {a.tickfont.color for a in axes}
    colours |= {getattr(t, "textfont", None) and t.textfont.color for t in fig.data}
    return {c for c in colours if isinstance(c, str)}


def test_figure_text_reaches_aa_contrast_on_white():
    """The shared layout and the figure with the most hand-coloured labels (backprop)."""
    import plotly.graph_objects as go

    from models.inspect import backprop as bpm
    from models.inspect import backprop_steps as steps
    from viz import backprop

    net = bpm.compute_backprop(bpm.sample_net(0))
    view = steps.explain(net, 0)
    figures = [
        theme.base_layout(go.Figure(), title="t"),
        backprop.network_figure(bpm.grid_values(net), steps.revealed(0), view.marks, net.net.y),
    ]
    colours = set().union(*map(_text_colours, figures))
    assert theme.INK in colours and theme.MUTED_TEXT in colours
    weak = {c: round(contrast(c), 2) for c in colours if contrast(c) < AA_TEXT}
    assert not weak, f"figure text below {AA_TEXT}:1 on white: {weak}"
