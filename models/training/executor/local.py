"""Runs on this machine: a pool of warm worker processes (the default), or threads (tests).

`LocalPool` starts its worker processes (`worker.py`, fresh interpreters) once, when it is
made; each imports torch and warms its kernels before it takes a job, so a run starts in well
under a second. A worker trains one run at a time with its own thread count and a memory cap
(`runner.memory_limit`): a run that needs more fails alone, with a plain message, and the worker
takes the next job. A worker that dies is replaced. Jobs beyond the pool's size wait in one
queue, first come first served, and know their place and an estimated wait.

`ThreadExecutor` runs the same `run_request` in threads of this process: the in-process backend
the tests use to check the engine's contract without paying for process start-up.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from models.training.engine import TrainMetrics
from models.training.executor.handle import JobHandle
from models.training.executor.protocol import END, RUN, STOP
from models.training.executor.runner import Outcome, TrainRequest, run_request
from models.training.jobs import STOPPED

_LOG = logging.getLogger("cnnlab.training")
KILL_AFTER_S = 3.0  # a run that ignores Stop this long has its worker replaced
READY_TIMEOUT_S = 300.0  # a worker's start-up: importing torch on a slow disk
WORKER_DIED = (
    "The training worker stopped unexpectedly (most likely it ran out of memory), so this run "
    "ended; the server and everyone else's runs are unaffected. Try a smaller batch size, "
    "smaller images or a smaller network."
)


class Executor:
    """Where runs train. `submit` returns at once with a `JobHandle`."""

    kind = "executor"
    slots = 1  # runs that train at once

    def submit(self, request: TrainRequest, owner: str = "") -> JobHandle:  # pragma: no cover
        """Queue `request` for training; `owner` names the session, for a fair share."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop taking jobs and let the workers go."""

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class _QueueExecutor(Executor):
    """A first-come, first-served queue in front of `slots` places that each train one run."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, int(slots))
        self._cond = threading.Condition()
        self._pending: deque[tuple[JobHandle, Any]] = deque()
        self._active: set[JobHandle] = set()
        self._owners: dict[JobHandle, str] = {}  # who submitted each queued or running job
        self._last_start: dict[str, int] = {}  # owner -> when its last run started (a count)
        self._starts = 0
        self._closed = False
        self._steps_per_s = math.nan  # the last speed seen, for estimated waits

    def submit(self, request: TrainRequest, owner: str = "") -> JobHandle:
        """Queue `request`; `owner` (a session) is how the queue shares the slots out fairly."""
        handle = JobHandle(request.info(), self._stop, self._queue_place)
        payload = self._payload(request)
        with self._cond:
            if self._closed:
                raise RuntimeError("this executor is closed")
            self._pending.append((handle, payload))
            self._owners[handle] = owner
            self._cond.notify()
        return handle

    def _payload(self, request: TrainRequest) -> Any:
        return request

    def _stop(self, handle: JobHandle) -> None:
        with self._cond:
            queued = next((i for i, (h, _) in enumerate(self._pending) if h is handle), None)
            if queued is not None:
                del self._pending[queued]
                self._owners.pop(handle, None)
        if queued is not None:
            handle._stopped_in_queue()
        # a running job sees `handle.stop_requested` within a batch (threads) or a poll (workers)

    def _take(self) -> tuple[JobHandle, Any] | None:
        """The next job for a free slot; blocks until there is one, None once closed."""
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            index = self._fair_next()
            job = self._pending[index]
            del self._pending[index]
            self._active.add(job[0])
            return job

    def _fair_next(self) -> int:
        """The queue position to start next, taking owners (sessions) in turn.

        One student who queues ten runs does not hold back another's one run: when a slot
        frees, the owner with the fewest runs training goes first, then the one whose last
        run started longest ago, then first come.
        """
        running = Counter(self._owners.get(h, "") for h in self._active)

        def turn(i: int) -> tuple[int, int, int]:
            owner = self._owners.get(self._pending[i][0], "")
            return running[owner], self._last_start.get(owner, -1), i

        index = min(range(len(self._pending)), key=turn)
        self._starts += 1
        self._last_start[self._owners.get(self._pending[index][0], "")] = self._starts
        return index

    def _release(self, handle: JobHandle) -> None:
        with self._cond:
            self._active.discard(handle)
            self._owners.pop(handle, None)

    def _observe(self, metrics: TrainMetrics) -> None:
        if metrics.kind == "step" and metrics.elapsed_s > 0:
            self._steps_per_s = metrics.step / metrics.elapsed_s

    def _queue_place(self, handle: JobHandle) -> tuple[int, float]:
        """(place in the queue, estimated seconds until it starts); (0, nan) once taken."""
        with self._cond:
            pending = [h for h, _ in self._pending]
            active = list(self._active)
        if handle not in pending:
            return 0, math.nan
        place = pending.index(handle) + 1
        rate = self._steps_per_s
        free_at = [self._remaining(h, rate) for h in active]
        free_at += [0.0] * (self.slots - len(active))
        heapq.heapify(free_at)
        for ahead in pending[: place - 1]:
            heapq.heappush(free_at, heapq.heappop(free_at) + ahead.info.total_steps / rate)
        return place, heapq.heappop(free_at)

    @staticmethod
    def _remaining(handle: JobHandle, rate: float) -> float:
        latest = handle.snapshot().latest
        if latest is not None and latest.step > 0 and latest.elapsed_s > 0:
            rate = latest.step / latest.elapsed_s
            return (latest.total_steps - latest.step) / rate
        return handle.info.total_steps / rate  # nan while no speed has been seen

    def close(self) -> None:
        with self._cond:
            self._closed = True
            pending, self._pending = list(self._pending), deque()
            self._cond.notify_all()
        for handle, _ in pending:
            handle._stopped_in_queue()


class ThreadExecutor(_QueueExecutor):
    """`slots` threads of this process, each training one run at a time (no memory cap)."""

    kind = "thread"

    def __init__(self, slots: int = 2) -> None:
        super().__init__(slots)
        for i in range(self.slots):
            threading.Thread(target=self._serve, name=f"cnnlab-train-{i}", daemon=True).start()

    def _serve(self) -> None:
        while (job := self._take()) is not None:
            handle, request = job
            handle._running()

            def emit(metrics: TrainMetrics, handle: JobHandle = handle) -> None:
                handle._add(metrics)
                self._observe(metrics)

            handle._finish(run_request(request, handle.stop_requested, emit))
            self._release(handle)

    def describe(self) -> str:
        return f"{self.slots} training thread{'s' * (self.slots > 1)} in the web server's process"


# ---------------------------------------------------------------- worker processes

REPO_ROOT = Path(__file__).resolve().parents[3]  # the folder that holds the `models` package


class _Worker:
    """One worker process (`worker.py`) and the thread here that feeds it and follows its runs.

    The process is a fresh interpreter started with `subprocess`, not multiprocessing: a
    multiprocessing spawn would import the web server's current page script into the worker.
    """

    def __init__(self, pool: LocalPool, index: int) -> None:
        self.pool, self.index = pool, index
        self.process: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.pid: int | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=f"cnnlab-worker-{index}")
        self.thread.daemon = True

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _start_process(self) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        memory = self.pool.memory_mb or 0
        command = [sys.executable, "-m", "models.training.executor.worker"]
        command += [str(theirs.fileno()), str(self.pool.threads), str(memory)]
        try:
            self.process = subprocess.Popen(
                command,
                pass_fds=(theirs.fileno(),),
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        if not self.conn.poll(READY_TIMEOUT_S):
            raise RuntimeError("the training worker did not start")
        kind, _, pid = pickle.loads(self.conn.recv_bytes())
        if kind != "ready":
            raise RuntimeError(f"the training worker said {kind!r} before 'ready'")
        self.pid = pid
        self.ready.set()

    def _kill(self) -> None:
        self.ready.clear()
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
        if self.conn is not None:
            self.conn.close()
        self.process = self.conn = None

    def _serve(self) -> None:
        while not self.pool._closed:
            if not self.alive():
                try:
                    self._start_process()
                except Exception:  # noqa: BLE001 - try again; the queue waits meanwhile
                    _LOG.exception("training worker %d could not start", self.index)
                    self._kill()
                    time.sleep(5)
                    continue
            job = self.pool._take()
            if job is None:
                break
            handle, payload = job
            try:
                self._run(handle, payload)
            finally:
                self.pool._release(handle)
        self._end()

    def _run(self, handle: JobHandle, payload: bytes) -> None:
        if handle.stop_requested.is_set():
            handle._stopped_in_queue()
            return
        try:
            if not self.alive():
                raise OSError("the worker had ended")
            self.conn.send_bytes(RUN + payload)
        except OSError:
            self._died(handle)
            return
        del payload
        stop_at = None
        while True:
            try:
                if handle.stop_requested.is_set():
                    if stop_at is None:
                        stop_at = time.monotonic()
                        self.conn.send_bytes(STOP + handle.id.encode())
                    elif time.monotonic() - stop_at > KILL_AFTER_S:
                        _LOG.warning("run %r ignored Stop; replacing its worker", handle.name)
                        self._kill()
                        handle._finish(Outcome(STOPPED))
                        return
                if not self.conn.poll(0.1):
                    continue
                kind, job_id, value = pickle.loads(self.conn.recv_bytes())
            except (EOFError, OSError):
                self._died(handle)
                return
            if job_id != handle.id:
                continue
            if kind == "metrics":
                handle._add(value)
                self.pool._observe(value)
            elif kind == "done":
                handle._finish(value)
                return

    def _died(self, handle: JobHandle) -> None:
        code = self.process.poll() if self.process is not None else None
        _LOG.error(
            "training worker %d died (exit code %s) during %r", self.index, code, handle.name
        )
        self._kill()
        handle._fail(WORKER_DIED)

    def _end(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.send_bytes(END)
        if self.process is not None:
            try:
                self.process.wait(2)
            except subprocess.TimeoutExpired:
                self.process.kill()


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def default_threads(workers: int) -> int:
    """Torch threads per worker: the cores but one, shared out, at least 1.

    One core is left to the web server and the browsers. Measured on 2 cores (README): a run
    with 2 threads fell from about 550 to 180 images/s while one other process kept a core
    busy, and one with 1 thread held about 400 either way.
    """
    return max(1, (cpu_count() - 1) // max(1, workers))


class LocalPool(_QueueExecutor):
    """`workers` spawned processes kept warm, each training one run at a time.

    threads: torch threads per worker (default: `default_threads`).
    memory_mb: the most new memory one run may take (None: no cap).
    """

    kind = "local"

    def __init__(
        self, workers: int, threads: int | None = None, memory_mb: float | None = None
    ) -> None:
        super().__init__(workers)
        self.threads = int(threads or default_threads(self.slots))
        self.memory_mb = memory_mb
        self.workers = [_Worker(self, i) for i in range(self.slots)]
        for worker in self.workers:
            worker.thread.start()

    def _payload(self, request: TrainRequest) -> bytes:
        return pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        """Wait until every worker has started; True when they all have."""
        deadline = time.monotonic() + timeout
        return all(w.ready.wait(max(0.0, deadline - time.monotonic())) for w in self.workers)

    def pids(self) -> list[int | None]:
        return [w.pid if w.ready.is_set() else None for w in self.workers]

    def busy(self) -> int:
        """How many runs are training now."""
        with self._cond:
            return len(self._active)

    def close(self) -> None:
        super().close()
        with self._cond:
            active = list(self._active)
        for handle in active:
            handle.stop()
        for worker in self.workers:
            worker.thread.join(KILL_AFTER_S + 3)

    def describe(self) -> str:
        cap = f", up to {self.memory_mb:,.0f} MB each" if self.memory_mb else ""
        return (
            f"{self.slots} worker process{'es' * (self.slots > 1)} on this server "
            f"({self.threads} thread{'s' * (self.threads > 1)} each{cap})"
        )
