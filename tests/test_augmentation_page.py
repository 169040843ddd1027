"""The Augmentation page driven through AppTest, from app.py."""

import io
import time

import pytest
from streamlit.testing.v1 import AppTest

from models.data.augment import PipelineSpec

STEPS = "_augmentation.steps"


@pytest.fixture
def aug_page(open_page) -> AppTest:
    return open_page("augmentation", timeout=60)


def _grid_urls(at: AppTest) -> list[str]:
    lists = [im.proto for im in at.get("image")]
    grid = next(p for p in lists if p.imgs and p.imgs[0].caption == "sample 0")
    return [im.url for im in grid.imgs]


def test_the_page_shows_sixteen_samples_and_the_code(aug_page):
    assert len(_grid_urls(aug_page)) == 16
    assert "v2.RandomApply([v2.RandomResizedCrop(size=(64, 64)" in aug_page.code[0].value


def test_a_new_draw_changes_the_grid_and_the_seed_brings_it_back(aug_page):
    first = _grid_urls(aug_page)
    aug_page.button(key="augmentation.new_draw").click().run()
    assert aug_page.number_input(key="augmentation.seed").value == 1
    assert _grid_urls(aug_page) != first
    aug_page.number_input(key="augmentation.seed").set_value(0).run()
    assert _grid_urls(aug_page) == first


def test_steps_can_be_added_reordered_switched_off_and_removed(aug_page):
    aug_page.selectbox(key="augmentation.add").set_value("Posterize").run()
    aug_page.button(key="augmentation.add_step").click().run()
    assert [s[1] for s in aug_page.session_state[STEPS]][-1] == "Posterize"
    aug_page.button(key="augmentation.s4.up").click().run()
    names = [s[1] for s in aug_page.session_state[STEPS]]
    assert names[-2:] == ["Posterize", "Rotation"]
    aug_page.toggle(key="augmentation.s2.on").set_value(False).run()
    assert "ColorJitter" not in aug_page.code[0].value
    aug_page.button(key="augmentation.s0.remove").click().run()
    assert not aug_page.exception
    assert "RandomResizedCrop" not in aug_page.code[0].value


def test_use_in_training_saves_the_pipeline_spec_for_the_train_page(aug_page):
    aug_page.button(key="augmentation.use").click().run()
    saved = aug_page.session_state["augmentation.pipeline"]
    assert isinstance(saved, PipelineSpec) and saved.steps[0].name == "Random resized crop"
    assert aug_page.success


def test_the_grid_is_remembered_by_value_and_redrawn_when_the_pipeline_changes(aug_page):
    first = _grid_urls(aug_page)
    aug_page.slider(key="augmentation.exp_epochs").set_value(3).run()  # not an input of the grid
    assert _grid_urls(aug_page) == first
    aug_page.toggle(key="augmentation.s1.on").set_value(False).run()
    assert _grid_urls(aug_page) != first


def test_samples_and_mixes_are_drawn_once_for_every_session(monkeypatch):
    import numpy as np
    from PIL import Image

    from models.data import augment as aug
    from ui.panels import augmentation as panel

    calls = []
    draw = aug.sample_grid
    monkeypatch.setattr(aug, "sample_grid", lambda *a: calls.append(a[2:]) or draw(*a))
    pixels = np.random.default_rng(9).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    first = panel.sample_view(Image.fromarray(pixels), aug.DEFAULT_PIPELINE, 4, 123)
    again = panel.sample_view(Image.fromarray(pixels), aug.DEFAULT_PIPELINE, 4, 123)
    assert again is first and calls == [(4, 123)]  # another session, a copy of the image
    assert len(first.images) == 4 and all(b.startswith(b"\xff\xd8") for b in first.images)
    shown = Image.open(io.BytesIO(first.images[0])).size
    assert shown == first.grid.images[0].shape[1::-1]  # narrower than THUMB: as drawn
    assert panel.mix_view("MixUp", 0.7, 5) is panel.mix_view("MixUp", 0.7, 5)


def test_switching_every_step_off_says_the_pipeline_is_empty(aug_page):
    for uid in ("s0", "s1", "s2", "s3"):
        aug_page.toggle(key=f"augmentation.{uid}.on").set_value(False)
    aug_page.run()
    assert not aug_page.exception
    assert any("empty" in e.value for e in aug_page.error)


def test_cutmix_draws_on_a_batch(aug_page):
    aug_page.radio(key="augmentation.mix").set_value("CutMix").run()
    assert not aug_page.exception
    assert any("mix_chart" in c.proto.id for c in aug_page.get("plotly_chart"))


def test_the_experiment_trains_both_runs_in_the_background(aug_page):
    aug_page.slider(key="augmentation.exp_n").set_value(100)
    aug_page.slider(key="augmentation.exp_epochs").set_value(1)
    aug_page.button(key="augmentation.train").click().run()
    assert not aug_page.exception
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        captions = [c.value for c in aug_page.caption]
        if sum(": finished" in c for c in captions) == 2:
            break
        time.sleep(0.5)
        aug_page.run()
    assert sum(": finished" in c for c in captions) == 2, captions
    assert any("experiment_chart" in c.proto.id for c in aug_page.get("plotly_chart"))
    aug_page.run()  # the redraw after the end keeps both runs for Compare runs
    kept = aug_page.session_state["_runs.history"].runs()
    assert sorted(r.label for r in kept) == ["with the pipeline", "without augmentation"]
    assert len({r.group for r in kept}) == 1 and kept[0].group.startswith("augmentation")
