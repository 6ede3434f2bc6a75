"""Outcome resolution as three steps (load what is pending, summarize what has matured, store the
rows: the first and last are OutcomeService methods over the database, the middle one pure) and one
method running them, for the CLI, replay and code without Prefect;
the Prefect flow runs the same steps as tasks.

A resolution picks up every recorded prediction no resolution has accounted for yet, accounts for
those whose horizon has elapsed on their symbol's trading calendar at ``now`` (and whose candles are
in), and writes one history row per version and source, together with the accounted events, in one
transaction: running it again changes nothing until more predictions mature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

import pandas as pd

from alphaplus.core.errors import InvalidInput
from alphaplus.monitoring.maturity import counted_bars, triage
from alphaplus.monitoring.outcomes import (
    DEFAULT_PSI_WINDOW_BARS,
    SOURCES,
    PerformanceRecord,
    VersionContext,
    summarize_window,
)
from alphaplus.core.settings import Settings, get_settings


@dataclass(frozen=True)
class PendingOutcomes:
    """Everything a resolution needs, read from the database at the resolution's clock ``now``."""

    now: datetime
    events: pd.DataFrame
    contexts: Mapping[tuple[str, int], VersionContext]
    calendars: Mapping[str, str]
    candles: Mapping[tuple[str, str], pd.DataFrame]
    previous_counts: Mapping[tuple[str, int, str], Mapping[str, list[int]]] = field(default_factory=dict)
    psi_window_bars: int = DEFAULT_PSI_WINDOW_BARS


@dataclass(frozen=True)
class Resolution:
    """What a resolution accounts for: the history records, the accounted events (rows for
    ``accounted_events``) and how many bars still wait (their horizon, or their candles)."""

    now: datetime
    records: list[PerformanceRecord]
    accounted: list[tuple]
    immature: int = 0
    awaiting_candles: int = 0
    next_maturity: datetime | None = None


def resolution_clock(now: datetime | None) -> datetime:
    """The resolution's clock: ``now`` (timezone-aware, as replay drives it) or the wall clock."""
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise InvalidInput("now must be timezone-aware")
    return now


