"""The Lessons page: pick a lesson, answer wrong then right, move on, and open one by link."""

from __future__ import annotations

from models.lessons import load_builtin

LEARNING = "3_learning"


def _step_title(at) -> str:
    return at.subheader[0].value


def test_the_page_opens_on_the_first_step_of_the_first_lesson(open_page):
    at = open_page("lessons")
    assert not at.exception and not at.error
    assert at.selectbox(key="lessons.lesson").value == "1_convolution"
    assert _step_title(at) == "1. One window, one number"
    assert at.number_input[0].value is None  # nothing is answered for the student


def test_a_student_answers_wrong_then_right_and_moves_on(open_page):
    at = open_page("lessons")
    at.selectbox(key="lessons.lesson").set_value(LEARNING).run()
    at.button(key="lessons.next").click().run()
    at.button(key="lessons.next").click().run()
    assert _step_title(at) == "3. Softmax temperature"
    check = at.button(key=f"lessons.check.{LEARNING}.3")

    check.click().run()
    assert "first" in at.warning[0].value  # Check with no answer only asks for one

    at.radio(key=f"lessons.answer.{LEARNING}.3").set_value("More extreme").run()
    at.button(key=f"lessons.check.{LEARNING}.3").click().run()
    assert "Not this time" in at.info[0].value and "More even" in at.info[0].value

    at.radio(key=f"lessons.answer.{LEARNING}.3").set_value("More even").run()
    at.button(key=f"lessons.check.{LEARNING}.3").click().run()
    assert "Right" in at.success[0].value
    assert "1 of 1 checked answers right" in at.get("progress")[0].proto.text

    at.button(key="lessons.next").click().run()
    assert _step_title(at) == "4. Following the gradient back"
    at.button(key="lessons.back").click().run()
    assert _step_title(at) == "3. Softmax temperature"
    assert "Right" in at.success[0].value  # the checked answer is kept
    assert not at.exception


def test_a_number_answer_shows_how_it_was_computed(open_page):
    at = open_page("lessons")
    at.number_input[0].set_value(3).run()
    at.button(key="lessons.check.1_convolution.1").click().run()
    assert "Right" in at.success[0].value
    assert any("lfloor" in x.value for x in at.latex)


def test_a_link_opens_a_lesson_at_a_step(open_page):
    at = open_page(
        "lessons", query_params={"lessons.lesson": "6_architectures", "lessons.step": "3"}
    )
    lesson = load_builtin("6_architectures")
    assert _step_title(at) == f"3. {lesson.steps[2].title}"
    assert not at.error


def test_a_link_to_a_step_past_the_end_shows_the_last_step(open_page):
    at = open_page("lessons", query_params={"lessons.lesson": "4_explaining", "lessons.step": "30"})
    assert _step_title(at).startswith(f"{len(load_builtin('4_explaining').steps)}. ")


def test_switching_lesson_starts_it_at_step_one(open_page):
    at = open_page("lessons")
    at.button(key="lessons.next").click().run()
    at.selectbox(key="lessons.lesson").set_value("2_features").run()
    assert _step_title(at) == "1. The first layer's maps"
