"""The three network diagrams go down the page on a narrow screen (issue 21): Build's network,
Backpropagation's grids and the U-Net. Layers become rows, labels stay readable and apart, and
a laptop's figure stays exactly as it was."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from models.inspect import backprop as bpm
from models.inspect import backprop_steps as steps
from models.network.geometry import analyze
from models.network.presets import PRESETS
from models.network.unet import UNetSpec, unet_stages
from viz import backprop, narrow, segmentation, theme
from viz.network import ROW_PX, network_figure

WIDTHS = {"phone": 390, "tablet": 768, "wide": 1400}


@pytest.fixture(autouse=True)
def screen():
    """Set the window's width with `screen.set("phone")`; put the old source back after."""
    before = narrow._width_source

    class Screen:
        def set(self, kind: str | None) -> None:
            width = None if kind is None else WIDTHS[kind]
            narrow.set_width_source(lambda: width)

    yield Screen()
    narrow.set_width_source(before)


def overlapping(boxes: list[tuple[str, tuple[float, float, float, float]]]) -> list[str]:
    """Pairs of (name, (left, top, right, bottom)) boxes that overlap by more than 1 px."""
    return [
        f"{a} / {b}"
        for (a, p), (b, q) in itertools.combinations(boxes, 2)
        if p[0] < q[2] - 1 and q[0] < p[2] - 1 and p[1] < q[3] - 1 and q[1] < p[3] - 1
    ]


def label_box(x: float, y: float, text: str, size: float) -> tuple[float, float, float, float]:
    """A left-anchored, vertically centred label's box in px (y up), its width estimated at
    0.6 × font size per character and each line 1.3 × the font size tall."""
    tall = 1.3 * size * len(text.split("<br>"))
    return (x, y - tall / 2, x + narrow.text_width(text, size), y + tall / 2)


# Build: the network


def build_figure(preset: str, selected: int | None = 3):
    spec = PRESETS[preset].spec
    return network_figure(analyze(spec), spec.input_shape, selected)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_on_a_phone_each_layer_is_a_row_down_the_page_with_its_label_beside_it(screen, preset):
    screen.set("phone")
    fig = build_figure(preset)
    labels = next(t for t in fig.data if t.mode == "text")
    n = len(analyze(PRESETS[preset].spec)) + 1
    assert len(labels.y) == n and np.all(np.diff(labels.y) < 0)  # top to bottom, in order
    assert len(set(labels.x)) == 1 and labels.textfont.size >= 11
    assert fig.layout.height == n * ROW_PX + 20  # grows with the number of layers
    boxes = [
        (t, label_box(labels.x[0], y, t, labels.textfont.size))
        for t, y in zip(labels.text, labels.y)
    ]
    assert overlapping(boxes) == []
    assert max(b[2] for _, b in boxes) <= narrow.drawing_width("phone")
    maps_right = max(s.x1 for s in fig.layout.shapes if s.layer != "below")
    assert maps_right < labels.x[0]  # no label covers a layer's maps


def test_on_a_phone_the_arrows_point_down_and_the_selected_layer_stands_out(screen):
    screen.set("phone")
    fig = build_figure("LeNet-5", selected=4)
    arrows = fig.layout.annotations
    assert arrows and all(a.ay > a.y and a.x == a.ax for a in arrows)  # tail above the head
    labels = next(t for t in fig.data if t.mode == "text")
    assert [i for i, t in enumerate(labels.text) if t.startswith("<b>")] == [4]
    band = [s for s in fig.layout.shapes if s.layer == "below"]
    assert len(band) == 1 and band[0].y0 < labels.y[4] < band[0].y1
    assert "conv2" in labels.text[4] and "16×10×10" in labels.text[4]  # name and shape


def test_on_a_phone_the_flatten_step_is_fanned_out_as_on_a_laptop(screen):
    screen.set("phone")
    fans = [t for t in build_figure("TinyVGG (CNN Explainer)").data if t.mode == "lines"]
    assert len(fans) == 7 and all(t.y[0] > t.y[1] for t in fans)  # from above to below


