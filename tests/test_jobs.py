"""Background training jobs: status, curves, Stop, the server-wide cap and failures."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import torch
from torch import nn

from models.network.build import build_model
from models.training.engine import TrainConfig
from models.training.jobs import (
    FAILED,
    FINISHED,
    OUT_OF_MEMORY,
    QUEUED,
    RUNNING,
    STOPPED,
    TrainingJob,
)
from tests.test_train import TINY, TINY_BATCHNORM, NaNAfter, random_labels, toy_data


def _wait_for(job: TrainingJob, predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate(job.snapshot()) and time.monotonic() < deadline:
        time.sleep(0.02)


def test_job_trains_in_the_background_and_hands_over_a_trained_bundle():
    job = TrainingJob(
        build_model(TINY), toy_data(64), TrainConfig(epochs=2, batch_size=16), TINY, "tiny"
    ).start()
    assert job.join(timeout=60)
    snap = job.snapshot()
    assert snap.status == FINISHED and snap.error is None
    assert [m.kind for m in snap.history].count("epoch") == 2
    bundle = job.bundle()
    assert bundle.trained and bundle.class_names == ("left", "right") and bundle.spec == TINY


def test_stop_ends_a_running_job_within_a_second_and_keeps_its_curves():
    job = TrainingJob(
        build_model(TINY),
        toy_data(256),
        TrainConfig(epochs=500, batch_size=8, log_every=1),
        TINY,
        "tiny",
    ).start()
    _wait_for(job, lambda s: s.status == RUNNING and len(s.history) >= 3)
    job.stop()
    assert job.join(timeout=1.0), "the thread must end within a second of Stop"
    snap = job.snapshot()
    assert snap.status == STOPPED and len(snap.history) >= 3


def test_a_queued_job_waits_for_a_slot_and_can_be_stopped_while_waiting():
    slots = threading.BoundedSemaphore(1)
    slots.acquire()  # another session's training holds the only slot
    job = TrainingJob(
        build_model(TINY), toy_data(32), TrainConfig(epochs=1), TINY, "tiny", slots
    ).start()
    time.sleep(0.3)
    assert job.status == QUEUED
    job.stop()
    assert job.join(timeout=1.0)
    assert job.status == STOPPED and job.snapshot().history == ()
    slots.release()  # a BoundedSemaphore raises if the job had released a slot it never held


def test_slots_cap_concurrent_jobs_and_are_released_when_each_ends():
    slots = threading.BoundedSemaphore(1)
    config = TrainConfig(epochs=1, batch_size=16)
    jobs = [
        TrainingJob(build_model(TINY), toy_data(32), config, TINY, f"j{i}", slots).start()
        for i in range(2)
    ]
    assert all(j.join(timeout=60) for j in jobs)
    assert [j.status for j in jobs] == [FINISHED, FINISHED]
    assert slots.acquire(blocking=False)


def test_nan_loss_fails_the_job_with_its_message_and_keeps_the_curves():
    model = NaNAfter(build_model(TINY), after=5)
    job = TrainingJob(
        model, toy_data(96), TrainConfig(epochs=3, batch_size=16, log_every=2), TINY, "nan"
    ).start()
    assert job.join(timeout=60)
    snap = job.snapshot()
    assert snap.status == FAILED and "step 5" in snap.error and "learning rate" in snap.error
    assert [m.step for m in snap.history] == [2, 4]
    assert job.bundle() is None


class FailsAfter(nn.Module):
    """A real network whose `after`-th training forward pass raises `error`."""

    def __init__(self, net: nn.Module, after: int, error: Exception) -> None:
        super().__init__()
        self.net, self.after, self.error, self.calls = net, after, error, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += self.training
        if self.training and self.calls >= self.after:
            raise self.error
        return self.net(x)


def _failed_run(error: Exception) -> TrainingJob:
    model = FailsAfter(build_model(TINY), after=5, error=error)
    config = TrainConfig(epochs=3, batch_size=16, log_every=2)
    job = TrainingJob(model, toy_data(96), config, TINY, "bug").start()
    assert job.join(timeout=60)
    return job


def test_a_bug_in_the_thread_reaches_the_page_as_an_apology_and_the_log_as_a_traceback(caplog):
    with caplog.at_level(logging.ERROR, logger="cnnlab.training"):
        snap = _failed_run(RuntimeError("mat1 and mat2 shapes cannot be multiplied")).snapshot()
    assert snap.status == FAILED and snap.error.startswith("Sorry")
    assert "RuntimeError" not in snap.error and "mat1" not in snap.error
    reference = snap.error.rsplit("reference ", 1)[1].rstrip(".")
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and "mat1 and mat2" in str(logged[0].exc_info[1])
    assert [m.step for m in snap.history] == [2, 4]  # the curves so far are kept


def test_running_out_of_memory_in_the_thread_suggests_a_smaller_run():
    snap = _failed_run(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate")).snapshot()
    assert snap.status == FAILED and snap.error == OUT_OF_MEMORY


def test_a_user_facing_error_in_the_thread_keeps_its_message():
    config = TrainConfig(epochs=1, batch_size=1)
    job = TrainingJob(build_model(TINY_BATCHNORM), toy_data(8), config, TINY_BATCHNORM, "bn")
    assert job.start().join(timeout=60)
    snap = job.snapshot()
    assert snap.status == FAILED and snap.error.startswith("Batchnorm needs more than one value")


@pytest.mark.parametrize(("lr", "diverged"), [(10.0, True), (1e-3, False)])
def test_a_diverged_run_finishes_flagged_and_hands_over_no_model(lr, diverged):
    config = TrainConfig(epochs=2, batch_size=16, optimizer="SGD + momentum", lr=lr)
    job = TrainingJob(build_model(TINY), random_labels(), config, TINY, "lr").start()
    assert job.join(timeout=60)
    snap = job.snapshot()
    assert snap.status == FINISHED and snap.diverged is diverged
    assert (job.bundle() is None) is diverged
    assert ("Training diverged" in snap.note) is diverged


def test_an_ended_job_owns_its_result_and_hands_over_the_same_one_every_time():
    job = TrainingJob(
        build_model(TINY), toy_data(64), TrainConfig(epochs=2, batch_size=16), TINY, "tiny"
    )
    assert job.result() is None  # not started: nothing to hand over yet
    assert job.start().join(timeout=60)
    result = job.result()
    assert result is job.result() and result.bundle.token == job.bundle().token
    assert result.evaluation.confusion.sum() == len(job.data.val_y)
    assert result.metrics["validation_accuracy"] == result.evaluation.accuracy
    assert [e["epoch"] for e in result.metrics["epochs"]] == [1, 2]
    assert TrainConfig(**{**result.metrics["config"], "augmentation": None}) == job.config


def test_two_jobs_have_their_own_ids():
    a, b = (TrainingJob(build_model(TINY), toy_data(32), TrainConfig(), TINY, "t") for _ in "ab")
    assert a.id != b.id


def _jobs_script() -> None:
    """A page that submits named jobs through ui.jobs and records what its live panel sees."""
    import streamlit as st

    from models.network.build import build_model
    from models.training.engine import TrainConfig
    from models.training.jobs import TrainingJob
    from tests.test_train import TINY, toy_data
    from ui import jobs

    config = TrainConfig(epochs=1, batch_size=16)
    if st.button("Go", key="go"):
        for name in ("exp/a", "exp/b", "other"):
            job = TrainingJob(build_model(TINY), toy_data(32), config, TINY, name)
            jobs.submit(name, job)
    st.session_state["names"] = list(jobs.my_jobs("exp/"))
    ended = st.session_state.setdefault("ended", [])
    jobs.live_panel(
        "exp/", lambda runs: st.caption(f"{len(runs)} runs"), lambda n, j: ended.append(n)
    )


def test_ui_jobs_keeps_named_jobs_lists_them_by_prefix_and_ends_each_once():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_jobs_script, default_timeout=60)
    at.run()
    at.button(key="go").click().run()
    assert at.session_state["names"] == ["exp/a", "exp/b"]
    deadline = time.monotonic() + 60
    while len(at.session_state["ended"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    at.run()
    assert sorted(at.session_state["ended"]) == ["exp/a", "exp/b"]  # once each, not per rerun
    assert not at.exception and at.caption[0].value == "2 runs"
