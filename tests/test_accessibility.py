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


# ---- figures: titles that do not collide -----------------------------------------------------

SCREENS = (1280, 768, 390)  # px: a laptop, a tablet, a phone (viz/narrow.py restacks below 1025)


def _axis_title_clearances(fig) -> list[float]:
    """Px between each panel's x-axis title and the subplot title of the panel below it, and,
    for the last panel, between its axis title and the figure's bottom edge. Text boxes are
    estimated from the font sizes as Plotly lays them out (measured in Chromium: tick labels,
    then the title ~30 px below the axis, each box about 1.45× its font size tall)."""
    from viz import narrow

    layout = fig.layout
    size = layout.font.size or 12
    top, bottom = layout.margin.t, layout.margin.b
    plot_px = layout.height - top - bottom
    tick_px = 1.5 * (layout.xaxis.tickfont.size or size)
    found = narrow.panels(layout.to_plotly_json())
    notes = {round(a.y, 4): 1.5 * (a.font.size or size) for a in layout.annotations}
    gaps = []
    for upper, lower in zip(found, [*found[1:], None], strict=True):
        axis = layout[upper.x]
        below = 10 + tick_px + 1.5 * (axis.title.font.size or size) if axis.title.text else 0
        title_bottom = top + (1 - upper.y_domain[0]) * plot_px + below
        if lower is None:
            gaps.append(layout.height - title_bottom)
            continue
        name_top = (
            top + (1 - lower.y_domain[1]) * plot_px - notes.get(round(lower.y_domain[1], 4), 0)
        )
        gaps.append(name_top - title_bottom)
    return gaps


def _gates(n: int) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    names = ["se1.gate", "cbam1.channel_gate", "se2.gate", "cbam2.channel_gate"]
    return [(names[i], rng.random(16 * 2**i)) for i in range(n)]


@pytest.mark.parametrize("width", SCREENS)
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_channel_weight_axis_titles_clear_the_next_gates_name_at_every_width(n, width):
    from viz import attention, narrow

    fig = narrow.fit(attention.channel_weights_figure(_gates(n)), width=width)
    gaps = _axis_title_clearances(fig)
    assert len(gaps) == n
    assert min(gaps) >= 4, f"{n} gates at {width} px: clearances {gaps}"
    first_name = 1.5 * fig.layout.annotations[0].font.size
    assert fig.layout.margin.t >= first_name  # the first gate's name is not cut off at the top


def test_the_clearance_check_flags_the_old_cramped_channel_weights_layout():
    """The figure used to be 500 px tall with a 12 % gap: 'channel' ran into the next title."""
    from viz import attention

    fig = attention.channel_weights_figure(_gates(2))
    fig.update_layout(height=500, margin={"t": 20, "b": 40})
    fig.update_yaxes(domain=(0.56, 1.0), row=1, col=1)
    fig.update_yaxes(domain=(0.0, 0.44), row=2, col=1)
    fig.layout.annotations[0].y, fig.layout.annotations[1].y = 1.0, 0.44
    assert _axis_title_clearances(fig)[0] < 0


def _names_clear(fig) -> list[float]:
    """Px of room above each panel's name: to the figure's top edge, or to the bottom of the
    panel above it in the same column (names are boxes 1.5× their font size tall)."""
    from viz import narrow

    layout = fig.layout
    top = layout.margin.t
    plot_px = layout.height - top - layout.margin.b
    found = narrow.panels(layout.to_plotly_json())
    name_px = 1.5 * max((a.font.size or 12) for a in layout.annotations)
    room = []
    for panel in found:
        name_top = top + (1 - panel.y_domain[1]) * plot_px - name_px
        above = [
            top + (1 - other.y_domain[0]) * plot_px
            for other in found
            if other.y_domain[0] >= panel.y_domain[1] - 1e-6
            and other.x_domain[0] < panel.x_domain[1]
            and panel.x_domain[0] < other.x_domain[1]
        ]
        room.append(name_top - max(above, default=0.0))
    return room


@pytest.mark.parametrize("width", SCREENS)
def test_spatial_panel_names_fit_above_their_panels_at_every_width(width):
    from viz import attention, narrow

    rng = np.random.default_rng(1)
    image, heat, cam = rng.random((32, 32, 3)), rng.random((32, 32)), rng.random((32, 32))
    title = "Grad-CAM, relu4 (after conv4): star"
    fig = attention.spatial_figure(image, [("cbam1.spatial_gate", heat)], cam, title)
    room = _names_clear(narrow.fit(fig, width=width))
    assert len(room) == 2 and min(room) >= 0, f"at {width} px: {room}"


