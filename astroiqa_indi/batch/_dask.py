"""Grading on a Dask distributed cluster (the ``dask`` extra; imported only for ``--dask``).

Each worker loads the model once, through a worker plugin registered for this run:
the plugin is also set up on workers that join later, and is removed at the end so a
shared, long-running cluster does not keep the model in memory. Tasks carry only a
file path, which must name the same file on the workers as here (a shared file system).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

import distributed

from astroiqa_indi.batch._worker import Outcome, WorkerSetup, grade_file, load_grader

if TYPE_CHECKING:
    from types import TracebackType

    from astroiqa_indi.grading import Grader

__all__ = ["DaskBackend", "GraderPlugin"]

# Graders loaded by the plugin in this worker process, by run token.
_GRADERS: dict[str, tuple[Grader, WorkerSetup]] = {}
_POLL_S = 0.01


class GraderPlugin(distributed.WorkerPlugin):
    """Loads the model on each worker when registered, drops it when unregistered."""

    def __init__(self, setup: WorkerSetup, token: str) -> None:
        self.worker_setup = setup
        self.token = token

    def setup(self, worker: distributed.Worker) -> None:
        # One task thread per worker is the intended layout; a worker with more
        # threads shares one model between them (Grader is thread-safe).
        single = worker.state.nthreads <= 1
        grader = load_grader(self.worker_setup, single_thread=single)
        _GRADERS[self.token] = (grader, self.worker_setup)

    def teardown(self, worker: distributed.Worker) -> None:
        _GRADERS.pop(self.token, None)


def _grade_on_worker(path: str, token: str) -> Outcome:
    try:
        grader, setup = _GRADERS[token]
    except KeyError:
        raise RuntimeError("the astroiqa-indi grader plugin is not set up on this worker") from None
    return grade_file(path, grader, setup)


class DaskBackend:
    """Grades on a Dask cluster: ``"local"`` starts a ``LocalCluster`` of ``jobs`` workers.

    The local cluster has one single-threaded worker process per job, listens on
    127.0.0.1 only and serves no dashboard.
    """

    def __init__(self, setup: WorkerSetup, *, address: str, jobs: int) -> None:
        if jobs < 1:
            raise ValueError("jobs must be >= 1")
        self._setup = setup
        self._address = address.strip()
        self._jobs = jobs
        self._token = uuid.uuid4().hex
        self._plugin_name = f"astroiqa-grader-{self._token}"
        self._cluster: Any = None
        self._client: Any = None
        self._completed: Any = None
        self._futures: set[Any] = set()
        self._threads = 0
        self._log_level: int | None = None

    def __enter__(self) -> DaskBackend:
        if self._client is not None:
            raise RuntimeError("DaskBackend is already started")
        try:
            if self._address == "local":
                # The scheduler runs in this process and logs every worker and client at
                # INFO; follow the caller's logging level instead (WARNING by default).
                dask_log = logging.getLogger("distributed")
                self._log_level = dask_log.level
                dask_log.setLevel(max(logging.getLogger().getEffectiveLevel(), dask_log.level))
                self._cluster = distributed.LocalCluster(
                    n_workers=self._jobs,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
                self._client = distributed.Client(self._cluster)
            else:
                self._client = distributed.Client(self._address)
            self._client.register_plugin(GraderPlugin(self._setup, self._token), self._plugin_name)
            self._threads = sum(self._client.nthreads().values())
            if self._threads < 1:
                raise RuntimeError(f"the Dask cluster at {self._address} has no workers")
            self._completed = distributed.as_completed()
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def _close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = self._completed = None
        if client is not None:
            if self._futures:
                client.cancel(list(self._futures))
                self._futures.clear()
            if cluster is None and client.status == "running":
                # A shared cluster outlives us: free the workers' copies of the model.
                client.unregister_worker_plugin(self._plugin_name)
            client.close()
        if cluster is not None:
            cluster.close()
        if self._log_level is not None:
            logging.getLogger("distributed").setLevel(self._log_level)
            self._log_level = None

    @property
    def slots(self) -> int:
        # Keep every worker thread busy while results travel back to the client.
        return 2 * self._threads + 2

    @property
    def in_flight(self) -> int:
        return len(self._futures)

    @property
    def description(self) -> str:
        where = "a local Dask cluster" if self._cluster is not None else self._address
        return f"{self._threads} Dask worker threads on {where}"

    def submit(self, path: str) -> None:
        if self._client is None:
            raise RuntimeError("DaskBackend is not started")
        future = self._client.submit(
            _grade_on_worker,
            path,
            self._token,
            key=f"astroiqa-grade-{uuid.uuid4().hex}",
            pure=False,
            retries=0,
        )
        self._futures.add(future)
        self._completed.add(future)

    def wait(self, timeout: float) -> bool:
        # as_completed has no timed wait; a short poll keeps Ctrl-C out of its lock.
        deadline = time.monotonic() + timeout
        while not self._completed.has_ready():
            if not self._futures or time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)
        return True

    def next_outcome(self) -> Outcome:
        if not self._futures:
            raise RuntimeError("nothing submitted")
        future = next(self._completed)
        self._futures.discard(future)
        outcome: Outcome = future.result()
        return outcome

    def cancel_pending(self) -> int:
        # Dask does not say which tasks already run on a worker; cancel them all
        # (a worker finishes the file it is reading and drops the result).
        pending = [f for f in self._futures if not f.done()]
        if pending and self._client is not None:
            self._client.cancel(pending)
        self._futures.clear()
        self._completed = distributed.as_completed()
        return len(pending)
