"""Where training runs: one interface, `submit(request) -> JobHandle`, over three backends.

    executor = executor_from_settings()          # once per server (ui.jobs keeps it)
    handle = executor.submit(training_request(spec, None, data, config, 0.2, "my run"))
    handle.snapshot(); handle.stop(); handle.result()

- "local" (the default): a pool of warm worker processes on this server (`local.LocalPool`).
- "ray": Ray actors on a cluster (`cluster.RayExecutor`), chosen by CNNLAB_EXECUTOR=ray or by
  setting CNNLAB_RAY_ADDRESS; Ray is an optional install (requirements-cluster.txt).
- "thread": threads of the web process (`local.ThreadExecutor`), for tests and debugging.

Each backend calls the same `runner.run_request`, so the engine's loop exists once.

Server settings (environment variables):
    CNNLAB_EXECUTOR         local | ray | thread
    CNNLAB_TRAIN_WORKERS    runs that train at once on this server (default: cores − 1, ≥ 1)
    CNNLAB_JOB_THREADS      torch threads per run (default: (cores − 1) ÷ workers, ≥ 1)
    CNNLAB_JOB_MEMORY_MB    the most memory one run may take (default 2048)
    CNNLAB_RAY_ADDRESS      a Ray cluster's address, e.g. ray://head:10001 (implies "ray")
    CNNLAB_RAY_GPUS         GPUs a GPU run asks Ray for (default 0: CPUs only)
"""

from __future__ import annotations

import os

from models.errors import CNNLabError
from models.settings import positive_setting
from models.training.executor.handle import JobHandle
from models.training.executor.local import Executor, LocalPool, ThreadExecutor, cpu_count
from models.training.executor.runner import (
    JobInfo,
    Outcome,
    TrainRequest,
    check_training_memory,
    estimated_training_mb,
    run_request,
    training_request,
)

KINDS = ("local", "ray", "thread")
DEFAULT_MEMORY_MB = 2048


class ExecutorSettingError(CNNLabError):
    """A server setting for the executor that cannot be used, named with its value."""


def default_workers() -> int:
    return max(1, cpu_count() - 1)


def job_memory_mb() -> float:
    """The most memory one run may take on this server ($CNNLAB_JOB_MEMORY_MB, default 2048)."""
    return positive_setting("CNNLAB_JOB_MEMORY_MB", DEFAULT_MEMORY_MB, ExecutorSettingError)


def executor_kind(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    kind = env.get("CNNLAB_EXECUTOR", "").strip().lower()
    if not kind:
        return "ray" if env.get("CNNLAB_RAY_ADDRESS", "").strip() else "local"
    if kind not in KINDS:
        raise ExecutorSettingError(
            f"the server setting CNNLAB_EXECUTOR must be one of {', '.join(KINDS)}, not {kind!r}"
        )
    return kind


def executor_from_settings() -> Executor:
    """The executor the server's settings ask for (see the module's docstring)."""
    kind = executor_kind()
    workers = int(positive_setting("CNNLAB_TRAIN_WORKERS", default_workers(), ExecutorSettingError))
    threads = positive_setting("CNNLAB_JOB_THREADS", 0, ExecutorSettingError) or None
    memory = job_memory_mb()
    if kind == "thread":
        return ThreadExecutor(workers)
    if kind == "ray":
        from models.training.executor.cluster import RayExecutor, ray_available

        if not ray_available():
            raise ExecutorSettingError(
                "the server is set to train on Ray, but the ray package is not installed: "
                "pip install -r requirements-cluster.txt"
            )
        address = os.environ.get("CNNLAB_RAY_ADDRESS", "").strip() or None
        gpus = float(os.environ.get("CNNLAB_RAY_GPUS", "0") or 0)
        return RayExecutor(address, int(threads or 1), memory, gpus)
    return LocalPool(workers, int(threads) if threads else None, memory)


__all__ = [
    "Executor",
    "ExecutorSettingError",
    "JobHandle",
    "JobInfo",
    "LocalPool",
    "Outcome",
    "ThreadExecutor",
    "TrainRequest",
    "check_training_memory",
    "estimated_training_mb",
    "executor_from_settings",
    "job_memory_mb",
    "run_request",
    "training_request",
]