def test_the_name_check_flags_the_theme_margin_that_cut_the_first_names_off():
    from viz import attention

    image, heat = np.zeros((8, 8, 3)), np.ones((8, 8))
    fig = attention.spatial_figure(image, [("gate", heat)], heat, "Grad-CAM")
    fig.update_layout(margin_t=20, height=340)  # as the theme alone laid it out
    assert min(_names_clear(fig)) < 0


# ---- captions: the key numbers of a figure, computed from what it draws ----------------------


def _reads_by_autograd(shape, k: int, spec) -> tuple[np.ndarray, tuple[int, int]]:
    """How many windows read each input cell (the gradient of the sum of an all-ones conv),
    and PyTorch's output size."""
    import torch

    x = torch.zeros(1, 1, *shape, dtype=torch.float64, requires_grad=True)
    w = torch.ones(1, 1, k, k, dtype=torch.float64)
    y = torch.nn.functional.conv2d(
        x, w, stride=spec.stride, padding=spec.padding, dilation=spec.dilation
    )
    y.sum().backward()
    return x.grad[0, 0].round().long().numpy(), tuple(y.shape[-2:])


@pytest.mark.parametrize(
    ("shape", "k", "stride", "padding", "dilation"),
    [((5, 5), 3, 1, 0, 1), ((6, 7), 3, 2, 0, 1), ((7, 7), 3, 1, 1, 2), ((6, 6), 2, 3, 0, 1)],
)
def test_the_coverage_caption_states_the_numbers_pytorch_reads(shape, k, stride, padding, dilation):
    from models.operations import convolution as conv
    from ui.panels.convolution_captions import coverage_caption

    spec = conv.StepSpec(stride=stride, padding=padding, dilation=dilation)
    report = conv.compute_output_size(shape, k, spec)
    reads, out = _reads_by_autograd(shape, k, spec)
    text = coverage_caption(report.coverage, (report.rows.exact, report.cols.exact))
    h, w = shape
    most, least, never = reads.max(), reads[reads > 0].min(), int((reads == 0).sum())
    r, c = np.argwhere(reads == most)[0]
    assert f"Output {out[0]}×{out[1]} from a {h}×{w} input" in text
    assert f"row {r}, column {c}" in text
    assert f"read {most} time" in text and f"least-read one, {least} time" in text
    assert f"{never} of the {h * w} input cells" in text


@pytest.mark.parametrize(("k", "rate"), [(3, 1), (3, 2), (5, 3), (1, 4)])
def test_the_footprint_caption_counts_taps_span_and_gaps_by_hand(k, rate):
    from models.operations import kernels as kern
    from ui.panels.convolution_captions import footprint_caption

    text = footprint_caption(kern.dilated_footprint(k, rate))
    span = rate * (k - 1) + 1
    gap = rate - 1 if k > 1 else 0
    assert text.startswith(f"{k * k} tap")
    assert f"{span}×{span} span: {k * k} of its {span * span} pixels" in text
    assert f"{span * span - k * k} skipped, with {gap} pixel" in text


def test_the_dilated_stack_captions_give_the_fields_and_what_the_last_unit_sees():
    from models.operations import kernels as kern
    from ui.panels.convolution_captions import growth_caption, paths_caption

    doubling = kern.compute_dilated_stack(3, (1, 2, 4, 8))
    assert "1, 2, 4, 8: 3, 7, 15, 31 pixels; with every rate 1: 3, 5, 7, 9." in growth_caption(
        doubling
    )
    assert "sees 961 of them (100%)" in paths_caption(doubling)
    # Three rate-2 layers (gridding): 7 of the 13 positions per side, each reached by up to
    # 1·3·3·… paths; the centre by (1+1+1)^… = 7 per side, 49 in all.
    gridded = paths_caption(kern.compute_dilated_stack(3, (2, 2, 2)))
    assert "13×13 = 169 pixels; it sees 49 of them (29%)" in gridded
    assert "by 49 paths" in gridded


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "one-cycle"])
def test_the_lr_plan_caption_gives_the_schedule_first_peak_and_last_rate(schedule):
    from models.training.engine import ONE_CYCLE_START, TrainConfig, lr_curve
    from ui.panels.train_captions import lr_caption

    config = TrainConfig(schedule=schedule, epochs=4, lr=0.01, batch_size=32)
    lrs = lr_curve(config, 320)  # 10 steps per epoch, 40 in all
    text = lr_caption(lrs, schedule, 10)
    assert text.startswith(f"Schedule: {schedule}, 40 steps (10 per epoch).")
    if schedule == "constant":
        assert "0.01 at every step" in text
        return
    first = {"step": 0.01, "cosine": 0.01, "one-cycle": 0.01 * ONE_CYCLE_START}[schedule]
    assert f"Learning rate {first:.3g} at the first step" in text
    assert f"{lrs[-1]:.3g} at the last" in text and lrs[-1] < first
    if schedule == "one-cycle":  # warms up to the chosen rate, then anneals
        assert f"highest 0.01 at step {int(np.argmax(lrs))}," in text and np.argmax(lrs) > 0
    else:
        assert "(the highest)" in text


