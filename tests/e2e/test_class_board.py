"""The class board in a real browser, two sessions: a teacher opens a class, a student joins it,
seeds their run history by opening a saved runs file on Compare runs and publishes a run; the
teacher sees it on the board and pins it, and the student sees the pin."""

from __future__ import annotations

import re

import pytest

from .helpers import click_and_wait, expect, goto, sidebar_link, wait_for_run

MAIN = '[data-testid="stMain"]'
UPLOAD = f'{MAIN} [data-testid="stFileUploaderDropzoneInput"]'
STUDENT = "Ada <b>*L*</b>"  # markup in a name is shown as typed
REFRESH_MS = 20_000  # the board refreshes every 5 s; a busy machine draws slowly


@pytest.fixture
def server_url(start_app_server, monkeypatch, tmp_path) -> str:
    """A fresh server whose database is a SQLite file of this test's own."""
    monkeypatch.delenv("CNNLAB_DATABASE_URL", raising=False)
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    return start_app_server()


def saved_runs(tmp_path) -> str:
    """A saved run history with one ended run, as Compare runs writes it."""
    from models.training.engine import TrainConfig, TrainMetrics
    from models.training.history import RunHistory, RunRecord
    from tests.test_train import TINY

    reports = tuple(
        TrainMetrics("epoch", e, e * 4, 8, e * 64, 0.5, 0.7, 1e-3, 900.0, 1.0, e * 1.0, 0.9, acc)
        for e, acc in ((1, 0.5), (2, 0.75))
    )
    metrics = {"validation_accuracy": 0.75, "val_loss": 0.9, "epochs_run": 2}
    record = RunRecord("r1", "my run", "learning rate = 0.03", "", TrainConfig(lr=0.03), TINY,
                       "shapes", ("a", "b"), reports, "finished", None, metrics, None)  # fmt: skip
    history = RunHistory()
    history.add(record)
    path = tmp_path / "runs.zip"
    path.write_bytes(history.to_bytes())
    return str(path)


def test_a_run_one_student_publishes_appears_on_the_teachers_board(
    server_url, page, chromium_browser, tmp_path
):
    goto(page, f"{server_url}/class_board")
    click_and_wait(page, page.get_by_role("button", name="Open a class"))
    invitation = page.locator(MAIN).get_by_text("Give your class the code", exact=False)
    expect(invitation).to_be_visible()
    code = re.search(r"code ([A-Z0-9]{6})", invitation.inner_text()).group(1)

    student_context = chromium_browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        student = student_context.new_page()
        student.set_default_timeout(30_000)
        goto(student, f"{server_url}/class_board")
        student.get_by_label("Class code (from your teacher)").fill(code.lower())
        student.get_by_label("Display name", exact=False).fill(STUDENT)
        click_and_wait(student, student.get_by_role("button", name="Join"))
        expect(student.get_by_text(f"you are {STUDENT}", exact=False)).to_be_visible()

        click_and_wait(student, sidebar_link(student, "Compare runs"))  # the same session
        student.locator(UPLOAD).set_input_files(saved_runs(tmp_path))
        expect(student.get_by_text("Opened 1 runs from runs.zip")).to_be_visible()
        click_and_wait(student, sidebar_link(student, "Class board"))
        click_and_wait(student, sidebar_link(student, "Compare runs"))
        click_and_wait(student, student.get_by_text("Pin, rename, delete or download a run"))
        click_and_wait(
            student, student.get_by_role("button", name=f"Publish to the class board ({code})")
        )
        expect(student.get_by_text(f"Published to class {code}")).to_be_visible()

        best = page.get_by_text("Best validation accuracy 75.0%", exact=False)
        expect(best).to_be_visible(timeout=REFRESH_MS)
        expect(best).to_contain_text(f"{STUDENT} · learning rate = 0.03")
        click_and_wait(page, page.get_by_role("button", name="Pin", exact=True))
        expect(page.get_by_text("Pinned for discussion", exact=False)).to_be_visible()

        click_and_wait(student, sidebar_link(student, "Class board"))
        wait_for_run(student)
        expect(student.get_by_text("Pinned for discussion", exact=False)).to_be_visible(
            timeout=REFRESH_MS
        )
        expect(student.get_by_role("button", name="Pin", exact=True)).to_have_count(0)
        expect(student.locator('[data-testid="stException"]')).to_have_count(0)
    finally:
        student_context.close()
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
