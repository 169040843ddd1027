"""The run history: bounded with pins, renames and deletes, saved and reopened as one zip, and
hostile files refused with a HistoryError before anything large is read."""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile

import pytest

from models.data.augment import PipelineSpec, StepSpec
from models.network.build import build_model
from models.training import checkpoint
from models.training.engine import RANDOM_FLIPS, TrainConfig, TrainMetrics
from models.training.executor import ThreadExecutor, TrainRequest
from models.training.history import (
    CURVE_FIELDS,
    FORMAT,
    INDEX,
    HistoryError,
    RunHistory,
    RunRecord,
)
from models.training.jobs import FINISHED
from tests.test_train import TINY, toy_data


@pytest.fixture(scope="module")
def run() -> RunRecord:
    """A real two-epoch run of TINY, kept as a record."""
    executor = ThreadExecutor(1)
    try:
        config = TrainConfig(epochs=2, batch_size=16, log_every=1)
        handle = executor.submit(
            TrainRequest("tiny", build_model(TINY), toy_data(64), config, TINY)
        )
        assert handle.join(60), "the tiny run did not end"
        return RunRecord.from_handle(handle, label="learning rate = 0.003", group="exp1")
    finally:
        executor.close()


def step(epoch: int, val_loss: float = math.nan) -> TrainMetrics:
    kind = "step" if math.isnan(val_loss) else "epoch"
    return TrainMetrics(kind, epoch, epoch * 4, 8, epoch * 64, 0.5, 0.75, 1e-3, 900.0, 1.2, 0.1,
                        val_loss, 0.5 if kind == "epoch" else math.nan)  # fmt: skip


def plain(run_id: str, pinned: bool = False, **config) -> RunRecord:
    """A cheap record without a model: a failed run."""
    history = (step(1), step(1, 0.7), TrainMetrics("done", 1, 4, 8, 64, math.inf, *(0.0,) * 5))
    config = TrainConfig(**config)
    return RunRecord(run_id, f"run {run_id}", "", "", config, TINY, "halves", ("left", "right"),
                     history, "failed", "it blew up", {}, None, pinned)  # fmt: skip


def full(n: int, limit: int = 20) -> RunHistory:
    history = RunHistory(limit)
    for i in range(n):
        assert history.add(plain(f"r{i}")) == []
    return history


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def index_of(history: RunHistory) -> dict:
    with zipfile.ZipFile(io.BytesIO(history.to_bytes())) as archive:
        return json.loads(archive.read(INDEX))


# ---------------------------------------------------------------- bounds, pins, names


def test_the_21st_run_drops_the_oldest_unpinned_run():
    history = full(20)
    assert history.add(plain("new")) == ["r0"]
    assert len(history) == 20 and "r0" not in history and "new" in history
    assert [r.id for r in history.runs()][:2] == ["r1", "r2"]
    assert history.runs()[-1].id == "new"


def test_a_pinned_run_survives_the_bound():
    history = full(20)
    history.pin("r0")
    history.pin("r1")
    assert history.add(plain("new")) == ["r2"]
    assert history.add(plain("newer")) == ["r3"]
    assert {"r0", "r1"} <= {r.id for r in history.runs()}


def test_pinning_is_capped_one_below_the_limit():
    history = full(5, limit=5)
    for i in range(4):
        history.pin(f"r{i}")
    with pytest.raises(HistoryError, match="unpin one first"):
        history.pin("r4")
    history.pin("r0", on=False)
    history.pin("r4")
    assert history.add(plain("new")) == ["r0"]
    with pytest.raises(HistoryError, match="unpin one first"):
        history.add(plain("pinned", pinned=True))


def test_rename_strips_and_refuses_empty_or_long_names_and_delete_removes():
    history = full(2)
    history.rename("r0", "  baseline  ")
    assert history.get("r0").name == "baseline"
    for bad in ("   ", "x" * 81, None):
        with pytest.raises(HistoryError, match="name"):
            history.rename("r0", bad)
    assert history.get("r0").name == "baseline"
    history.delete("r0")
    assert "r0" not in history and len(history) == 1
    with pytest.raises(HistoryError, match="no longer"):
        history.get("r0")
    with pytest.raises(HistoryError):
        history.delete("r0")