def check_period(since: datetime | None, until: datetime | None) -> None:
    """Refuse a naive or empty period of prediction times."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} must be timezone-aware")
    if since is not None and until is not None and until <= since:
        raise InvalidInput(f"until ({until.isoformat()}) must be after since ({since.isoformat()})")


def summed_counts(drift_rows: list[Mapping[str, Any]]) -> dict[str, list[int]]:
    """Per feature, the PSI bin counts of stored windows added up (windows without counts add nothing)."""
    out: dict[str, list[int]] = {}
    for row in drift_rows:
        for name, entry in row.items():
            counts = entry.get("counts") if isinstance(entry, Mapping) else None
            if not counts:
                continue
            total = out.get(name)
            out[name] = list(counts) if total is None or len(total) != len(counts) else \
                [a + int(b) for a, b in zip(total, counts)]
    return out


def _candle_requests(
    events: pd.DataFrame, contexts: Mapping[tuple[str, int], VersionContext]
) -> list[tuple[str, str, datetime, datetime, int]]:
    """One request per (symbol, timeframe): first and last predicted bar, longest horizon."""
    spans: dict[tuple[str, str], list] = {}
    with_bars = events[events["bar_ts"].notna()]
    for (model_name, version), group in with_bars.groupby(["model_name", "version"]):
        ctx = contexts.get((model_name, int(version)))
        if ctx is None or ctx.timeframe is None or ctx.label_horizon is None:
            continue
        first, last = group["bar_ts"].min(), group["bar_ts"].max()
        span = spans.setdefault((ctx.symbol, ctx.timeframe), [first, last, ctx.label_horizon])
        span[0], span[1], span[2] = min(span[0], first), max(span[1], last), max(span[2], ctx.label_horizon)
    return [(symbol, timeframe, first, last, horizon) for (symbol, timeframe), (first, last, horizon)
            in spans.items()]


def summarize(pending: PendingOutcomes) -> Resolution:
    """The matured part of what is pending, as history records and accounted events (pure)."""
    events = pending.events
    decision = triage(events, pending.contexts, pending.calendars, pending.candles, now=pending.now)
    due = events.reset_index(drop=True)[decision.account]
    records = summarize_window(due, pending.contexts, pending.candles, window_start=None,
                               window_end=pending.now, psi_window_bars=pending.psi_window_bars,
                               previous_counts=pending.previous_counts)
    counted = counted_bars(due)
    accounted = [
        (int(e.event_id), e.ts, e.model_name, int(e.version), bool(e.shadow), None if pd.isna(e.bar_ts) else e.bar_ts,
         bool(c), pending.now)
        for e, c in zip(due.itertuples(index=False), counted)
    ]
    return Resolution(pending.now, records, accounted, decision.immature, decision.awaiting_candles,
                      decision.next_maturity)


class OutcomeService:
    """Outcome resolution over one database: load what is pending, store what matured, or both at once
    (``resolve``); ``summarize`` between them is pure."""

    def __init__(self, pool: Any, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    @classmethod
    async def open(cls, settings: Settings | None = None) -> "OutcomeService":
        """The service on this event loop's pool for the configured database."""
        from db.pool import get_pool

        settings = settings or get_settings()
        return cls(await get_pool(settings=settings), settings)

    async def load_pending(
        self, *, now: datetime, since: datetime | None = None, until: datetime | None = None,
        model_name: str | None = None,
    ) -> PendingOutcomes:
        """Read the events not yet accounted for, their versions' metadata, their symbols' calendars, the
        candles their outcomes need and the PSI bin counts of the versions' latest history rows."""
        from alphaplus.market.source_service import outcome_candles
        from db.instruments import calendars_of
        from db.performance import (
            fetch_pending_events,
            fetch_previous_drift,
            fetch_version_metadata,
        )

        check_period(since, until)
        settings, pool = self.settings, self.pool
        events = await fetch_pending_events(pool, now=now, since=since, until=until, model_name=model_name)
        keys = {(m, int(v)) for m, v in zip(events["model_name"], events["version"])}
        contexts = {(row[0], row[1]): VersionContext.from_metadata(*row)
                    for row in await fetch_version_metadata(pool, keys)}
        calendars = await calendars_of(pool, sorted({c.symbol for c in contexts.values()}))
        candles = await outcome_candles(_candle_requests(events, contexts), settings)
        default_bars = settings.drift_window_bars
        sources = sorted({(m, int(v), SOURCES[bool(s)]) for m, v, s in
                          zip(events["model_name"], events["version"], events["shadow"])})
        bars = max((contexts[(m, v)].psi_window_bars(default_bars) for m, v, _ in sources if (m, v) in contexts),
                   default=default_bars)
        stored = await fetch_previous_drift(pool, sources, before=now, bars=bars)
        previous = {key: summed_counts(rows) for key, rows in stored.items()}
        return PendingOutcomes(now, events, contexts, calendars, candles, previous, default_bars)

    async def store(self, resolution: Resolution) -> int:
        """Write the history rows and the accounted events in one transaction; returns how many history
        rows were written (0 when a concurrent resolution accounted for the same events first)."""
        from db.performance import insert_performance

        return await insert_performance(self.pool, resolution.records, resolution.accounted)

    async def resolve(
        self, *,
        model_name: str | None = None,
        now: datetime | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Resolution:
        """Account for every matured prediction not yet accounted for (of one model, or all; predicted in
        [since, until) when given) at the clock ``now`` (default: the wall clock), store the history rows,
        and return the resolution (records, and what still waits)."""
        clock = resolution_clock(now)
        pending = await self.load_pending(now=clock, since=since, until=until, model_name=model_name)
        resolution = summarize(pending)
        written = await self.store(resolution)
        if resolution.accounted and not written and resolution.records:
            # A concurrent resolution stored these outcomes: they are its rows, not this one's.
            return Resolution(clock, [], [], resolution.immature, resolution.awaiting_candles, resolution.next_maturity)
        return resolution

    async def resolve_outcomes(
        self, *,
        model_name: str | None = None,
        now: datetime | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PerformanceRecord]:
        """Resolve every matured, unresolved prediction (see ``resolve``) and return the history records
        written. Idempotent: a second run at the same clock finds nothing new."""
        resolution = await self.resolve(model_name=model_name, now=now, since=since, until=until)
        return resolution.records


def record_summary(record: PerformanceRecord) -> dict[str, Any]:
    """A short JSON-able line per record, for flow results and the CLI."""
    m = record.metrics
    return {
        "model_name": record.model_name, "version": record.version, "regime": record.regime,
        "symbol": record.symbol, "source": record.source, "window_end": record.window_end.isoformat(),
        "n_samples": m.n_samples, "accuracy": m.accuracy, "f1": m.f1, "total_inferences": m.total_inferences,
        "error_rate": m.error_rate, "max_psi": record.max_psi,
    }
