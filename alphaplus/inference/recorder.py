"""Buffered recording of inference events: an append costs about a microsecond, a background task
writes batches (COPY + one usage statement per batch) and keeps them while the database is away.

Rules:
- ``record()`` never waits and never touches the database: it appends a tuple to a list.
- A batch is written when ``flush_rows`` events are waiting, every ``flush_seconds``, and on close.
- Held events (waiting, in flight, or failed and waiting for a retry) never exceed ``buffer_limit``;
  an event arriving when the buffer is full is dropped, counted in ``stats().dropped`` and logged.
- A batch the sink could not write because the database is unavailable is retried, with backoff,
  until it is written; a batch the database refuses for any other reason is retried a few times,
  then dropped, counted and logged (a poison batch must not block every event behind it).

The recorder belongs to the event loop it was started on; call ``record()`` from that loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from alphaplus.core.errors import DatabaseUnavailable
from alphaplus.inference.events import UsageRow, usage_aggregates
from alphaplus.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

# sink(events, usage) writes one batch atomically or raises.
Sink = Callable[[list[tuple], list[UsageRow]], Awaitable[None]]

# Retry backoff after a failed write starts at flush_seconds and doubles up to this cap.
MAX_RETRY_DELAY_SECONDS = 5.0
# Attempts at a batch the database refuses (not merely unreachable) before it is dropped.
REJECTED_BATCH_ATTEMPTS = 3
# Batches waiting for a retry are merged into writes of at most this many flush_rows.
COALESCE_BATCHES = 10
# While one batch is being stored by the server, the next is encoded and sent: two writes overlap.
CONCURRENT_WRITES = 2


@dataclass(frozen=True)
class RecorderStats:
    """Counts since start: accepted = flushed + pending + (dropped after acceptance, at close or refused)."""

    accepted: int
    flushed: int
    dropped: int
    pending: int
    flush_errors: int


class InferenceRecorder:
    """A bounded in-memory buffer of event tuples drained into a sink by a background task."""

    def __init__(
        self,
        sink: Sink,
        *,
        flush_rows: int,
        flush_seconds: float,
        buffer_limit: int,
        max_retry_delay: float = MAX_RETRY_DELAY_SECONDS,
    ) -> None:
        if flush_rows < 1 or buffer_limit < 1 or flush_seconds <= 0:
            raise ValueError("flush_rows and buffer_limit must be >= 1 and flush_seconds > 0")
        self._sink = sink
        self._flush_rows = flush_rows
        self._flush_seconds = flush_seconds
        self._limit = buffer_limit
        self._max_retry_delay = max(max_retry_delay, flush_seconds)
        self._buf: list[tuple] = []
        # Batches the database was unavailable for, waiting for a retry, oldest first.
        self._failed: list[list[tuple]] = []
        # Rows taken out of the buffer and not yet written: in flight or waiting for a retry.
        self._held_rows = 0
        self._writers: set[asyncio.Task] = set()
        self._unavailable = False
        self._flushed = 0
        self._dropped = 0  # refused at record() because the buffer was full
        self._lost = 0  # accepted, then given up (refused by the database, or unwritten at close)
        self._flush_errors = 0
        self._reported_drops = 0
        self._wake: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, sink: Sink, settings: Settings | None = None) -> "InferenceRecorder":
        """A recorder with the configured flush size, interval and buffer limit."""
        s = settings or get_settings()
        return cls(sink, flush_rows=s.inference_flush_rows, flush_seconds=s.inference_flush_seconds,
                   buffer_limit=s.inference_buffer_limit)

    # --- hot path ----------------------------------------------------------------------------

    def record(self, event: tuple) -> bool:
        """Buffer one event (a tuple in EVENT_FIELDS order); False when it was dropped for lack of room."""
        buf = self._buf
        if len(buf) + self._held_rows >= self._limit or self._closed:
            self._dropped += 1
            return False
        buf.append(event)
        if len(buf) >= self._flush_rows:
            wake = self._wake
            if wake is not None and not wake.is_set():
                wake.set()
        return True

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background flusher on the running event loop."""
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alphaplus-inference-recorder")

    async def flush(self) -> bool:
        """Write everything recorded so far; True when nothing is left pending.

        Returns only when the buffer is empty AND no background write is in flight: the background
        task may take the buffer while this waits, and its write must be waited for too.
        """
        while True:
            batch = self._take()
            if batch is not None:
                if not await self._write_batch(batch):
                    return False
                continue
            if self._writers:
                await asyncio.wait(set(self._writers))
                continue
            return not self._failed

    async def close(self, timeout: float = 10.0) -> RecorderStats:
        """Stop accepting, write what is held (retrying until ``timeout``), count the rest as lost."""
        if self._closed:
            return self.stats()
        self._closed = True
        if self._task is not None:
            assert self._stop is not None
            self._stop.set()
            await self._task
        deadline = asyncio.get_running_loop().time() + timeout
        delay = self._flush_seconds
        while not await self.flush():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, self._max_retry_delay)
        unwritten = len(self._buf) + self._held_rows
        if unwritten:
            log.error("inference recorder closed with %d events unwritten (database unavailable); they are lost",
                      unwritten)
            self._lost += unwritten
            self._buf, self._failed, self._held_rows = [], [], 0
        self._report_drops()
        return self.stats()

    def stats(self) -> RecorderStats:
        """Counters of the recorder (cheap; safe to call at any time)."""
        pending = len(self._buf) + self._held_rows
        return RecorderStats(
            accepted=self._flushed + pending + self._lost,
            flushed=self._flushed,
            dropped=self._dropped + self._lost,
            pending=pending,
            flush_errors=self._flush_errors,
        )

    # --- background --------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None and self._stop is not None
        delay = self._flush_seconds
        try:
            while not self._stop.is_set():
                if len(self._buf) < self._flush_rows:
                    await first_of(self._wake, self._stop, timeout=self._flush_seconds)
                self._wake.clear()
                if self._stop.is_set():
                    break
                while len(self._writers) >= CONCURRENT_WRITES:
                    await asyncio.wait(set(self._writers), return_when=asyncio.FIRST_COMPLETED)
                batch = self._take()
                self._report_drops()
                if batch is None:
                    continue
                if not self._unavailable:
                    task = asyncio.get_running_loop().create_task(self._write_batch(batch))
                    self._writers.add(task)
                    task.add_done_callback(self._writers.discard)
                    continue
                # The database was away at the last attempt: one write at a time, spaced by a
                # growing delay, whatever the buffer size says.
                if self._writers:
                    await asyncio.wait(set(self._writers))
                if await self._write_batch(batch):
                    delay = self._flush_seconds
                else:
                    await first_of(self._stop, timeout=delay)
                    delay = min(delay * 2, self._max_retry_delay)
        finally:
            if self._writers:
                await asyncio.gather(*self._writers, return_exceptions=True)

    def _take(self) -> list[tuple] | None:
        """The next batch to write: batches waiting for a retry first (merged, up to a cap), else the buffer."""
        cap = self._flush_rows * COALESCE_BATCHES
        if self._failed:
            # After an outage many small batches are waiting; fewer, larger writes catch up faster.
            batch = self._failed.pop(0)
            while self._failed and len(batch) + len(self._failed[0]) <= cap:
                batch.extend(self._failed.pop(0))
            if self._buf and len(batch) + len(self._buf) <= cap:
                new, self._buf = self._buf, []
                self._held_rows += len(new)
                batch.extend(new)
            return batch
        if self._buf:
            batch, self._buf = self._buf, []
            self._held_rows += len(batch)
            return batch
        return None

    async def _write_batch(self, batch: list[tuple]) -> bool:
        """Write one taken batch; False when the database was unavailable (the batch waits for a retry)."""
        written = await self._write(batch)
        if written is None:
            self._unavailable = True
            self._failed.insert(0, batch)
            return False
        self._unavailable = False
        self._held_rows -= len(batch)
        if written:
            self._flushed += len(batch)
        else:
            self._lost += len(batch)
        return True

    async def _write(self, batch: list[tuple]) -> bool | None:
        """True: written; None: database unavailable, keep the batch; False: refused, give it up."""
        error: Exception | None = None
        for _ in range(REJECTED_BATCH_ATTEMPTS):
            try:
                await self._sink(batch, usage_aggregates(batch))
                return True
            except DatabaseUnavailable as e:
                self._flush_errors += 1
                self._log_failure(e)
                return None
            except Exception as e:  # noqa: BLE001 - counted, retried, then logged with the count dropped
                self._flush_errors += 1
                error = e
        log.error("inference events refused by the database %d times; dropping %d events: %s",
                  REJECTED_BATCH_ATTEMPTS, len(batch), error)
        return False

    def _log_failure(self, error: BaseException) -> None:
        held = len(self._buf) + self._held_rows
        # One line per failed attempt is enough to see an outage; attempts back off to seconds apart.
        log.warning("inference events not written (%s); %d held for retry (limit %d)", error, held, self._limit)

    def _report_drops(self) -> None:
        dropped = self._dropped
        if dropped > self._reported_drops:
            log.error("inference buffer full (limit %d): %d events dropped (%d in total)",
                      self._limit, dropped - self._reported_drops, dropped)
            self._reported_drops = dropped


async def first_of(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of ``events`` is set or ``timeout`` passes."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
