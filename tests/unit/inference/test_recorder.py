"""The inference recorder's buffering rules, with an in-memory sink standing in for the writer."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest

from alphaplus.core.errors import DatabaseUnavailable, InvalidInput
from alphaplus.core.records import EVENT_FIELDS
from alphaplus.inference.events import error_event, usage_aggregates
from alphaplus.inference.recorder import InferenceRecorder

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def event(i: int = 0, *, version: int = 1, shadow: bool = False, success: bool = True, latency: float = 1.0):
    return (T0 + timedelta(seconds=i), T0, "m", version, "trending", "BTCUSDT", shadow, success,
            None if success else "E: x", latency, 1 if success else None, 0.7 if success else None, [0.1, 0.2])


class Sink:
    """Stores batches; ``down`` makes it raise DatabaseUnavailable, ``refuse`` any other error."""

    def __init__(self) -> None:
        self.batches: list[list[tuple]] = []
        self.usage: list[list[tuple]] = []
        self.down = False
        self.refuse = False
        self.calls = 0

    async def __call__(self, events, usage) -> None:
        self.calls += 1
        await asyncio.sleep(0)
        if self.down:
            raise DatabaseUnavailable("connection refused")
        if self.refuse:
            raise InvalidInput("new row violates check constraint")
        self.batches.append(list(events))
        self.usage.append(list(usage))

    @property
    def rows(self) -> list[tuple]:
        return [e for b in self.batches for e in b]


async def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def test_an_event_tuple_has_one_value_per_inference_events_column():
    assert len(event()) == len(EVENT_FIELDS)
    failed = error_event(ts=T0, bar_ts=T0, model_name="m", version=2, regime="r", symbol="s", shadow=False,
                         latency_ms=-0.0, error=ValueError("x" * 2000))
    assert len(failed) == len(EVENT_FIELDS)
    assert failed[EVENT_FIELDS.index("error")].startswith("ValueError: x") and len(failed[8]) == 500


def test_usage_aggregates_count_served_events_per_version_and_skip_shadow_scoring():
    rows = [event(0, latency=1.0), event(5, latency=2.0, success=False), event(3, version=2, latency=4.0),
            event(9, version=2, shadow=True, latency=100.0)]
    usage = sorted(usage_aggregates(rows))
    assert usage == [("m", 1, 2, 1, 3.0, T0 + timedelta(seconds=5)), ("m", 2, 1, 0, 4.0, T0 + timedelta(seconds=3))]


async def test_a_full_batch_is_flushed_without_waiting_for_the_interval():
    sink = Sink()
    rec = InferenceRecorder(sink, flush_rows=10, flush_seconds=60.0, buffer_limit=1000)
    rec.start()
    for i in range(25):
        rec.record(event(i))
    # The interval is a minute: only the size trigger can have written these.
    await wait_until(lambda: len(sink.rows) >= 20)
    stats = await rec.close()
    assert sink.rows == [event(i) for i in range(25)]
    assert (stats.accepted, stats.flushed, stats.pending, stats.dropped) == (25, 25, 0, 0)


async def test_a_partial_batch_is_flushed_by_the_interval():
    sink = Sink()
    rec = InferenceRecorder(sink, flush_rows=1000, flush_seconds=0.02, buffer_limit=10_000)
    rec.start()
    rec.record(event(1))
    await wait_until(lambda: len(sink.rows) == 1)
    await rec.close()


async def test_close_writes_what_is_left():
    sink = Sink()
    rec = InferenceRecorder(sink, flush_rows=1000, flush_seconds=60.0, buffer_limit=10_000)
    rec.start()
    for i in range(7):
        rec.record(event(i))
    stats = await rec.close()
    assert len(sink.rows) == 7 and stats.flushed == 7 and stats.pending == 0
    assert rec.record(event(8)) is False, "a closed recorder accepts nothing"


async def test_events_are_kept_while_the_database_is_down_and_written_once_it_is_back():
    sink = Sink()
    sink.down = True
    rec = InferenceRecorder(sink, flush_rows=5, flush_seconds=0.01, buffer_limit=1000, max_retry_delay=0.02)
    rec.start()
    for i in range(40):
        rec.record(event(i))
        if i % 10 == 0:
            await asyncio.sleep(0.01)
    await wait_until(lambda: rec.stats().flush_errors >= 3)
    assert rec.stats().pending == 40 and sink.rows == []
    sink.down = False
    await wait_until(lambda: rec.stats().pending == 0)
    stats = await rec.close()
    assert sorted(sink.rows) == [event(i) for i in range(40)], "nothing lost, nothing duplicated"
    assert (stats.accepted, stats.flushed, stats.dropped) == (40, 40, 0)
    assert sum(len(b) for b in sink.batches) == 40 and len(sink.batches) < 8, "held batches are merged"


async def test_a_full_buffer_drops_new_events_counts_them_and_says_so(caplog):
    sink = Sink()
    sink.down = True
    rec = InferenceRecorder(sink, flush_rows=5, flush_seconds=0.01, buffer_limit=20, max_retry_delay=0.02)
    rec.start()
    accepted = [rec.record(event(i)) for i in range(30)]
    assert accepted == [True] * 20 + [False] * 10
    with caplog.at_level(logging.ERROR, logger="alphaplus.inference.recorder"):
        await wait_until(lambda: any("10 events dropped" in r.message for r in caplog.records))
    assert rec.stats().dropped == 10 and rec.stats().pending == 20
    sink.down = False
    stats = await rec.close()
    assert (stats.accepted, stats.flushed, stats.dropped, stats.pending) == (20, 20, 10, 0)
    assert sink.rows == [event(i) for i in range(20)]


async def test_events_still_unwritten_at_close_are_counted_as_dropped(caplog):
    sink = Sink()
    sink.down = True
    rec = InferenceRecorder(sink, flush_rows=100, flush_seconds=0.01, buffer_limit=1000)
    rec.start()
    for i in range(12):
        rec.record(event(i))
    with caplog.at_level(logging.ERROR, logger="alphaplus.inference.recorder"):
        stats = await rec.close(timeout=0.05)
    assert (stats.accepted, stats.flushed, stats.dropped, stats.pending) == (12, 0, 12, 0)
    assert any("12 events unwritten" in r.message for r in caplog.records)


async def test_a_batch_the_database_refuses_is_dropped_after_retries_and_does_not_block_the_next(caplog):
    sink = Sink()
    rec = InferenceRecorder(sink, flush_rows=1000, flush_seconds=60.0, buffer_limit=1000)
    sink.refuse = True
    for i in range(3):
        rec.record(event(i))
    with caplog.at_level(logging.ERROR, logger="alphaplus.inference.recorder"):
        assert await rec.flush() is True
    assert any("refused" in r.message for r in caplog.records)
    sink.refuse = False
    rec.record(event(9))
    assert await rec.flush() is True
    stats = rec.stats()
    assert sink.rows == [event(9)]
    assert (stats.accepted, stats.flushed, stats.dropped, stats.flush_errors) == (4, 1, 3, 3)


async def test_usage_sent_with_a_batch_is_the_aggregate_of_that_batch():
    sink = Sink()
    rec = InferenceRecorder(sink, flush_rows=1000, flush_seconds=60.0, buffer_limit=1000)
    for i in range(4):
        rec.record(event(i, latency=2.5))
    await rec.flush()
    assert sink.usage == [[("m", 1, 4, 0, 10.0, T0 + timedelta(seconds=3))]]


def test_settings_bound_the_recorder():
    with pytest.raises(ValueError):
        InferenceRecorder(Sink(), flush_rows=0, flush_seconds=1.0, buffer_limit=10)


class SlowSink(Sink):
    """A sink whose writes take a while, so a background write is in flight during a flush."""

    async def __call__(self, events, usage) -> None:
        await asyncio.sleep(0.05)
        await super().__call__(events, usage)


async def test_flush_returns_only_after_background_writes_in_flight_are_done():
    sink = SlowSink()
    rec = InferenceRecorder(sink, flush_rows=10, flush_seconds=0.01, buffer_limit=10_000)
    rec.start()
    written = 0
    for round_ in range(5):
        for i in range(25):
            rec.record(event(100 * round_ + i))
        await asyncio.sleep(0)  # the size trigger starts a background write
        for i in range(25, 30):
            rec.record(event(100 * round_ + i))
        written += 30
        # While flush waits for that write, the interval hands the last 5 to another background
        # write; flush must wait for it too before saying everything is written.
        assert await rec.flush()
        assert len(sink.rows) == written
        assert rec.stats().pending == 0
    await rec.close()