def test_adding_a_run_again_replaces_it_in_place():
    history = full(3)
    again = plain("r0")
    again.name = "again"
    assert history.add(again) == []
    assert [r.id for r in history.runs()] == ["r0", "r1", "r2"] and history.get("r0") is again


def test_an_id_that_could_escape_the_zip_is_refused():
    with pytest.raises(HistoryError, match="id"):
        RunHistory().add(plain("../evil"))


# ---------------------------------------------------------------- a real run


def test_a_real_run_keeps_its_scores_and_a_model_checkpoint_reads_back(run):
    assert run.status == FINISHED and run.error is None and run.group == "exp1"
    m = run.metrics
    assert set(m) >= {"validation_accuracy", "val_loss", "train_loss", "train_acc",
                      "epochs_run", "seconds", "per_class_recall"}  # fmt: skip
    assert m["epochs_run"] == 2 and len(m["per_class_recall"]) == 2
    json.dumps(m, allow_nan=False)
    bundle = checkpoint.from_bytes(run.checkpoint)
    assert bundle.class_names == ("left", "right") and bundle.spec == TINY
    assert checkpoint.metrics_of(run.checkpoint) == m


def test_a_run_that_has_not_ended_is_not_kept():
    executor = ThreadExecutor(1)
    config = TrainConfig(epochs=500, batch_size=8)
    handle = executor.submit(TrainRequest("long", build_model(TINY), toy_data(64), config, TINY))
    try:
        with pytest.raises(HistoryError, match="not ended"):
            RunRecord.from_handle(handle)
    finally:
        handle.stop()
        handle.join(30)
        executor.close()


def test_curves_csv_parses_with_one_row_per_report_and_empty_cells_for_nan(run):
    rows = list(csv.DictReader(io.StringIO(run.curves_csv())))
    assert tuple(rows[0]) == CURVE_FIELDS and len(rows) == len(run.history)
    for row, m in zip(rows, run.history):
        assert row["kind"] == m.kind and int(row["step"]) == m.step
        assert (row["val_loss"] == "") == math.isnan(m.val_loss)
        assert row["train_loss"] == "" or float(row["train_loss"]) == m.train_loss


@pytest.mark.parametrize(
    "pipeline, text",
    [
        (None, "none"),
        (RANDOM_FLIPS, "flips"),
        (PipelineSpec((StepSpec("Horizontal flip", enabled=False),)), "none"),
        (PipelineSpec((StepSpec("Random resized crop"), StepSpec("Colour jitter"))),
         "Random resized crop, Colour jitter"),
    ],
)  # fmt: skip
def test_settings_row_has_every_setting_as_short_text(pipeline, text):
    row = plain("a", augmentation=pipeline, lr=1e-3, class_weights=True).settings_row()
    assert row["augmentation"] == text and row["lr"] == "0.001" and row["class_weights"] == "yes"
    assert set(row) == {"data", "network"} | set(json.loads(TrainConfig().to_json()))
    assert row["data"] == "halves" and "parameters" in row["network"]
    assert all(isinstance(v, str) and len(v) < 80 for v in row.values())


def test_settings_json_describes_the_run_again(run):
    settings = json.loads(run.settings_json())
    assert TrainConfig.from_json(json.dumps(settings["config"])) == run.config
    assert settings["spec"] == TINY.to_dict() and settings["label"] == run.label


# ---------------------------------------------------------------- save and reopen


def test_save_and_reopen_gives_equal_records_and_a_loadable_model(run):
    history = RunHistory()
    history.add(plain("a", augmentation=RANDOM_FLIPS))
    history.add(run)
    history.pin(run.id)
    history.rename("a", "the failed one")
    again = RunHistory.from_bytes(history.to_bytes())
    assert again.runs() == history.runs()
    assert math.isnan(again.get("a").history[0].val_loss)
    assert again.get("a").history[-1].train_loss == math.inf
    assert checkpoint.from_bytes(again.get(run.id).checkpoint).name == "tiny"
    json.loads(json.dumps(index_of(history)), parse_constant=pytest.fail)  # no NaN in the file
    assert index_of(history)["format"] == FORMAT


