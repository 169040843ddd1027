"""The executor's contract, on every backend: submit, snapshot, stop, result, failures, memory.

"thread" runs jobs in threads of the test process, "local" in a pool of warm spawned worker
processes, "ray" as actors on a local Ray started here (`ray.init(num_cpus=2)`); the Ray cases
are skipped, with the reason, only when the optional `ray` package is not installed.
"""

from __future__ import annotations

import logging
import math
import time

import pytest
import torch

from models.data.datasets import PreparedData
from models.network.build import build_model
from models.network.spec import NetworkSpec
from models.training.engine import TrainConfig
from models.training.executor import (
    LocalPool,
    ThreadExecutor,
    TrainRequest,
    check_training_memory,
    estimated_training_mb,
)
from models.training.executor.cluster import ray_available
from models.training.executor.local import WORKER_DIED
from models.training.jobs import FAILED, FINISHED, OUT_OF_MEMORY, QUEUED, RUNNING, STOPPED
from tests.test_train import TINY, TINY_BATCHNORM, NaNAfter, random_labels, toy_data

MEMORY_MB = 600  # each run's cap in these pools
STOP_S = 1.0  # Stop takes effect within this


@pytest.fixture(scope="module")
def local_pool():
    pool = LocalPool(2, threads=1, memory_mb=MEMORY_MB)
    assert pool.wait_ready(300), "the worker processes did not start"
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def ray_executor():
    if not ray_available():
        pytest.skip("ray is not installed (pip install -r requirements-cluster.txt)")
    from models.training.executor.cluster import RayExecutor

    executor = RayExecutor(None, threads=1, memory_mb=MEMORY_MB, num_cpus=2)
    yield executor
    executor.close()


@pytest.fixture(scope="module")
def thread_executor():
    executor = ThreadExecutor(2)
    yield executor
    executor.close()


@pytest.fixture(params=["thread", "local", "ray"])
def executor(request):
    name = "local_pool" if request.param == "local" else f"{request.param}_executor"
    return request.getfixturevalue(name)


@pytest.fixture(params=["local", "ray"])
def worker_executor(request):
    """The backends that run jobs in processes of their own, each with a memory cap."""
    return request.getfixturevalue("local_pool" if request.param == "local" else "ray_executor")


def tiny(name: str = "tiny", n: int = 64, **config) -> TrainRequest:
    settings = {"epochs": 2, "batch_size": 16, "seed": 0} | config
    model = build_model(TINY, seed=settings["seed"])
    return TrainRequest(name, model, toy_data(n), TrainConfig(**settings), TINY)


def long_run(name: str = "long") -> TrainRequest:
    return tiny(name, n=256, epochs=500, batch_size=8, log_every=1)


