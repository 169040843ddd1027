"""Compare runs: a "change one thing" experiment from the page, and two runs compared."""

from __future__ import annotations

import time

import pytest
import torch

from models.network.build import build_model
from models.training.engine import TrainConfig
from models.training.executor import ThreadExecutor, TrainRequest
from models.training.experiments import VARIABLES, ExperimentError, parse_values, plan
from models.training.history import RunHistory, RunRecord
from tests.test_train import TINY, toy_data
from ui.runs import HISTORY


def _tiny_run(name: str, lr: float) -> RunRecord:
    config = TrainConfig(epochs=2, batch_size=16, lr=lr)
    handle = ThreadExecutor(1).submit(
        TrainRequest(name, build_model(TINY), toy_data(64), config, TINY)
    )
    assert handle.join(60)
    return RunRecord.from_handle(handle)


@pytest.fixture(scope="module")
def two_runs() -> RunHistory:
    history = RunHistory()
    history.add(_tiny_run("slow", 1e-4))
    history.add(_tiny_run("fast", 1e-2))
    return history


def test_two_runs_are_overlaid_with_their_differing_setting_first(open_page, two_runs):
    at = open_page("experiments", state={HISTORY: two_runs})
    assert not at.exception, at.exception
    assert at.get("plotly_chart"), "the overlay of the two runs"
    settings = at.dataframe[0].value
    assert settings.index[0] == "lr" and list(settings.columns) == ["1. slow", "2. fast"]
    text = " ".join(m.value for m in at.markdown)
    assert "what differs between the chosen runs is highlighted and listed first: lr" in text
    finals = at.dataframe[1].value
    assert list(finals.index) == ["1. slow", "2. fast"]
    assert finals.notna().all().all(), finals  # every score of a run that made a model


def test_renaming_and_pinning_a_run_from_the_page(open_page, two_runs):
    at = open_page("experiments", state={HISTORY: two_runs})
    run_id = at.selectbox(key="experiments.manage").value
    at.text_input(key=f"experiments.name.{run_id}").set_value("my first run").run()
    at.button(key="experiments.rename").click().run()
    assert not at.exception, at.exception
    assert at.session_state[HISTORY].get(run_id).name == "my first run"


def test_an_experiment_runs_one_quick_run_per_value_and_keeps_them(open_page):
    at = open_page("experiments")
    at.selectbox(key="experiments.variable").set_value("data set size").run()
    at.text_input(key="experiments.values.data set size").set_value("60, 120").run()
    at.button(key="experiments.run").click().run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(at.session_state[HISTORY]) < 2:
        time.sleep(0.5)
        at.run()
    at.run()
    assert not at.exception, at.exception
    kept = at.session_state[HISTORY].runs()
    assert [r.label for r in kept] == ["data set size = 60", "data set size = 120"]
    assert len({r.group for r in kept}) == 1
    assert any("Measured:" in s.value for s in at.success)


def test_bad_values_are_refused_in_words(open_page):
    at = open_page("experiments")
    at.text_input(key="experiments.values.learning rate").set_value("0.1").run()
    assert any("2 to 5 values" in e.value for e in at.error)
    at.text_input(key="experiments.values.learning rate").set_value("0.1, fast").run()
    assert any("learning rate" in e.value for e in at.error) and not at.exception


def test_plan_holds_everything_but_the_variable_equal():
    variable = VARIABLES["dropout"]
    group, runs = plan(variable, parse_values(variable, "0, 0.5"), seeds=2)
    assert len(runs) == 4 and len(group) == 8
    assert [r.seed for r in runs] == [0, 1, 0, 1]
    with_dropout = [layer.type for layer in runs[2].request.spec.layers]
    assert "dropout" in with_dropout and "dropout" not in [
        x.type for x in runs[0].request.spec.layers
    ]
    assert runs[0].request.config == runs[2].request.config
    with pytest.raises(ExperimentError):
        parse_values(variable, "0.5, 0.5")


def test_the_initialisation_variable_draws_the_chosen_weights_from_the_seed():
    variable = VARIABLES["initialisation"]
    _, runs = plan(variable, parse_values(variable, "PyTorch default, tiny (std 0.001)"))
    default, tiny = (r.request.model for r in runs)
    built = build_model(runs[0].request.spec, seed=0)
    first = next(m for m in default.modules() if isinstance(m, torch.nn.Conv2d))
    assert torch.equal(
        first.weight,
        next(m for m in built.modules() if m is not None and isinstance(m, torch.nn.Conv2d)).weight,
    )
    small = next(m for m in tiny.modules() if isinstance(m, torch.nn.Conv2d))
    assert 0.0005 < float(small.weight.std()) < 0.002 and float(small.bias.abs().max()) == 0.0
    again = plan(variable, parse_values(variable, "PyTorch default, tiny (std 0.001)"))[1]
    assert torch.equal(
        small.weight,
        next(m for m in again[1].request.model.modules() if isinstance(m, torch.nn.Conv2d)).weight,
    )


def test_a_file_that_is_not_a_saved_history_is_refused_and_the_runs_kept(open_page, two_runs):
    kept = {r.id for r in two_runs.runs()}
    at = open_page("experiments", state={HISTORY: two_runs})
    junk = ("runs.zip", b"PK\x03\x04 not a zip at all", "application/zip")
    at.file_uploader(key="experiments.open").set_value(junk).run()
    assert not at.exception, at.exception
    assert any("not a saved run history" in e.value for e in at.error), at.error
    # the history was not replaced: its runs are all still there (and saved with the workspace)
    assert kept <= {r.id for r in at.session_state[HISTORY].runs()}


def test_the_page_reads_the_run_history_once_per_run(open_page, monkeypatch):
    from ui import runs

    reads = []
    read = runs.history
    monkeypatch.setattr(runs, "history", lambda: reads.append(1) or read())
    at = open_page("experiments")
    before = len(reads)
    at.run()
    assert not at.exception and len(reads) - before == 1  # each read asks the database