@pytest.mark.parametrize("kind", ["tablet", "wide", None])
def test_off_a_phone_the_network_is_drawn_left_to_right_as_before(screen, kind):
    screen.set(None)
    before = build_figure("Small VGG").to_json()
    screen.set(kind)
    fig = build_figure("Small VGG")
    assert fig.to_json() == before
    labels = next(t for t in fig.data if t.mode == "text")
    assert np.all(np.diff(labels.x) > 0) and fig.layout.height == 300


# Backpropagation: the grids


@pytest.fixture(scope="module")
def seed0() -> bpm.Backprop:
    return bpm.compute_backprop(bpm.sample_net(0))


def backprop_figure(bp: bpm.Backprop, step: int):
    view = steps.explain(bp, step)
    return backprop.network_figure(
        bpm.grid_values(bp), steps.revealed(step), view.marks, bp.net.y
    ), view


def test_on_a_narrow_screen_each_layer_is_a_band_with_its_gradient_beside_it():
    origin = backprop.tall_origin()
    rows = [origin[forward][0] for forward, _ in backprop.BANDS]
    assert np.all(np.diff(rows) > 0)  # the forward pass goes down the page
    assert {origin[f][1] for f, _ in backprop.BANDS} == {0}  # one column of layers
    for forward, gradient in backprop.BANDS:
        if gradient:
            assert origin[gradient] == (origin[forward][0], backprop.GRAD_COL)
    assert set(origin) == set(steps.SHAPES)  # every grid of the wide figure is drawn


@pytest.mark.parametrize("kind", ["phone", "tablet"])
def test_on_a_narrow_screen_the_titles_stay_apart_and_the_numbers_fit_their_cells(
    screen, seed0, kind
):
    screen.set(kind)
    fig, _ = backprop_figure(seed0, len(steps.STEPS) - 1)  # every number known
    cell_w = narrow.drawing_width(kind) / backprop.TALL_WIDTH
    row_px = backprop.ROW_PX[kind]
    boxes = []
    for note in fig.layout.annotations:
        x, y = note.x * cell_w, -note.y * row_px  # px, y up
        left, bottom, right, top = label_box(x, y, note.text, note.font.size)
        if note.yanchor == "bottom":
            bottom, top = y, y + (top - bottom)
        boxes.append((note.text, (left, bottom, right, top)))
    assert overlapping(boxes) == []
    assert all(note.font.size >= 11 for note in fig.layout.annotations)
    cells = fig.data[1]
    assert cells.textfont.size >= 11
    assert max(narrow.text_width(t, cells.textfont.size) for t in cells.text) <= cell_w  # apart
    assert fig.layout.height > 800  # the layers take the page's length, not its width


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 42])
def test_on_a_phone_every_number_fits_in_five_characters(seed):
    bp = bpm.compute_backprop(bpm.sample_net(seed))
    for grid in bpm.grid_values(bp).values():
        for v in np.ravel(grid):
            short = backprop.short_number(float(v))
            assert len(short) <= 5, (v, short)
            if short not in ("0", "≈0"):
                assert abs(float(short) - v) <= 0.06 * abs(v) + 1e-12  # one or two digits kept


def test_short_numbers_keep_two_digits_where_they_fit_and_name_round_off():
    assert [backprop.short_number(v) for v in (0.5, -0.19, -0.049, 2.2e-16, 0.0, 123.0)] == [
        "0.5", "-0.19", "-.049", "≈0", "0", "1e+02",
    ]  # fmt: skip


def test_on_a_phone_every_cell_is_clickable_and_each_mark_outlines_its_cell(screen, seed0):
    screen.set("phone")
    fig, view = backprop_figure(seed0, steps.STEPS.index(("dw", 0, 0)))
    cells = fig.data[1]
    assert len(cells.customdata) == sum(h * w for h, w in steps.SHAPES.values())
    where = {tuple(d): (x, y) for d, x, y in zip(cells.customdata, cells.x, cells.y)}
    assert len(fig.layout.shapes) == len(view.marks)
    for mark, shape in zip(view.marks, fig.layout.shapes):
        x, y = where[mark.panel, mark.row, mark.col]
        assert (shape.x0 + shape.x1) / 2 == pytest.approx(x)
        assert (shape.y0 + shape.y1) / 2 == pytest.approx(y)
    assert fig.layout.clickmode == "event+select"


