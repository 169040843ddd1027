"""The Compare runs figures and tables: overlaid curves with seed bands, the settings that
differ, per-class recall and final scores, on synthetic reports and one tiny real run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from models.network.build import build_model
from models.training.engine import TrainConfig, TrainMetrics
from models.training.executor import ThreadExecutor, TrainRequest
from models.training.history import RunRecord
from tests.test_train import TINY, toy_data
from viz import theme
from viz.experiments import (
    CURVE_METRICS,
    FINAL_COLUMNS,
    MISSING,
    SPLITS,
    X_AXES,
    differing_settings,
    final_metrics_frame,
    overlay_figure,
    recall_figure,
    settings_frame,
    style_settings,
)

STEPS_PER_EPOCH = 2


def history(val_losses, seconds_per_step: float = 1.0, train_shift: float = 0.5):
    """Reports as the engine sends them: a step report per step, an epoch report per epoch.

    Validation accuracy is 1 - val_loss / 10, training loss val_loss + `train_shift`.
    """
    reports, step = [], 0
    for epoch, val in enumerate(val_losses, start=1):
        for _ in range(STEPS_PER_EPOCH):
            step += 1
            reports.append(report("step", epoch, step, val + train_shift, step * seconds_per_step))
        reports.append(
            report("epoch", epoch, step, val + train_shift, step * seconds_per_step, val)
        )
    return tuple(reports)


def report(kind, epoch, step, train_loss, elapsed, val=math.nan) -> TrainMetrics:
    val_acc = math.nan if math.isnan(val) else 1 - val / 10
    return TrainMetrics(
        kind, epoch, step, 99, step * 8, train_loss, 0.5, 0.1, 8.0, 1.0, elapsed, val, val_acc
    )


def visible(fig):
    return [t for t in fig.data if t.showlegend is not False]


def bands(fig):
    return [t for t in fig.data if t.fill == "tonexty"]


def by_name(fig, name):
    return next(t for t in fig.data if t.name == name)


def test_one_run_per_group_draws_one_line_per_group_in_dict_order_colours():
    fig = overlay_figure({"small": [history([3, 2, 1])], "wide": [history([2, 1, 0.5])]})
    assert [t.name for t in fig.data] == ["small", "wide"]
    assert [t.line.color for t in fig.data] == theme.SERIES[:2]
    assert list(fig.data[0].x) == [1, 2, 3] and list(fig.data[0].y) == [3, 2, 1]
    assert not bands(fig)


def test_seeds_draw_their_mean_over_a_band_from_the_lowest_to_the_highest_run():
    runs = [history([1, 2, 3]), history([2, 3, 4]), history([3, 1, 2])]
    fig = overlay_figure({"seeds": runs, "alone": [history([5, 5, 5])]})
    assert [t.name for t in visible(fig)] == ["seeds (3 runs)", "alone"]
    assert len(bands(fig)) == 1 and bands(fig)[0].legendgroup == "seeds (3 runs)"
    assert list(by_name(fig, "seeds (3 runs) max").y) == [3, 3, 4]
    assert list(by_name(fig, "seeds (3 runs) min").y) == [1, 1, 2]
    assert list(by_name(fig, "seeds (3 runs)").y) == [2, 2, 3]


def test_a_run_that_stopped_early_limits_the_band_and_the_longer_run_keeps_its_tail():
    fig = overlay_figure({"g": [history([4, 3, 2, 1]), history([4, 1])]})
    assert list(by_name(fig, "g (2 runs) max").x) == [1, 2]
    assert list(by_name(fig, "g (2 runs) max").y) == [4, 3]
    tail = by_name(fig, "g (2 runs), one run")
    assert list(tail.x) == [2, 3, 4] and list(tail.y) == [3, 2, 1]
    assert tail.showlegend is False


def test_both_splits_share_the_colour_training_dashed_validation_solid():
    fig = overlay_figure({"a": [history([2, 1])], "b": [history([3, 2])]}, split="both")
    lines = {t.name: t.line for t in visible(fig)}
    assert list(lines) == ["a · training", "a · validation", "b · training", "b · validation"]
    assert lines["a · training"].dash == "dash" and lines["a · validation"].dash == "solid"
    assert lines["a · training"].color == lines["a · validation"].color != lines["b · training"]


@pytest.mark.parametrize("metric", CURVE_METRICS)
def test_accuracy_is_drawn_on_a_zero_to_one_axis_and_loss_is_not_fixed(metric):
    fig = overlay_figure({"a": [history([2, 1])]}, metric=metric)
    if metric == "accuracy":
        assert fig.layout.yaxis.range[0] == 0 and fig.layout.yaxis.range[1] == pytest.approx(
            1, 0.05
        )
        assert list(fig.data[0].y) == pytest.approx([0.8, 0.9])
    else:
        assert fig.layout.yaxis.range is None
    assert fig.layout.yaxis.title.text == metric


@pytest.mark.parametrize(
    "x, split, expected",
    [
        ("epochs", "validation", [1, 2, 3]),
        ("steps", "validation", [2, 4, 6]),  # epoch reports at the end of each epoch
        ("seconds", "validation", [4, 8, 12]),  # mean of 1 s and 3 s per step
        ("epochs", "training", [1, 2, 3]),  # the epoch averages
        ("steps", "training", [1, 2, 3, 4, 5, 6]),  # the running figure at every step
    ],
)
def test_the_x_axis_shows_epochs_steps_or_mean_seconds(x, split, expected):
    runs = [history([3, 2, 1], seconds_per_step=1), history([3, 2, 1], seconds_per_step=3)]
    fig = overlay_figure({"g": runs}, split=split, x=x)
    assert list(by_name(fig, "g (2 runs)").x) == expected
    assert fig.layout.xaxis.title.text


@pytest.mark.parametrize("groups", [{}, {"queued": [()]}, {"a": [(), ()]}])
def test_no_reports_give_an_empty_figure_that_says_so(groups):
    for split in SPLITS:
        fig = overlay_figure(groups, split=split)
        assert not fig.data and "No curves" in fig.layout.title.text
        fig.to_json()  # still a figure plotly can send


def test_a_group_with_one_run_still_waiting_draws_the_other_as_a_line():
    fig = overlay_figure({"g": [history([2, 1]), ()]})
    assert len(fig.data) == 1 and not bands(fig)


def test_long_curves_are_downsampled_to_max_points():
    groups = {"g": [history(np.linspace(3, 1, 400))] * 2}
    fig = overlay_figure(groups, split="training", x="steps", max_points=50)
    assert fig.data and all(len(t.x) <= 50 for t in fig.data)
    assert all(t.x[-1] == 800 for t in fig.data)  # the last point is kept


@pytest.mark.parametrize("bad", [{"metric": "f1"}, {"split": "test"}, {"x": "hours"}])
def test_an_unknown_choice_is_refused(bad):
    with pytest.raises(ValueError):
        overlay_figure({"a": [history([1])]}, **bad)


def test_the_choice_lists_are_what_the_page_offers():
    assert X_AXES == ("epochs", "steps", "seconds") and SPLITS[-1] == "both"


def test_differing_settings_counts_a_missing_setting_and_keeps_first_appearance_order():
    rows = {
        "a": {"lr": "0.1", "batch": "32", "epochs": "5"},
        "b": {"lr": "0.01", "batch": "32", "epochs": "5", "dropout": "0.2"},
        "c": {"batch": "32", "epochs": "6", "lr": "0.1"},
    }
    assert differing_settings(rows) == ["lr", "epochs", "dropout"]
    assert differing_settings({"a": rows["a"]}) == []
    assert differing_settings({}) == []


def test_settings_frame_puts_differing_settings_first_with_runs_as_columns():
    rows = {"a": {"seed": "0", "lr": "0.1", "opt": "adam"}, "b": {"seed": "0", "lr": "0.01"}}
    frame = settings_frame(rows)
    assert list(frame.columns) == ["a", "b"]
    assert list(frame.index) == ["lr", "opt", "seed"]
    assert frame.loc["opt", "b"] == MISSING and frame.loc["lr", "b"] == "0.01"


def test_style_settings_marks_only_the_differing_rows_and_leaves_the_frame_alone():
    rows = {"a": {"seed": "0", "lr": "0.1"}, "b": {"seed": "0", "lr": "0.2"}}
    frame = settings_frame(rows)
    styler = style_settings(frame, ["lr"])
    # (row, column) -> css pairs, from the private computation Streamlit also reads
    cells = styler._compute().ctx
    assert {row for (row, _), css in cells.items() if css} == {0}
    assert ("font-weight", "bold") in cells[(0, 0)] and ("font-weight", "bold") in cells[(0, 1)]
    assert frame.equals(settings_frame(rows)) and not frame.index.duplicated().any()


def test_overlay_figure_leaves_its_input_alone():
    runs = [history([1, 2]), history([2, 1, 0])]
    groups = {"g": list(runs)}
    overlay_figure(groups, split="both", x="seconds")
    assert groups == {"g": runs}


def test_streamlit_draws_the_styled_settings_table():
    def page():
        import streamlit as st

        from viz.experiments import settings_frame, style_settings

        frame = settings_frame({"a": {"lr": "0.1", "seed": "0"}, "b": {"lr": "0.2", "seed": "0"}})
        st.dataframe(style_settings(frame, ["lr"]))

    at = AppTest.from_function(page, default_timeout=20).run()
    assert not at.exception
    assert list(at.dataframe[0].value.index) == ["lr", "seed"]


def test_recall_figure_draws_one_bar_per_run_grouped_by_class():
    fig = recall_figure({"a": [0.5, 1.0, 0.0], "b": [0.25, 0.75, 1.0]}, ["cat", "dog", "owl"])
    assert [t.name for t in fig.data] == ["a", "b"] and fig.layout.barmode == "group"
    assert list(fig.data[1].x) == ["cat", "dog", "owl"] and list(fig.data[1].y) == [0.25, 0.75, 1]
    assert tuple(fig.layout.yaxis.range) == (0, 1)
    with pytest.raises(ValueError, match="2 classes"):
        recall_figure({"a": [0.5, 1.0]}, ["cat", "dog", "owl"])


def test_final_metrics_frame_reads_a_real_runs_record_and_leaves_gaps_as_nan():
    executor = ThreadExecutor(1)
    try:
        handle = executor.submit(
            TrainRequest(
                "tiny", build_model(TINY), toy_data(32), TrainConfig(epochs=2, batch_size=16), TINY
            )
        )
        assert handle.join(60)
        record, reports = RunRecord.from_handle(handle), handle.snapshot().history
    finally:
        executor.close()
    frame = final_metrics_frame({"tiny": record.metrics, "failed": {}})
    assert list(frame.columns) == list(FINAL_COLUMNS) and list(frame.index) == ["tiny", "failed"]
    tiny = frame.loc["tiny"]
    assert tiny["validation accuracy"] == pytest.approx(handle.result().evaluation.accuracy)
    assert tiny.notna().all(), tiny  # every column filled for a run that made a model
    assert tiny["epochs run"] == 2 and tiny["seconds"] == pytest.approx(reports[-1].elapsed_s)
    best = {m.epoch: m for m in reports if m.kind == "epoch"}[record.metrics["epoch"]]
    assert tiny["validation loss"] == pytest.approx(best.val_loss)
    assert tiny["training accuracy"] == pytest.approx(best.train_acc)
    assert frame.loc["failed"].isna().all()
    assert overlay_figure({"tiny": [reports]}, split="both", x="seconds").data


def test_final_metrics_frame_turns_json_nulls_into_nan():
    frame = final_metrics_frame({"r": {"val_loss": None, "epochs_run": 1}})
    assert math.isnan(frame.loc["r", "validation loss"]) and frame.loc["r", "epochs run"] == 1
    assert isinstance(final_metrics_frame({}), pd.DataFrame)