def test_the_layer_caption_gives_each_maps_range_and_the_strongest_kernel():
    from ui.panels.convolution_captions import layer_caption

    maps = np.zeros((3, 4, 5))
    maps[0, 1, 2], maps[1, 0, 0], maps[2, 3, 4] = 0.5, -2.0, 1.25
    text = layer_caption(maps, ["Sobel x", "Laplacian", "Gaussian"])
    assert "One 4×5 map per kernel" in text
    assert "Sobel x from 0 to 0.5; Laplacian from -2 to 0; Gaussian from 0 to 1.25" in text
    assert text.endswith("The strongest response is Laplacian's.")  # |−2| beats 1.25


def test_the_attention_captions_give_each_gates_numbers_and_grad_cams_peak():
    from ui.panels.attention import channel_caption, spatial_caption

    gate = np.array([[0.2, 0.6], [0.8, 0.4]])
    cam = np.zeros((4, 6))
    cam[3, 1], cam[0, 0] = 2.0, 1.5  # 2 of 24 cells at half the peak or more
    text = spatial_caption((("cbam1.spatial_gate", gate),), cam)
    assert "cbam1.spatial_gate: from 0.20 to 0.80, mean 0.50; 50% of the places" in text
    assert "peaks at row 3, column 1 of the 4×6 image; 8% of the image" in text
    assert "zero everywhere" in spatial_caption((), np.zeros((2, 2)))
    weights = np.array([0.5, 0.1, 0.9, 0.3])
    assert channel_caption((("se1.gate", weights),)) == (
        "se1.gate: 4 channels, weights from 0.10 (channel 1) to 0.90 (channel 2), mean 0.45."
    )


def _metrics(kind: str, epoch: int, step: int, **values):
    from models.training.engine import TrainMetrics

    base = dict(total_steps=40, examples=step * 32, lr=0.01, examples_per_s=1.0)
    base |= dict(grad_norm=1.0, elapsed_s=1.0, train_loss=0.0, train_acc=0.0)
    return TrainMetrics(kind, epoch, step, **(base | values))


def test_the_training_captions_give_the_latest_and_best_scores_of_the_history():
    from ui.panels.augmentation import experiment_caption
    from ui.panels.train_captions import curves_caption

    history = (
        _metrics("step", 1, 10, train_loss=0.9, train_acc=0.5),
        _metrics("epoch", 1, 10, train_loss=0.8, train_acc=0.55, val_loss=0.7, val_acc=0.6),
        _metrics("step", 2, 20, train_loss=0.4, train_acc=0.85),
        _metrics("epoch", 2, 20, train_loss=0.45, train_acc=0.8, val_loss=0.9, val_acc=0.5),
    )
    text = curves_caption(history)
    assert "Step 20: training loss 0.400, accuracy 85.0%." in text
    assert "after epoch 2: loss 0.900, accuracy 50.0%; best 60.0% after epoch 1." in text
    assert "first training steps" in curves_caption(())
    mixed = experiment_caption({"plain": history, "augmented": history[:2]})
    assert "plain after epoch 2: training accuracy 80.0%, validation 50.0% (loss 0.450" in mixed
    assert "augmented after epoch 1: training accuracy 55.0%, validation 60.0%" in mixed


def test_the_prediction_caption_names_the_two_most_probable_classes():
    from ui.panels.train_captions import prediction_caption

    text = prediction_caption([0.1, 0.65, 0.25], ("circle", "square", "triangle"))
    assert text == "Top answer: square (65.0%); next: triangle (25.0%)."


def test_the_feature_map_captions_give_the_channels_numbers_and_each_layers_zeros():
    from ui.panels.feature_maps import channel_caption, zeros_caption

    values = np.arange(12, dtype=np.float32).reshape(3, 4) - 2  # −2 … 9, mean 3.5
    text = channel_caption("conv1", 5, values)
    assert text == (
        "Channel 5 of conv1: 3×4 values from -2 to 9, mean 3.5; strongest at row 2, column 3."
    )
    assert zeros_caption([("relu1", 0.5), ("relu2", 0.625)]).endswith("relu1 50%, relu2 62%.")