def wait_for(handle, predicate, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = handle.snapshot()
        if predicate(snap):
            return snap
        time.sleep(0.02)
    raise AssertionError(f"timed out; the run is {handle.snapshot().status}")


# ---------------------------------------------------------------- the contract, every backend


def test_submit_snapshot_and_result_hand_over_a_trained_evaluated_model(executor):
    handle = executor.submit(tiny())
    assert handle.snapshot().status in (QUEUED, RUNNING, FINISHED)
    assert handle.join(timeout=180)
    snap = handle.snapshot()
    assert snap.status == FINISHED and snap.error is None
    assert [m.kind for m in snap.history].count("epoch") == 2 and snap.history[-1].kind == "done"
    result = handle.result()
    assert result is handle.result()  # made once: the same bundle, with the same token
    bundle = result.bundle
    assert bundle.trained and bundle.class_names == ("left", "right") and bundle.spec == TINY
    assert result.evaluation.confusion.sum() == 32  # toy_data's validation half
    assert result.metrics["validation_accuracy"] == result.evaluation.accuracy
    assert [e["epoch"] for e in result.metrics["epochs"]] == [1, 2]
    assert TrainConfig(**{**result.metrics["config"], "augmentation": None}) == handle.config


def test_stop_while_running_takes_effect_within_a_second_and_keeps_the_curves(executor):
    handle = executor.submit(long_run())
    wait_for(handle, lambda s: s.status == RUNNING and len(s.history) >= 3)
    handle.stop()
    start = time.monotonic()
    assert handle.join(timeout=10)
    assert time.monotonic() - start < STOP_S, "Stop must take effect within a second"
    snap = handle.snapshot()
    assert snap.status == STOPPED and len(snap.history) >= 3


def test_stop_while_queued_ends_the_run_before_it_trains(executor):
    busy = [executor.submit(long_run(f"busy {i}")) for i in range(executor.slots)]
    for handle in busy:
        wait_for(handle, lambda s: s.status == RUNNING)
    queued = executor.submit(tiny("queued"))
    time.sleep(0.5)
    assert queued.status == QUEUED
    queued.stop()
    assert queued.join(timeout=STOP_S)
    snap = queued.snapshot()
    assert snap.status == STOPPED and snap.history == () and "before it started" in snap.note
    for handle in busy:
        handle.stop()
        assert handle.join(timeout=10)
    assert queued.result() is None


def test_a_job_that_raises_fails_alone_with_an_apology_and_the_next_job_runs(executor):
    request = tiny("bug")
    request.data = toy_data(64)
    bad_labels = request.data.train_y.clone()
    bad_labels[3] = 7  # a class the two-output network does not have: cross-entropy raises
    request.data = PreparedData(
        request.data.train_x, bad_labels, *list(vars(request.data).values())[2:]
    )
    handle = executor.submit(request)
    assert handle.join(timeout=180)
    snap = handle.snapshot()
    assert snap.status == FAILED and snap.error.startswith("Sorry") and "reference" in snap.error
    assert "IndexError" not in snap.error and "Traceback" not in snap.error
    after = executor.submit(tiny("after"))
    assert after.join(timeout=180) and after.status == FINISHED


def test_the_same_seed_gives_the_same_curve_while_another_job_runs(executor):
    first = executor.submit(tiny("a", seed=1, log_every=1))
    other = executor.submit(tiny("b", seed=2, log_every=1))
    assert first.join(timeout=180) and other.join(timeout=180)
    again = executor.submit(tiny("a again", seed=1, log_every=1))
    assert again.join(timeout=180)

    def losses(handle):
        return [m.train_loss for m in handle.snapshot().history if m.kind == "step"]

    assert losses(first) == losses(again) != losses(other)


# ---------------------------------------------------------------- memory: worker backends


def wide_network_run(batch: int = 256) -> TrainRequest:
    """A network whose batch of activations needs far more than MEMORY_MB to train."""
    spec = NetworkSpec.from_dict(
        {
            "input": [3, 64, 64],
            "layers": [
                {"type": "conv", "out_channels": 96, "kernel_size": 3, "padding": 1},
                {"type": "relu"},
                {"type": "conv", "out_channels": 96, "kernel_size": 3, "padding": 1},
                {"type": "relu"},
                {"type": "flatten"},
                {"type": "linear", "out_features": 2},
            ],
        }
    )
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (batch, 3, 64, 64), dtype=torch.uint8, generator=gen)
    y = torch.arange(batch) % 2
    data = PreparedData(x, y, x[:8], y[:8], ("a", "b"), (0.5,) * 3, (0.25,) * 3, "noise")
    config = TrainConfig(epochs=1, batch_size=batch)
    return TrainRequest("wide", build_model(spec, seed=0), data, config, spec)


def test_a_run_over_its_memory_budget_fails_alone_and_the_pool_recovers(worker_executor):
    request = wide_network_run()
    assert estimated_training_mb(request.spec, 256, request.data) > MEMORY_MB
    neighbour = worker_executor.submit(tiny("neighbour", n=128, epochs=6))
    greedy = worker_executor.submit(request)
    assert greedy.join(timeout=180)
    snap = greedy.snapshot()
    assert snap.status == FAILED and "memory" in snap.error
    assert snap.error.startswith("Training needed more memory") or snap.error == WORKER_DIED
    assert neighbour.join(timeout=180) and neighbour.status == FINISHED  # untouched
    after = worker_executor.submit(tiny("after"))
    assert after.join(timeout=180) and after.status == FINISHED