@pytest.mark.parametrize("step", [0, 9, len(steps.STEPS) - 1])
def test_on_a_laptop_the_grids_stay_as_before(screen, seed0, step):
    screen.set(None)
    before, _ = backprop_figure(seed0, step)
    screen.set("wide")
    fig, _ = backprop_figure(seed0, step)
    assert fig.to_json() == before.to_json()
    assert fig.layout.height == 460 and list(fig.layout.xaxis.range) == list(backprop.X_RANGE)


# Segmentation: the U-Net


def stage_rows(fig) -> list[tuple[float, float]]:
    return [((s.x0 + s.x1) / 2, (s.y0 + s.y1) / 2) for s in fig.layout.shapes]


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_on_a_phone_the_unet_goes_down_the_page_with_its_labels_apart(screen, depth):
    screen.set("phone")
    stages = unet_stages(UNetSpec(depth=depth), 32)
    fig = segmentation.unet_figure(stages)
    centres = stage_rows(fig)
    assert len(centres) == len(stages)
    assert len({round(x, 6) for x, _ in centres}) == 1  # one column
    assert np.all(np.diff([y for _, y in centres]) < 0)  # in the order data flows, downwards
    labels = [a for a in fig.layout.annotations if a.text]
    assert [a.text.split("<br>")[0] for a in labels] == [s.part for s in stages]
    boxes = [(a.text, label_box(a.x, a.y, a.text, a.font.size)) for a in labels]
    assert overlapping(boxes) == []
    assert all(a.font.size >= 11 for a in labels)
    assert max(b[2] for _, b in boxes) <= narrow.drawing_width("phone")
    assert max(s.x1 for s in fig.layout.shapes) < min(a.x for a in labels)
    down = [a for a in fig.layout.annotations if not a.text and a.arrowcolor == theme.MUTED]
    assert len(down) == len(stages) - 1 and all(a.ay > a.y for a in down)


def test_on_a_phone_each_skip_is_a_bracket_from_its_encoder_row_into_its_decoder_row(screen):
    screen.set("phone")
    stages = unet_stages(UNetSpec(depth=3), 32)
    fig = segmentation.unet_figure(stages)
    y_of = {s.name: y for s, (_, y) in zip(stages, stage_rows(fig))}
    skips = [s for s in stages if s.skip_from]
    brackets = [t for t in fig.data if t.mode == "lines"]
    heads = [a for a in fig.layout.annotations if a.arrowcolor == theme.ACCENT_2]
    assert len(brackets) == len(heads) == len(skips) == 3
    for stage, bracket, head in zip(skips, brackets, heads):
        assert bracket.y[0] == pytest.approx(y_of[stage.skip_from])
        assert bracket.y[-1] == head.y == pytest.approx(y_of[stage.name])
    lefts = [b.x[1] for b in brackets]  # the outer (longest) skip is the leftmost
    assert lefts == sorted(lefts, reverse=True)
    screen.set("phone")
    plain = segmentation.unet_figure(unet_stages(UNetSpec(depth=3, skips=False), 32))
    assert not [t for t in plain.data if t.mode == "lines"]


@pytest.mark.parametrize("kind", ["tablet", "wide"])
def test_off_a_phone_the_unet_stays_as_before(screen, kind):
    stages = unet_stages(UNetSpec(), 32)
    screen.set(None)
    before = segmentation.unet_figure(stages).to_json()
    screen.set(kind)
    assert segmentation.unet_figure(stages).to_json() == before


def test_text_width_ignores_tags_and_takes_the_longest_line():
    assert narrow.text_width("<b>conv1</b><br>10×62×62", 10) == pytest.approx(0.6 * 10 * 8)
