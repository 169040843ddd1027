"""The Ensembles page driven through AppTest, from app.py: the prediction, and five tiny
members trained to the comparison with their ensemble and the disputed images."""

from __future__ import annotations

import time
from dataclasses import replace

from models.training import ensembles


def test_the_page_opens_with_a_prediction_and_nothing_trained(open_page):
    at = open_page("ensembles")
    assert not at.exception
    assert at.title[0].value == "Ensembles"
    guess = at.radio(key="ensembles.guess")
    assert guess.value is None and list(guess.options) == list(ensembles.VERDICTS)
    assert any("Make your prediction" in i.value for i in at.info)


def test_five_members_train_and_are_compared_with_their_ensemble(open_page, monkeypatch):
    base = ensembles.ensemble_setup()
    small = replace(base, images=100, config=replace(base.config, epochs=1))
    monkeypatch.setattr(ensembles, "ensemble_setup", lambda: small)
    at = open_page("ensembles")
    at.radio(key="ensembles.guess").set_value(ensembles.VERDICTS[0]).run()
    at.button(key="ensembles.run").click().run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not at.main.get("download_button"):
        time.sleep(1)
        at.run()
    assert not at.exception, at.exception
    assert at.main.get("download_button"), "the results after every member ended"
    assert any("You predicted" in s.value for s in at.success)
    caption = next(c.value for c in at.caption if c.value.startswith("Validation accuracy on"))
    assert "20 images" in caption and "majority vote" in caption
    charts = {c.proto.id for c in at.get("plotly_chart")}
    assert any("accuracy_chart" in k for k in charts)