def test_the_memory_estimate_refuses_the_run_before_it_is_sent():
    request = wide_network_run()
    with pytest.raises(Exception, match="needs about .* MB of memory"):
        check_training_memory(request.spec, 256, request.data, MEMORY_MB)
    check_training_memory(TINY, 16, toy_data(64), MEMORY_MB)  # a small run passes


def test_the_local_pool_starts_its_workers_once_and_keeps_them(local_pool):
    assert local_pool.wait_ready(300)  # a worker lost to an earlier test has been replaced
    pids = local_pool.pids()
    assert len(pids) == 2 and all(pids)
    handle = local_pool.submit(tiny())
    assert handle.join(timeout=60)
    assert local_pool.pids() == pids  # warm: the same processes took the job


def test_a_queued_run_knows_its_place_and_an_estimated_wait(local_pool):
    busy = [local_pool.submit(long_run(f"busy {i}")) for i in range(local_pool.slots)]
    for handle in busy:
        wait_for(handle, lambda s: s.status == RUNNING and len(s.history) >= 5)
    first, second = local_pool.submit(tiny("first")), local_pool.submit(tiny("second"))
    snap_first, snap_second = first.snapshot(), second.snapshot()
    assert (snap_first.place, snap_second.place) == (1, 2)
    assert math.isfinite(snap_first.wait_s) and snap_second.wait_s >= snap_first.wait_s > 0
    for handle in (*busy, first, second):
        handle.stop()
    assert all(h.join(timeout=10) for h in (*busy, first, second))


# ---------------------------------------------------------------- the engine's failures (threads)


def test_nan_loss_fails_the_job_with_its_message_and_keeps_the_curves(thread_executor):
    request = tiny("nan", n=96, epochs=3, log_every=2)
    request.model = NaNAfter(build_model(TINY), after=5)
    handle = thread_executor.submit(request)
    assert handle.join(timeout=60)
    snap = handle.snapshot()
    assert snap.status == FAILED and "step 5" in snap.error and "learning rate" in snap.error
    assert [m.step for m in snap.history] == [2, 4]
    assert handle.result() is None


class FailsAfter(torch.nn.Module):
    """A real network whose `after`-th training forward pass raises `error`."""

    def __init__(self, net: torch.nn.Module, after: int, error: Exception) -> None:
        super().__init__()
        self.net, self.after, self.error, self.calls = net, after, error, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += self.training
        if self.training and self.calls >= self.after:
            raise self.error
        return self.net(x)


def _failed_run(executor, error: Exception):
    request = tiny("bug", n=96, epochs=3, log_every=2)
    request.model = FailsAfter(build_model(TINY), after=5, error=error)
    handle = executor.submit(request)
    assert handle.join(timeout=60)
    return handle


def test_a_bug_reaches_the_page_as_an_apology_and_the_log_as_a_traceback(thread_executor, caplog):
    with caplog.at_level(logging.ERROR, logger="cnnlab.training"):
        error = RuntimeError("mat1 and mat2 shapes cannot be multiplied")
        snap = _failed_run(thread_executor, error).snapshot()
    assert snap.status == FAILED and snap.error.startswith("Sorry")
    assert "RuntimeError" not in snap.error and "mat1" not in snap.error
    reference = snap.error.rsplit("reference ", 1)[1].rstrip(".")
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and "mat1 and mat2" in str(logged[0].exc_info[1])
    assert [m.step for m in snap.history] == [2, 4]  # the curves so far are kept


def test_running_out_of_memory_suggests_a_smaller_run(thread_executor):
    error = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate")
    snap = _failed_run(thread_executor, error).snapshot()
    assert snap.status == FAILED and snap.error == OUT_OF_MEMORY


