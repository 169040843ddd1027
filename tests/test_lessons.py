"""Lesson files: validated field by field, computed answers agree with PyTorch, and every step
of every shipped lesson opens its page, set up, without an error."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from models import lessons as ls
from models.network.presets import PRESETS
from models.operations.pooling import sample_grid
from ui import links
from ui.panels.lessons import check_lesson, step_params

GOOD = """
title = "A tiny lesson"
minutes = 10
about = "Two steps."

[[steps]]
title = "Size"
page = "convolution"
settings = { rows = 7, stride = 2 }
look = "Look at the output."

[steps.question]
ask = "How big?"
answer = { compute = "conv_output_size", args = { w = 7, k = 3, s = 2 } }
explain = "Because."

[[steps]]
title = "Pick"
page = "pooling"
look = "Look."
question = { ask = "Which?", choices = ["a", "b"], answer = "b", explain = "b it is." }
"""


def test_a_well_formed_lesson_is_read_with_its_answers_computed():
    lesson = ls.parse_lesson(GOOD, "tiny")
    assert [s.page for s in lesson.steps] == ["convolution", "pooling"]
    assert lesson.steps[0].question.answer == 3 and "7" in lesson.steps[0].question.working
    assert lesson.steps[0].settings == (("rows", 7), ("stride", 2))
    check_lesson(lesson)


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        (GOOD.replace("minutes = 10", 'minutes = "ten"'), "minutes"),
        (GOOD.replace('title = "Size"\n', 'title = "Size\n'), "line 7"),
        (GOOD.replace('ask = "How big?"', ""), "step 1.question.ask"),
        (GOOD.replace('answer = "b"', 'answer = "c"'), "step 2.question.answer"),
        (GOOD.replace('"conv_output_size"', '"eval"'), "step 1.question.answer.compute"),
        (GOOD.replace("s = 2 }", "stride = 2 }"), "unknown stride"),
        (GOOD.replace("w = 7,", "w = 10000000,"), "step 1.question.answer.args.w"),
        (GOOD.replace("w = 7,", "w = 7.5,"), "whole number"),
        (GOOD.replace('look = "Look."', 'look = "Look."\ncolour = "red"'), "unknown field"),
        (GOOD.replace('page = "pooling"', 'page = "../app"'), "step 2.page"),
        (GOOD + "\n" + "# padding\n" * 8000, "at most"),
    ],
)
def test_a_malformed_lesson_is_refused_naming_the_line_or_field(broken, named):
    with pytest.raises(ls.LessonError, match=named):
        ls.parse_lesson(broken)


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        (GOOD.replace('page = "pooling"', 'page = "nowhere"'), "step 2.page"),
        (GOOD.replace("rows = 7", "rows = 99"), "convolution.rows=99"),
        (GOOD.replace("rows = 7", "evil = 1"), "no such setting"),
    ],
)
def test_a_lesson_naming_a_missing_page_or_setting_is_refused(broken, named):
    with pytest.raises(ls.LessonError, match=named):
        check_lesson(ls.parse_lesson(broken))


def test_a_number_answer_is_right_within_its_tolerance_only():
    q = ls.Question("p?", "why", (), 0.693, tolerance=0.01)
    assert q.check(0.69) and q.check(0.7) and not q.check(0.71) and not q.check(None)


def test_a_choice_answer_is_right_only_word_for_word():
    q = ls.Question("which?", "why", ("a", "b"), "b")
    assert q.check("b") and not q.check("a") and not q.check(None)


@pytest.mark.parametrize(
    ("w", "k", "s", "p", "d"), [(5, 3, 1, 0, 1), (7, 3, 2, 1, 1), (6, 3, 2, 0, 1), (9, 3, 1, 0, 2)]
)
def test_computed_output_sizes_match_pytorch(w, k, s, p, d):
    args = {"w": w, "k": k, "s": s, "p": p, "d": d}
    out = nn.Conv2d(1, 1, k, s, p, d)(torch.zeros(1, 1, w, w))
    assert ls.compute("conv_output_size", args).value == out.shape[-1]
    pooled = F.max_pool2d(torch.zeros(1, 1, w, w), k, s, 0)
    assert ls.compute("pool_output_size", {"w": w, "k": k, "s": s}).value == pooled.shape[-1]


@pytest.mark.parametrize(
    ("k", "c_in", "c_out", "groups"), [(3, 3, 10, 1), (7, 64, 64, 1), (3, 8, 8, 4)]
)
def test_computed_parameter_counts_match_pytorch(k, c_in, c_out, groups):
    conv = nn.Conv2d(c_in, c_out, k, groups=groups)
    args = {"k": k, "c_in": c_in, "c_out": c_out, "groups": groups}
    assert ls.compute("conv_params", args).value == sum(p.numel() for p in conv.parameters())
    stack = nn.Sequential(*(nn.Conv2d(c_in, c_in, k) for _ in range(3)))
    args = {"k": k, "channels": c_in, "layers": 3, "bias": 1}
    assert ls.compute("conv_stack_params", args).value == sum(p.numel() for p in stack.parameters())


def test_computed_flatten_and_dense_sizes_match_pytorch():
    assert (
        ls.compute("flatten_size", {"c": 10, "h": 13, "w": 13}).value
        == nn.Flatten()(torch.zeros(1, 10, 13, 13)).shape[1]
    )
    dense = nn.Linear(12, 5)
    assert ls.compute("dense_params", {"n_in": 12, "n_out": 5}).value == sum(
        p.numel() for p in dense.parameters()
    )


def test_the_pool_winner_is_the_largest_number_of_its_window():
    grid = torch.as_tensor(sample_grid(6, 0))
    expected = F.max_pool2d(grid[None, None], 2, 2)[0, 0, 1, 1].item()
    args = {"side": 6, "seed": 0, "k": 2, "s": 2, "row": 1, "col": 1}
    assert ls.compute("pool_winner", args).value == expected == grid[2:4, 2:4].max().item()


def test_receptive_fields_grow_by_the_kernel_times_the_jump():
    assert ls.compute("receptive_field", {"kernels": [3, 3, 3]}).value == 7
    args = {"kernels": [3, 2, 3], "strides": [1, 2, 1]}
    assert ls.compute("receptive_field", args).value == 8


def test_loss_and_accuracy_computations_match_their_formulas():
    ce = F.cross_entropy(torch.log(torch.tensor([[0.5, 0.5]])), torch.tensor([0])).item()
    assert ls.compute("cross_entropy", {"p": 0.5}).value == pytest.approx(ce)
    assert ls.compute("focal_factor", {"p": 0.9, "gamma": 2.0}).value == pytest.approx(100)
    assert ls.compute("majority_accuracy", {"ratio": 10.0}).value == pytest.approx(100 * 10 / 11)
    assert ls.compute("cross_entropy", {"p": 0.01}).value == pytest.approx(-math.log(0.01))


SHIPPED = ls.builtin_ids()


def test_six_lessons_ship_in_order():
    titles = [ls.load_builtin(i).title for i in SHIPPED]
    assert titles == [
        "What a convolution computes",
        "From pixels to features",
        "How a network learns",
        "Why it decided that",
        "Making training work",
        "Architectures",
    ]


@pytest.mark.parametrize("lesson_id", SHIPPED)
def test_every_shipped_lesson_is_valid_and_its_answers_are_consistent(lesson_id):
    lesson = ls.load_builtin(lesson_id)
    check_lesson(lesson)
    assert 10 <= lesson.minutes <= 15 and 5 <= len(lesson.steps) <= 10
    questions = [s.question for s in lesson.steps if s.question]
    assert len(questions) >= len(lesson.steps) - 1
    for q in questions:
        assert q.check(q.answer)
        if q.choices:
            assert all(not q.check(c) for c in q.choices if c != q.answer)
        else:
            assert not q.check(float(q.answer) + 2 * q.tolerance + 1)
        assert not (q.working and q.tolerance > 1), "a computed answer needs no wide tolerance"


def _expected(step: ls.Step) -> dict[str, object]:
    return {
        f"{step.page}.{k}": links.parse_setting(step.page, k, links._text(v))
        for k, v in step.settings
    }


@pytest.mark.parametrize("lesson_id", SHIPPED)
def test_every_step_opens_its_page_set_up_without_an_error(open_page, lesson_id):
    """One session walks the lesson, as a student would, opening each step's page by its link."""
    lesson = ls.load_builtin(lesson_id)
    at = open_page(None)
    for n, step in enumerate(lesson.steps, 1):
        at.query_params = dict(step_params(step))
        at.switch_page(f"pages/{step.page}.py").run()
        where = f"{lesson_id} step {n} ({step.page})"
        assert not at.exception, (where, at.exception)
        assert not at.error, (where, [e.value for e in at.error])
        for key, value in _expected(step).items():
            assert at.session_state[key] == value, (where, key)
        if step.image:
            assert at.session_state["image_name"] == step.image, where
        if step.preset:
            assert at.session_state["network"] == PRESETS[step.preset].spec, where


def test_a_step_with_a_setting_a_page_refuses_cannot_build_its_link():
    step = ls.load_builtin(SHIPPED[0]).steps[0]
    with pytest.raises(links.LinkError):
        step_params(replace(step, settings=(("stride", 9),)))
