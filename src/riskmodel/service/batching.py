"""Dynamic micro-batching for ``POST /v1/score`` (issue 11.6): concurrent requests scored as one batch.

Explaining one record costs a good share of fixed work (the 5C recompute,
TreeSHAP and reason set-up, numba calls): on the simulated base one record takes
about 1-2 ms of CPU, a batch of 32 about 0.25 ms a record (2026-11-30; 4.4 and
0.85 ms before the one-record path was made lighter).  :class:`MicroBatcher` therefore collects the records of the
requests that arrive while the previous batch is being scored (and, after the
first one, waits at most ``window_s`` for more, up to ``max_records``), scores
them with ONE call of the scoring function (the service passes
:meth:`riskmodel.scoring.Scorer.explain_records`, the same public entry point
as before) and hands each request its own slice.  A batch is scored on the event
loop itself (a scoring thread would fight the loop for the GIL); while it is
scored, new requests wait in the sockets, so batches grow with the load.  Only a
single request larger than ``max_records`` is scored on a helper thread.

Guarantees (tested in ``tests/test_service_batching.py``):

* each record's answer equals scoring it alone (every step of ``explain_records``
  is row-wise);
* a batch that fails is retried request by request, so one failing request does
  not fail the others;
* at most ``max_pending`` requests wait: past that :class:`QueueFullError`
  (the app answers 503 with ``Retry-After``) rather than unbounded latency;
* :meth:`MicroBatcher.stop` refuses new requests and scores every waiting one
  before it returns (graceful shutdown drains the queue).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from riskmodel.exceptions import RiskModelError

log = logging.getLogger(__name__)

#: scoring function: (records, customer ids) -> one result per record, in order
ScoreFn = Callable[[list[dict[str, Any]], list[str | None]], Sequence[Any]]


class QueueFullError(RiskModelError):
    """Too many requests are waiting to be scored (the service answers 503 with Retry-After)."""


class ShuttingDownError(RiskModelError):
    """The service is stopping and accepts no new scoring requests (503)."""


@dataclass
class _Job:
    rows: list[dict[str, Any]]
    ids: list[str | None]
    future: asyncio.Future[list[Any]]


@dataclass
class BatchStats:
    """Counters for logs and tests: batches scored, records and requests in them, fallbacks, refusals."""

    batches: int = 0
    requests: int = 0
    records: int = 0
    largest: int = 0
    fallbacks: int = 0
    refused: int = 0
    sizes: list[int] = field(default_factory=list)  # records per batch of the last 1000 batches

    def add(self, n_requests: int, n_records: int) -> None:
        self.batches += 1
        self.requests += n_requests
        self.records += n_records
        self.largest = max(self.largest, n_records)
        self.sizes.append(n_records)
        del self.sizes[:-1000]


class MicroBatcher:
    """Score the records of concurrent requests together (see the module docstring).

    Parameters
    ----------
    score : ScoreFn
        Scores a list of records with their ids; never called concurrently.
    window_s : float
        After the first waiting request, how long to wait for more before scoring (0: score what
        is waiting now; requests still pile up while a batch is being scored).
    max_records : int
        Records in one batch at most (a larger single request is scored alone).
    max_pending : int
        Requests waiting at most; more are refused with :class:`QueueFullError`.
    """

    def __init__(self, score: ScoreFn, window_s: float = 0.002, max_records: int = 64,
                 max_pending: int = 256) -> None:
        if window_s < 0 or max_records < 1 or max_pending < 1:
            raise ValueError("window_s >= 0, max_records >= 1 and max_pending >= 1 are required")
        self.score = score
        self.window_s = window_s
        self.max_records = max_records
        self.max_pending = max_pending
        self.stats = BatchStats()
        self._queue: deque[_Job] = deque()
        self._queued_records = 0
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False

    # ------------------------------------------------------------ life cycle
    async def start(self) -> None:
        """Start the scoring task (call from the running event loop, e.g. the app's lifespan)."""
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskmodel-score")
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="riskmodel-micro-batcher")

    async def stop(self) -> None:
        """Refuse new requests, score every waiting one, then stop the task and its thread."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        s = self.stats
        if s.batches:
            log.info("micro-batching: %d requests (%d records) in %d batches, %.1f records a batch on average, "
                     "largest %d; %d batch(es) retried request by request, %d request(s) refused (queue full)",
                     s.requests, s.records, s.batches, s.records / s.batches, s.largest, s.fallbacks, s.refused)

    @property
    def pending(self) -> int:
        """Requests waiting to be scored (not counting the batch being scored)."""
        return len(self._queue)

    # ------------------------------------------------------------ requests
    async def submit(self, rows: list[dict[str, Any]], ids: list[str | None]) -> list[Any]:
        """Score ``rows`` (one request's records) in the next batch; their results, in order.

        Raises QueueFullError when ``max_pending`` requests are already waiting and
        ShuttingDownError once :meth:`stop` has begun; re-raises the scoring error of
        this request's own records.
        """
        if self._closing or self._task is None or self._wakeup is None:
            raise ShuttingDownError("the service is shutting down; retry on another instance")
        if len(self._queue) >= self.max_pending:
            self.stats.refused += 1
            raise QueueFullError(f"{len(self._queue)} requests are waiting to be scored (service.queue_limit); "
                                 "retry in a second")
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Job(rows, ids, future))
        self._queued_records += len(rows)
        self._wakeup.set()
        return await future

    # ------------------------------------------------------------ the scoring task
    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self.window_s > 0 and not self._closing:
                deadline = time.monotonic() + self.window_s
                while self._queued_records < self.max_records and not self._closing:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wakeup.clear()
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), left)
                    except TimeoutError:
                        break
            jobs = self._take()
            if not jobs:
                continue
            if sum(len(job.rows) for job in jobs) <= self.max_records:
                # on the event loop itself: a scoring thread would fight the loop for the GIL (measured: the loop
                # then parses too few requests per batch, 1.8 records a batch at 200 req/s); while a batch is
                # scored the loop's sockets fill up, so the next batch is larger when the load is higher
                outcomes = self._score_jobs(jobs)
            else:  # one request larger than a batch: on the thread, the loop stays responsive (/health)
                try:
                    outcomes = await loop.run_in_executor(self._executor, self._score_jobs, jobs)
                except Exception as err:  # noqa: BLE001 - the executor itself failed: every request hears it
                    outcomes = [err] * len(jobs)
            for job, outcome in zip(jobs, outcomes, strict=True):
                if job.future.done():  # the client went away (cancelled)
                    continue
                if isinstance(outcome, BaseException):
                    job.future.set_exception(outcome)
                else:
                    job.future.set_result(outcome)
            await asyncio.sleep(0)  # let the answers go out and the requests that came meanwhile in

    def _take(self) -> list[_Job]:
        """The next batch: waiting requests in arrival order, up to ``max_records`` (at least one request)."""
        jobs: list[_Job] = []
        n = 0
        while self._queue:
            job = self._queue[0]
            if jobs and n + len(job.rows) > self.max_records:
                break
            self._queue.popleft()
            self._queued_records -= len(job.rows)
            if job.future.done():  # cancelled while waiting: not scored
                continue
            jobs.append(job)
            n += len(job.rows)
        return jobs

    def _score_jobs(self, jobs: list[_Job]) -> list[list[Any] | BaseException]:
        """Score the jobs' records in one call; on failure, each job alone (runs on the scoring thread)."""
        rows = [r for job in jobs for r in job.rows]
        ids = [i for job in jobs for i in job.ids]
        self.stats.add(len(jobs), len(rows))
        try:
            results = list(self.score(rows, ids))
            if len(results) != len(rows):
                raise RuntimeError(f"the scorer returned {len(results)} results for {len(rows)} records")
        except Exception as err:  # noqa: BLE001 - isolate the failing request below
            if len(jobs) == 1:
                return [err]
            self.stats.fallbacks += 1
            log.warning("a batch of %d requests failed (%s: %s); scoring them one by one",
                        len(jobs), type(err).__name__, str(err)[:200])
            out: list[list[Any] | BaseException] = []
            for job in jobs:
                try:
                    out.append(list(self.score(job.rows, job.ids)))
                except Exception as one:  # noqa: BLE001 - this request's own error
                    out.append(one)
            return out
        split: list[list[Any] | BaseException] = []
        k = 0
        for job in jobs:
            split.append(results[k:k + len(job.rows)])
            k += len(job.rows)
        return split