def test_a_user_facing_error_keeps_its_message(thread_executor):
    request = TrainRequest(
        "bn", build_model(TINY_BATCHNORM), toy_data(8), TrainConfig(epochs=1, batch_size=1)
    )
    handle = thread_executor.submit(request)
    assert handle.join(timeout=60)
    snap = handle.snapshot()
    assert snap.status == FAILED and snap.error.startswith("Batchnorm needs more than one value")


@pytest.mark.parametrize(("lr", "diverged"), [(10.0, True), (1e-3, False)])
def test_a_diverged_run_finishes_flagged_and_hands_over_no_model(thread_executor, lr, diverged):
    config = TrainConfig(
        epochs=2, batch_size=16, optimizer="SGD + momentum", lr=lr, schedule="constant"
    )
    request = TrainRequest("lr", build_model(TINY), random_labels(), config, TINY)
    handle = thread_executor.submit(request)
    assert handle.join(timeout=60)
    snap = handle.snapshot()
    assert snap.status == FINISHED and snap.diverged is diverged
    assert (handle.result() is None) is diverged
    assert ("Training diverged" in snap.note) is diverged


def test_two_runs_have_their_own_ids():
    assert tiny().id != tiny().id


# ---------------------------------------------------------------- ui.jobs: a session's runs


def _jobs_script() -> None:
    """A page that submits named runs through ui.jobs and records what its live panel sees."""
    import streamlit as st

    from tests.test_executor import tiny
    from ui import jobs

    if st.button("Go", key="go"):
        for name in ("exp/a", "exp/b", "other"):
            jobs.submit(name, tiny(name, n=32, epochs=1))
    st.session_state["names"] = list(jobs.my_jobs("exp/"))
    ended = st.session_state.setdefault("ended", [])
    jobs.live_panel(
        "exp/", lambda runs: st.caption(f"{len(runs)} runs"), lambda n, j: ended.append(n)
    )


def test_ui_jobs_keeps_named_runs_lists_them_by_prefix_and_ends_each_once():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_jobs_script, default_timeout=120)
    at.run()
    at.button(key="go").click().run()
    assert at.session_state["names"] == ["exp/a", "exp/b"]
    deadline = time.monotonic() + 120
    while len(at.session_state["ended"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    at.run()
    assert sorted(at.session_state["ended"]) == ["exp/a", "exp/b"]  # once each, not per rerun
    assert not at.exception and at.caption[0].value == "2 runs"


def test_a_closed_tab_leaves_its_runs_going_until_its_workspace_is_abandoned(local_pool):
    from ui.jobs import ABANDONED_S, _boxes, _JobBox, _Presence, _prune, release_box

    boxes = _boxes()
    box = boxes["test-workspace"] = _JobBox()
    box.sessions = 1
    box.jobs["train/run"] = local_pool.submit(long_run("closing tab"))
    wait_for(box.jobs["train/run"], lambda s: s.status == RUNNING)
    release_box(_Presence("test-workspace"))  # Streamlit's on_release when the tab closes
    _prune(boxes)  # a reload's new tab would find the run still going
    assert box.jobs["train/run"].status == RUNNING and "test-workspace" in boxes
    _prune(boxes, now=time.monotonic() + ABANDONED_S + 1)  # nobody came back
    assert "test-workspace" not in boxes
    assert box.jobs["train/run"].join(timeout=STOP_S)
    assert box.jobs["train/run"].status == STOPPED
    deadline = time.monotonic() + 5
    while local_pool.busy() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert local_pool.busy() == 0


def test_the_queue_shares_slots_fairly_between_sessions():
    executor = ThreadExecutor(1)
    first = executor.submit(long_run("a1"), owner="a")
    wait_for(first, lambda s: s.status == RUNNING)
    a2, a3 = (executor.submit(tiny(name), owner="a") for name in ("a2", "a3"))
    b1 = executor.submit(tiny("b1"), owner="b")  # later, but b has nothing running
    first.stop()
    assert b1.join(timeout=60) and b1.status == FINISHED
    assert a3.status == QUEUED  # b's one run went before a's third
    for handle in (a2, a3):
        assert handle.join(timeout=60)
    executor.close()
