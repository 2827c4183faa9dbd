"""Where frames are graded on this machine: in the caller, or in worker processes.

Both backends (and the Dask one) have the same small surface, used by the runner:
``submit(path)``, ``next_outcome()`` (blocks until one file is done),
``in_flight``, ``slots`` (how many files to keep queued) and ``cancel_pending()``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from astroiqa_indi.batch._worker import Outcome, WorkerSetup, grade_file, load_grader
from astroiqa_indi.errors import ModelError

if TYPE_CHECKING:
    from types import TracebackType

    from astroiqa_indi.grading import Grader

__all__ = ["Backend", "InlineBackend", "ProcessBackend", "stop_pool"]

log = logging.getLogger(__name__)

# Seconds a worker may take to start (import TensorFlow, load the model).
_START_TIMEOUT_S = 600.0
_WAIT_S = 0.25
# Workers still there this long after the pool was told to stop are killed.
_STOP_TIMEOUT_S = 60.0


class Backend(Protocol):
    """What the runner needs from a place that grades files (a context manager)."""

    def __enter__(self) -> Backend: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    @property
    def slots(self) -> int: ...

    @property
    def in_flight(self) -> int: ...

    @property
    def description(self) -> str: ...

    def submit(self, path: str) -> None: ...

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a result; True when ``next_outcome`` won't block."""
        ...

    def next_outcome(self) -> Outcome: ...

    def cancel_pending(self) -> int: ...


