"""Figures on phones and tablets: side-by-side panels restacked, titles moved and wrapped."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots
from streamlit.testing.v1 import AppTest

from models.operations import convolution as conv
from models.operations import convolution_step as cstep
from viz import convolution as cviz
from viz import narrow, theme


@pytest.fixture(autouse=True)
def laptop_afterwards():
    """Each test sets the screen it wants; afterwards figures are drawn for a laptop again."""
    yield
    narrow.set_width_source(lambda: None)


def three_maps(title: str = "") -> go.Figure:
    fig = make_subplots(1, 3, subplot_titles=("red channel", "green channel", "blue channel"))
    for col in (1, 2, 3):
        fig.add_trace(go.Heatmap(z=np.arange(16.0).reshape(4, 4)), row=1, col=col)
    fig.update_yaxes(scaleanchor="x")
    return theme.base_layout(fig, title=title or None, height=300)


def domains(fig: go.Figure, axis: str) -> list[tuple[float, float]]:
    names = sorted(k for k in fig.layout.to_plotly_json() if k.startswith(axis))
    return [tuple(fig.layout[name].domain) for name in names]


def test_the_window_width_sorts_into_phone_tablet_and_laptop():
    assert [narrow.bucket(w) for w in (None, 390, 640, 768, 1024, 1400)] == [
        "wide",
        "phone",
        "phone",
        "tablet",
        "tablet",
        "wide",
    ]
    assert [narrow.columns_for(w, 4) for w in (390, 768, 1400)] == [1, 2, 4]


def test_without_a_browser_figures_stay_as_drawn_for_a_laptop():
    assert narrow.screen_width() is None
    assert domains(three_maps(), "xaxis")[2][0] > 0.6  # the third map is on the right
    narrow.set_width_source(lambda: 1 / 0)  # a broken source is no width, not an error
    assert narrow.screen_width() is None


def test_on_a_phone_three_maps_stand_in_one_column_with_their_titles_above_them():
    narrow.set_width_source(lambda: 390)
    fig = three_maps()
    assert domains(fig, "xaxis") == [(0.0, 1.0)] * 3
    rows = domains(fig, "yaxis")
    assert rows[0][0] > rows[1][1] and rows[1][0] > rows[2][1]  # top to bottom, no overlap
    titles = {note.text: note.y for note in fig.layout.annotations}
    assert [titles[f"{c} channel"] for c in ("red", "green", "blue")] == [r[1] for r in rows]
    assert fig.layout.height > 300


def test_on_a_tablet_three_maps_take_two_columns():
    narrow.set_width_source(lambda: 768)
    fig = three_maps()
    lefts = sorted({round(d[0], 3) for d in domains(fig, "xaxis")})
    assert len(lefts) == 2


def test_colour_bars_follow_their_panel_and_long_titles_wrap_on_a_phone():
    narrow.set_width_source(lambda: 390)
    fig = three_maps(title="How strongly every pixel of the photo answers each of the kernels")
    bottom = domains(fig, "yaxis")[2]
    bar = fig.data[2].colorbar
    assert bar.y == pytest.approx(sum(bottom) / 2) and bar.len == pytest.approx(
        bottom[1] - bottom[0]
    )
    assert "<br>" in fig.layout.title.text


def test_the_convolution_step_figure_stacks_on_a_phone_and_keeps_the_kernel_small():
    step = cstep.compute_step(np.arange(25.0).reshape(5, 5), np.ones((3, 3)), conv.StepSpec(), 2)
    wide = cviz.step_figure(step)
    narrow.set_width_source(lambda: 390)
    fig = cviz.step_figure(step)
    assert domains(wide, "xaxis")[1][0] > 0  # side by side on a laptop
    assert domains(fig, "xaxis") == [(0.0, 1.0)] * 4
    heights = [top - bottom for bottom, top in domains(fig, "yaxis")]
    assert heights[1] < heights[0]  # the 3×3 kernel panel is shorter than the 5×5 input
    tops = sorted(note.y for note in fig.layout.annotations)
    assert all(b - a > 0.05 for a, b in zip(tops, tops[1:]))  # four titles, none on another
    assert np.array_equal(fig.data[3].z, wide.data[3].z, equal_nan=True)  # the same numbers


def test_the_pooling_page_draws_its_two_panels_in_one_column_for_a_phone():
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    at.session_state["responsive.width"] = 390
    at.switch_page("pages/pooling.py").run()
    assert not at.exception
    figures = [chart.proto.spec for chart in at.get("plotly_chart")]
    assert figures, "the Pooling page draws figures"
    two_panel = [f for f in figures if '"xaxis2"' in f]
    assert two_panel
    assert all('"domain":[0.0,1.0]' in f.replace(" ", "") for f in two_panel)