# ---------------------------------------------------------------- hostile files


def patched(history: RunHistory, change) -> bytes:
    index = index_of(history)
    change(index)
    return zip_of({INDEX: json.dumps(index).encode()})


def claim_size(data: bytes, name: str, size: int) -> bytes:
    """The zip with the central directory claiming `size` uncompressed bytes for `name`."""
    at = data.index(b"PK\x01\x02")  # a central directory record; its name starts at +46
    while data[at + 46 : at + 46 + len(name)] != name.encode():
        at = data.index(b"PK\x01\x02", at + 4)
    return data[: at + 24] + size.to_bytes(4, "little") + data[at + 28 :]


def test_a_file_that_is_not_a_zip_is_refused():
    with pytest.raises(HistoryError, match="not a saved run history"):
        RunHistory.from_bytes(b"PK\x03\x04 this is not really a zip")


def test_a_size_claim_beyond_the_cap_is_refused_from_the_directory():
    data = zip_of({INDEX: b"{}", "runs/a.pt": b"x" * 100})
    with pytest.raises(HistoryError, match="unpacks to 2,048 MB"):
        RunHistory.from_bytes(claim_size(data, "runs/a.pt", 2**31 - 1))


def test_an_oversized_member_or_total_is_refused(monkeypatch):
    monkeypatch.setenv(checkpoint.MAX_MB_ENV, "0.01")  # about 10 KB a member
    with pytest.raises(HistoryError, match="unpacks to"):
        RunHistory.from_bytes(zip_of({INDEX: b"{}", "runs/a.pt": bytes(11_000)}))
    # each member is under the cap, but together they pass the cap for two runs (2 × 10,485)
    members = {INDEX: b"{}" + bytes(1_000), "runs/a.pt": bytes(10_400), "runs/b.pt": bytes(10_400)}
    with pytest.raises(HistoryError, match="a history of 2 runs may take"):
        RunHistory.from_bytes(zip_of(members), limit=2)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda d: d.update(format="cnn-lab-runs/2"), "not a saved run history"),
        (lambda d: d.update(runs={}), "must be a list"),
        (lambda d: d["runs"][0].update(name=5), "name"),
        (lambda d: d["runs"][0].update(pinned="yes"), "pinned"),
        (lambda d: d["runs"][0].update(status="running"), "has not ended|a kept run"),
        (lambda d: d["runs"][0]["config"].update(lr=-1), "learning rate"),
        (lambda d: d["runs"][0]["history"][0].update(step=1.5), "whole number"),
        (lambda d: d["runs"][0]["history"][0].update(val_loss="NaN"), "not a number"),
        (lambda d: d["runs"][0].pop("created"), "missing or unknown field"),
        (lambda d: d["runs"][0].update(created=10**400), "created"),
        (lambda d: d["runs"][0]["metrics"].update(loss=math.nan), "not valid JSON"),
        (lambda d: d["runs"].append(dict(d["runs"][0])), "repeats the id"),
        (lambda d: d["runs"].extend([d["runs"][0]] * 20), "at most 20"),
    ],
)
def test_a_history_with_a_bad_field_is_refused(change, words):
    with pytest.raises(HistoryError, match=words):
        RunHistory.from_bytes(patched(full(1), change))


def test_a_model_that_check_archive_refuses_is_refused():
    history = full(1)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", bytes(1000))
    data = zip_of({INDEX: json.dumps(index_of(history)).encode(), "runs/r0.pt": inner.getvalue()})
    with pytest.raises(HistoryError, match="model of the run 'run r0' was refused.*compressed"):
        RunHistory.from_bytes(data)


@pytest.mark.parametrize("name", ["../evil.pt", "runs/x.pt", "notes.txt"])
def test_a_member_that_belongs_to_no_run_is_refused(name):
    data = zip_of({INDEX: json.dumps(index_of(full(1))).encode(), name: b"x"})
    with pytest.raises(HistoryError, match="never does|belongs to no run"):
        RunHistory.from_bytes(data)
