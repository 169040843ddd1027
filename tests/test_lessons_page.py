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


def test_opening_lessons_saves_nothing_until_the_student_moves_and_then_every_move(
    monkeypatch, tmp_path
):
    from streamlit.testing.v1 import AppTest

    from models.store.workspaces import WorkspaceStore
    from tests.conftest import PAGE_TIMEOUT_S, ROOT
    from ui import workspace

    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))  # a server with nothing saved yet
    monkeypatch.delenv("CNNLAB_DATABASE_URL", raising=False)
    ws = WorkspaceStore.new_id()

    def visit() -> AppTest:  # a new session of the browser whose cookie names `ws`
        at = AppTest.from_file(ROOT / "app.py", default_timeout=PAGE_TIMEOUT_S)
        at.session_state[workspace.ID] = ws
        at.run()
        at.switch_page("pages/lessons.py").run()
        assert not at.exception, at.exception
        return at

    at = visit()
    assert not workspace.workspace_store().exists(ws), "opening Lessons writes nothing"
    at.button(key="lessons.next").click().run()
    assert workspace.workspace_store().exists(ws)

    again = visit()  # comes back at step 2, and a return to step 1 is saved too
    assert _step_title(again) == "2. Padding keeps the size"
    again.button(key="lessons.back").click().run()
    assert _step_title(visit()) == "1. One window, one number"