class InlineBackend:
    """Grades in the calling process, one file at a time (``jobs=1``)."""

    def __init__(self, setup: WorkerSetup) -> None:
        self._setup = setup
        self._grader: Grader | None = None
        self._queue: collections.deque[str] = collections.deque()

    def __enter__(self) -> InlineBackend:
        if self._grader is not None:
            raise RuntimeError("InlineBackend is already started")
        self._grader = load_grader(self._setup, single_thread=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._queue.clear()

    @property
    def slots(self) -> int:
        return 1

    @property
    def in_flight(self) -> int:
        return len(self._queue)

    @property
    def description(self) -> str:
        return "this process"

    def submit(self, path: str) -> None:
        self._queue.append(path)

    def next_outcome(self) -> Outcome:
        if self._grader is None:
            raise RuntimeError("InlineBackend is not started")
        return grade_file(self._queue.popleft(), self._grader, self._setup)

    def wait(self, timeout: float) -> bool:
        # The file is graded by next_outcome itself, in this process.
        return bool(self._queue)

    def cancel_pending(self) -> int:
        # Nothing runs in the background: everything queued is pending.
        cancelled = len(self._queue)
        self._queue.clear()
        return cancelled


# ------------------------------------------------------------ worker processes
@dataclass
class _ProcessState:
    setup: WorkerSetup
    grader: Grader | None = None
    error: BaseException | None = None


_STATE: _ProcessState | None = None


def _init_process(setup: WorkerSetup, ready: Any) -> None:
    """Pool initializer: load the model once per worker process."""
    global _STATE
    # Ctrl-C is the parent's business: it stops submitting and collects what runs.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _STATE = _ProcessState(setup=setup)
    try:
        _STATE.grader = load_grader(setup, single_thread=True)
    except (ModelError, ImportError, OSError) as exc:  # re-raised by this worker's tasks
        _STATE.error = exc
    finally:
        ready.release()


def _warm() -> int:
    _state()
    return os.getpid()


def _state() -> _ProcessState:
    if _STATE is None:
        raise RuntimeError("worker process was not initialised")
    if _STATE.error is not None:
        raise _STATE.error
    return _STATE


def _grade_in_process(path: str) -> Outcome:
    state = _state()
    assert state.grader is not None
    return grade_file(path, state.grader, state.setup)


def stop_pool(executor: ProcessPoolExecutor, *, within: float) -> bool:
    """Shut ``executor`` down, waiting up to ``within`` s; then kill its workers.

    A run must end when it is over or interrupted, even if a worker process does not
    (stuck in a native library, or at its exit). A Ctrl-C while waiting kills them at
    once. Returns whether the pool stopped in time.
    """
    # The pool's own record of its processes (not public API, stable since 3.8): the
    # workers it started, and no other child of this process.
    workers = list((executor._processes or {}).values())
    stopper = threading.Thread(
        target=executor.shutdown,
        kwargs={"wait": True, "cancel_futures": True},
        name="astroiqa-pool-stop",
        daemon=True,
    )
    stopper.start()
    try:
        stopper.join(within)
    except KeyboardInterrupt:
        _kill(workers, "interrupted")
        stopper.join(within)
        raise
    if not stopper.is_alive():
        return True
    _kill(workers, f"did not stop in {within:.0f} s")
    # With its workers gone the pool is broken, and its manager thread ends.
    stopper.join(within)
    return False


def _kill(workers: Sequence[multiprocessing.process.BaseProcess], why: str) -> None:
    for process in workers:
        if process.is_alive():
            log.warning("worker process %s %s: killed", process.pid, why)
            process.kill()


class ProcessBackend:
    """A pool of ``jobs`` worker processes, each loading the model once.

    Processes are spawned (not forked): the parent may run threads (the progress bar)
    and TensorFlow must start fresh in each worker. ``__enter__`` returns once every
    worker has loaded the model, so start-up is not counted as grading time.
    """

    def __init__(self, setup: WorkerSetup, *, jobs: int) -> None:
        if jobs < 1:
            raise ValueError("jobs must be >= 1")
        self._setup = setup
        self._jobs = jobs
        self._executor: ProcessPoolExecutor | None = None
        self._futures: set[Future[Outcome]] = set()
        self._done: collections.deque[Future[Outcome]] = collections.deque()

    def __enter__(self) -> ProcessBackend:
        if self._executor is not None:
            raise RuntimeError("ProcessBackend is already started")
        context = multiprocessing.get_context("spawn")
        ready = context.Semaphore(0)
        self._executor = ProcessPoolExecutor(
            max_workers=self._jobs,
            mp_context=context,
            initializer=_init_process,
            initargs=(self._setup, ready),
        )
        try:
            # With spawn, the pool starts a process per submission while none is idle:
            # one warm-up task per job starts them all.
            warm = [self._executor.submit(_warm) for _ in range(self._jobs)]
            for _ in range(self._jobs):
                if not ready.acquire(timeout=_START_TIMEOUT_S):
                    raise TimeoutError(f"worker processes not ready in {_START_TIMEOUT_S:.0f} s")
            for future in warm:
                future.result()
        except BaseException:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            stop_pool(self._executor, within=_STOP_TIMEOUT_S)
            self._executor = None

    @property
    def slots(self) -> int:
        # Two per worker: a worker never waits for the parent to hand it the next file.
        return 2 * self._jobs

    @property
    def in_flight(self) -> int:
        return len(self._futures) + len(self._done)

    @property
    def description(self) -> str:
        return f"{self._jobs} worker processes"

    def submit(self, path: str) -> None:
        if self._executor is None:
            raise RuntimeError("ProcessBackend is not started")
        self._futures.add(self._executor.submit(_grade_in_process, path))

    def wait(self, timeout: float) -> bool:
        if not self._done and self._futures:
            done, _ = concurrent.futures.wait(
                self._futures, timeout=timeout, return_when=FIRST_COMPLETED
            )
            self._futures -= done
            self._done.extend(done)
        return bool(self._done)

    def next_outcome(self) -> Outcome:
        while not self.wait(_WAIT_S):
            if not self._futures:
                raise RuntimeError("nothing submitted")
        return self._done.popleft().result()

    def cancel_pending(self) -> int:
        cancelled = {f for f in self._futures if f.cancel()}
        self._futures -= cancelled
        return len(cancelled)
