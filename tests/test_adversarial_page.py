"""The Adversarial page through AppTest: an attack on the sample image and the ε curve."""

import json

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def adversarial_page(open_page) -> AppTest:
    # "Your model": no checkpoint file needed
    return open_page("adversarial", state={"adversarial.model": "Your model"})


def _chart(at: AppTest, name: str) -> dict:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and name in c.proto.id)
    return json.loads(chart.proto.spec)


def test_the_page_shows_the_three_images_with_the_measured_change(adversarial_page):
    titles = [
        a["text"] for a in _chart(adversarial_page, "adversarial.images")["layout"]["annotations"]
    ]
    assert titles[0].startswith("Original")
    assert "L∞ = 8.0/255" in titles[1]


def test_pgd_with_a_smaller_epsilon_stays_within_it(adversarial_page):
    adversarial_page.radio(key="adversarial.method").set_value("PGD").run()
    adversarial_page.number_input(key="adversarial.steps").set_value(3)
    adversarial_page.slider(key="adversarial.epsilon").set_value(2.0).run()
    assert not adversarial_page.exception
    titles = [
        a["text"] for a in _chart(adversarial_page, "adversarial.images")["layout"]["annotations"]
    ]
    assert "L∞ = 2.0/255" in titles[1]


def test_the_epsilon_curve_is_measured_with_progress(adversarial_page):
    adversarial_page.select_slider(key="adversarial.n_images").set_value(50)
    adversarial_page.slider(key="adversarial.eps_max").set_value(8)
    adversarial_page.button(key="adversarial.measure").click().run()
    assert not adversarial_page.exception
    curve = _chart(adversarial_page, "adversarial.curve")["data"][0]
    assert len(curve["x"]) == 9
    # the default model is the shipped TinyVGG: accurate on clean shapes, worse as ε grows
    assert curve["y"][0] >= 0.8 and curve["y"][-1] < curve["y"][0]


def test_a_digits_model_is_measured_on_its_validation_split_not_on_all_digits(adversarial_page):
    from models.training.checkpoint import ROOT, SHIPPED

    if not (ROOT / SHIPPED["Small CNN on digits"]).is_file():
        pytest.skip("checkpoints/ has no digits model (python -m models.training.pretrain)")
    text = " ".join(m.value for m in adversarial_page.markdown)
    assert "fresh, held-out set" not in text and "validation split (20%, seed 0)" in text
    adversarial_page.selectbox(key="adversarial.model").select("Small CNN on digits").run()
    adversarial_page.select_slider(key="adversarial.n_images").set_value(50)
    adversarial_page.slider(key="adversarial.eps_max").set_value(2)
    adversarial_page.button(key="adversarial.measure").click().run()
    assert not adversarial_page.exception
    captions = [c.value for c in adversarial_page.caption if c.value.startswith("Attacked")]
    assert captions == [
        "Attacked: 50 digits from the validation split (20%, seed 0), never trained on."
    ]


def test_a_display_only_slider_does_not_run_the_attack_again(adversarial_page, monkeypatch):
    from models.explain import adversarial as adv

    calls = []
    real = adv.attack_image
    monkeypatch.setattr(adv, "attack_image", lambda *a: calls.append(1) or real(*a))
    adversarial_page.radio(key="adversarial.method").set_value("PGD")
    # attacks are shared by the class: a setting no other test attacks with
    adversarial_page.slider(key="adversarial.epsilon").set_value(6.5).run()
    assert len(calls) == 1
    adversarial_page.slider(key="adversarial.amplify").set_value(30).run()
    adversarial_page.slider(key="adversarial.eps_max").set_value(8).run()
    assert not adversarial_page.exception and len(calls) == 1
    titles = [
        a["text"] for a in _chart(adversarial_page, "adversarial.images")["layout"]["annotations"]
    ]
    assert titles[1].startswith("Perturbation ×30")
    adversarial_page.slider(key="adversarial.epsilon").set_value(4.5).run()
    assert len(calls) == 2


def test_a_second_student_on_a_shipped_model_gets_the_first_ones_attack(open_page, monkeypatch):
    from models.explain import adversarial as adv

    attacked = []
    real = adv.attack_image
    monkeypatch.setattr(adv, "attack_image", lambda *a: attacked.append(a) or real(*a))
    state = {"adversarial.epsilon": 5.5}  # a setting no other test attacks with
    first, second = open_page("adversarial", state=state), open_page("adversarial", state=state)
    assert not first.exception and not second.exception
    assert len(attacked) == 1  # the shipped model is shared: one attack for both
    assert _chart(first, "adversarial.images") == _chart(second, "adversarial.images")
