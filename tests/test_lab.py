"""ui/lab.py, the prepared-experiment piece the teaching pages share, on a page of its own."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from ui.runs import HISTORY


def _lab_page() -> None:
    from dataclasses import replace

    import streamlit as st

    from models.errors import CNNLabError
    from models.training.experiments import Arm, plan_arms, quick_setup
    from ui import lab

    base = quick_setup()
    base = replace(base, images=120, config=replace(base.config, epochs=1))
    arms = [Arm("fast", base), Arm("slow", replace(base, config=replace(base.config, lr=1e-5)))]

    def make_runs():
        if st.session_state.get("lab_test.refuse"):
            raise CNNLabError("this server cannot take that")
        return plan_arms(arms)[1]

    guess = lab.predict("lab_test", "Which ends better?", ["fast", "slow"])
    lab.run_button("lab_test", "Run", make_runs)

    def show(results):
        means = results.means("val_loss")
        best = min(means, key=means.get)
        lab.reveal(results.guess, best, f"Measured losses: {means}.")

    lab.watch("lab_test", show)
    del guess


def _until(at: AppTest, done, seconds: float = 90) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not done(at):
        time.sleep(0.5)
        at.run()


def test_a_prepared_experiment_runs_reveals_and_joins_the_history():
    at = AppTest.from_function(_lab_page, default_timeout=60)
    at.run()
    assert "Make your prediction" in at.info[0].value
    at.radio(key="lab_test.guess").set_value("fast").run()
    at.button(key="lab_test.run").click().run()
    assert not at.exception and not at.error
    _until(at, lambda a: bool(a.success))
    assert at.success[0].value.startswith("You predicted **fast**; the measurement says")
    assert "Measured losses" in at.markdown[-1].value
    kept = at.session_state[HISTORY].runs()
    assert sorted(r.label for r in kept) == ["fast", "slow"]
    assert len({r.group for r in kept}) == 1 and kept[0].group  # one experiment


def test_a_refused_experiment_says_why_and_submits_nothing():
    at = AppTest.from_function(_lab_page, default_timeout=60)
    at.session_state["lab_test.refuse"] = True
    at.run()
    at.button(key="lab_test.run").click().run()
    assert "could not start: this server cannot take that" in at.error[0].value
    assert "Make your prediction" in at.info[0].value
