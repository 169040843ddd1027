"""The Class board page in AppTest: a teacher opens a class, a student joins it and publishes a
run from Compare runs, the teacher sees it and pins it; bad codes and markup in names are
handled. Each test works on a database of its own (a SQLite file under tmp_path)."""

from __future__ import annotations

import pytest

from models.store import db as store
from models.training.engine import TrainConfig, TrainMetrics
from models.training.history import RunHistory, RunRecord
from tests.test_train import TINY
from ui.panels import class_board as panel
from ui.runs import HISTORY

TIMEOUT = 60


@pytest.fixture(autouse=True)
def own_database(monkeypatch, tmp_path):
    """The app's database for this test only."""
    monkeypatch.delenv(store.URL_ENV, raising=False)
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))


def a_history(accuracy: float = 0.625) -> RunHistory:
    """A session's history holding one ended two-epoch run (no model: cheap to make)."""
    reports = tuple(
        TrainMetrics("epoch", e, e * 4, 8, e * 64, 0.5, 0.7, 1e-3, 900.0, 1.0, e * 1.0, 0.9, acc)
        for e, acc in ((1, 0.5), (2, accuracy))
    )
    metrics = {"validation_accuracy": accuracy, "val_loss": 0.9, "epochs_run": 2}
    record = RunRecord("r1", "my run", "learning rate = 0.03", "", TrainConfig(lr=0.03), TINY,
                       "shapes", ("a", "b"), reports, "finished", None, metrics, None)  # fmt: skip
    history = RunHistory()
    history.add(record)
    return history


def open_class(open_page, title: str = "Period 3"):
    at = open_page("class_board", timeout=TIMEOUT)
    at.text_input(key="class_board.title").set_value(title)
    at.button(key="class_board.create").click().run()
    assert not at.exception, at.exception
    return at, at.session_state[panel.MEMBER].info.code


def join_class(open_page, code: str, name: str):
    at = open_page("class_board", timeout=TIMEOUT)
    at.text_input(key="class_board.code").set_value(code)
    at.text_input(key="class_board.name").set_value(name)
    at.button(key="class_board.join").click().run()
    assert not at.exception, at.exception
    return at


def markdown_text(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def test_without_a_class_the_page_offers_to_open_or_join_one(open_page):
    at = open_page("class_board", timeout=TIMEOUT)
    assert at.button(key="class_board.create") and at.button(key="class_board.join")
    assert not at.error


def test_a_teacher_opens_a_class_and_is_given_its_code(open_page):
    at, code = open_class(open_page)
    assert len(code) == 6
    assert any(code in i.value for i in at.info), "the code is shown to read out"
    assert any("No runs yet" in i.value for i in at.info)
    assert panel.TEACHER in at.session_state


def test_a_published_run_appears_on_the_teachers_board_and_can_be_pinned(open_page):
    teacher, code = open_class(open_page)
    student = join_class(open_page, code, "Ada")
    assert panel.TEACHER not in student.session_state, "a student cannot pin"
    student.session_state[HISTORY] = a_history()
    student.switch_page("pages/experiments.py").run()
    student.button(key="experiments.publish").click().run()
    assert not student.exception, student.exception
    assert any(f"Published to class {code}" in s.value for s in student.success)

    teacher.run()
    table = teacher.dataframe[0].value
    assert list(table["student"]) == ["Ada"] and list(table["run"]) == ["learning rate = 0.03"]
    assert table["validation accuracy"].iloc[0] == pytest.approx(0.625)
    teacher.button(key="class_board.pin").click().run()
    assert not teacher.exception, teacher.exception
    table = teacher.dataframe[0].value
    assert table["pinned"].iloc[0] == "★"
    assert "Pinned for discussion" in markdown_text(teacher)


def test_a_student_sees_the_board_but_has_no_pin(open_page):
    _, code = open_class(open_page)
    student = join_class(open_page, code, "Bo")
    keys = [b.key for b in student.button]
    assert "class_board.pin" not in keys and "class_board.leave" in keys


def test_an_unknown_code_is_said_plainly(open_page):
    at = open_page("class_board", timeout=TIMEOUT)
    at.text_input(key="class_board.code").set_value("zz9zz9")
    at.text_input(key="class_board.name").set_value("Ada")
    at.button(key="class_board.join").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "no class with the code ZZ9ZZ9 — check the code with your teacher"
    ]


def test_a_name_with_markdown_and_html_is_shown_literally(open_page):
    _, code = open_class(open_page)
    name = "**Eve** <b>[x](http://e.vil)</b>"
    student = join_class(open_page, code, name)
    text = markdown_text(student)
    assert panel.literal(name) in text, "the name is escaped where a sentence carries it"
    assert "**Eve**" not in text.replace(panel.literal(name), "")


def test_compare_runs_without_a_class_links_to_the_board_instead_of_publishing(open_page):
    at = open_page("experiments", state={HISTORY: a_history()}, timeout=TIMEOUT)
    assert "experiments.publish" not in [b.key for b in at.button]
    links = at.get("page_link")
    assert any("Class board" in link.proto.label for link in links)


def test_leaving_a_class_returns_to_open_or_join(open_page):
    at, _ = open_class(open_page)
    at.button(key="class_board.leave").click().run()
    assert panel.MEMBER not in at.session_state
    assert at.button(key="class_board.join")


def test_the_literal_escape_keeps_every_character():
    text = "a*b_c`d[e](f)<g>#h|i~j$k:l!"
    escaped = panel.literal(text)
    assert escaped.replace("\\", "") == text
