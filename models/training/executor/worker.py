"""A training worker process: `python -m models.training.executor.worker FD THREADS MEMORY_MB`.

`LocalPool` starts it with one end of a socket pair as file descriptor FD. The worker imports
torch, warms its kernels, says "ready", then trains each request it is sent, one at a time,
through `runner.run_request`, sending back every report and the outcome. A reader thread takes
the pool's messages while a run trains, so Stop reaches the run within a batch.

Messages from the pool are bytes with a one-letter tag: b"R" + a pickled `TrainRequest` (run
it), b"S" + a job id (stop that run), b"E" (end). Messages to the pool are pickled tuples
(kind, job id, value): ("ready", None, pid), ("metrics", id, TrainMetrics), ("done", id,
Outcome). The worker is started as a fresh interpreter (not by multiprocessing), so nothing of
the web server's own scripts is imported into it.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import sys
import threading
from multiprocessing.connection import Connection

from models.training.executor.protocol import RUN, STOP


def send(conn: Connection, message: tuple, lock: threading.Lock) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    with lock:
        conn.send_bytes(data)


def _warm_up() -> None:
    """One small forward and backward pass: loads the kernels and starts torch's threads."""
    import torch

    conv = torch.nn.Conv2d(3, 8, 3)
    conv(torch.zeros(2, 3, 16, 16)).sum().backward()


class _Current:
    """The run in progress and its Stop flag, shared by the reader and the training thread."""

    def __init__(self) -> None:
        self.job_id: str | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def start(self, job_id: str) -> threading.Event:
        with self.lock:
            self.job_id, self.stop = job_id, threading.Event()
            return self.stop

    def stop_if(self, job_id: str) -> None:
        with self.lock:
            if job_id == self.job_id:
                self.stop.set()


def _read(conn: Connection, jobs: queue.Queue, current: _Current) -> None:
    """The reader thread: runs go to the queue, Stops to the run they name."""
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            jobs.put(None)
            return
        tag, body = data[:1], data[1:]
        if tag == RUN:
            jobs.put(body)
        elif tag == STOP:
            current.stop_if(body.decode())
        else:
            jobs.put(None)
            return


def main(fd: int, threads: int, memory_mb: float | None) -> None:
    import torch

    from models.training.executor.runner import Outcome, TrainRequest, run_request
    from models.training.jobs import FAILED, failure_message

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(max(1, threads))
    _warm_up()
    conn, lock = Connection(fd), threading.Lock()
    jobs: queue.Queue = queue.Queue()
    current = _Current()
    threading.Thread(target=_read, args=(conn, jobs, current), daemon=True).start()
    try:
        send(conn, ("ready", None, os.getpid()), lock)
    except OSError:  # the pool went away while this worker started: nothing to do
        return
    while (body := jobs.get()) is not None:
        request: TrainRequest = pickle.loads(body)
        del body
        job_id = request.id
        stop = current.start(job_id)

        def emit(metrics, job_id: str = job_id, stop: threading.Event = stop) -> None:
            try:
                send(conn, ("metrics", job_id, metrics), lock)
            except OSError:  # the pool is gone: end the run quietly, then this worker
                stop.set()

        outcome = run_request(request, stop, emit, memory_mb)
        del request
        try:
            send(conn, ("done", job_id, outcome), lock)
        except (OSError, EOFError):
            return
        except Exception as err:  # noqa: BLE001 - an outcome that will not pickle
            send(conn, ("done", job_id, Outcome(FAILED, failure_message(job_id, err))), lock)


if __name__ == "__main__":
    fd_arg, threads_arg, memory_arg = sys.argv[1:4]
    main(int(fd_arg), int(threads_arg), float(memory_arg) or None)
