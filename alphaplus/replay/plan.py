"""What a replay walks through (symbols, period, schedules) and the simulated clock's rules (pure).

Time rules: a candle stamped ``ts`` (its open) is known from its close, ``ts + bar``; a step at
simulated time ``T`` sees exactly the candles closing at or before ``T``. The engine answers for a bar
at its close. At one instant, bars close first, then the assessment runs, then retraining.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Literal

import pandas as pd

from alphaplus.core.errors import InvalidInput
from alphaplus.market.frame import timeframe_to_timedelta

_PERIOD = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

StepKind = Literal["assess", "retrain"]


def parse_period(text: str, *, what: str = "period") -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"`` or ``"2w"`` as a timedelta; InvalidInput otherwise."""
    match = _PERIOD.match(str(text))
    if match is None or int(match.group(1)) == 0:
        raise InvalidInput(f"{what} {str(text)[:40]!r} is not a period such as 7d, 12h, 30m or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def period_text(period: timedelta) -> str:
    """A period as ``parse_period`` reads it: ``7d``, ``12h``, ``30m``."""
    minutes = int(period.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def parse_instant(text: str | datetime, *, what: str) -> datetime:
    """A date or ISO instant as an aware UTC datetime (naive means UTC)."""
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise InvalidInput(f"{what} {str(text)[:40]!r} is not a date such as 2024-03-01 or 2024-03-01T12:00") from None
    if pd.isna(ts):
        raise InvalidInput(f"{what} is empty")
    ts = ts.tz_localize(timezone.utc) if ts.tzinfo is None else ts.tz_convert(timezone.utc)
    return ts.to_pydatetime()


@dataclass(frozen=True)
class ReplayPlan:
    """A replay's scope: the slots' symbols and regimes, the served period [start, end) and schedules."""

    symbols: tuple[str, ...]
    start: datetime
    end: datetime
    retrain_every: timedelta = timedelta(days=7)
    assess_every: timedelta = timedelta(days=1)
    regimes: tuple[str, ...] = ("trending", "ranging", "volatile")
    model_name: str = "alphaplus_pattern_classifier"
    timeframe: str = "1h"
    horizon: int = 12
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    validate: bool = True  # run the candle quality gate before each retraining, as the retrain flow does

    def __post_init__(self) -> None:
        if not self.symbols:
            raise InvalidInput("a replay needs at least one --symbol")
        if len(set(self.symbols)) != len(self.symbols):
            raise InvalidInput("each --symbol may be given once")
        if self.end <= self.start:
            raise InvalidInput(f"--to ({self.end:%Y-%m-%d %H:%M}) must be after --from ({self.start:%Y-%m-%d %H:%M})")
        if self.retrain_every <= timedelta(0) or self.assess_every <= timedelta(0):
            raise InvalidInput("--retrain-every and --assess-every must be positive")
        if self.horizon < 1:
            raise InvalidInput("the label horizon must be at least 1 bar")

    @property
    def bar(self) -> timedelta:
        return timeframe_to_timedelta(self.timeframe)

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbols": list(self.symbols), "start": self.start.isoformat(), "end": self.end.isoformat(),
            "retrain_every": period_text(self.retrain_every), "assess_every": period_text(self.assess_every),
            "regimes": list(self.regimes), "model_name": self.model_name, "timeframe": self.timeframe,
            "horizon": self.horizon, "hyperparameters": dict(self.hyperparameters), "validate": self.validate,
        }


def schedule(plan: ReplayPlan) -> list[tuple[datetime, StepKind]]:
    """The scheduled steps in simulated-time order: retraining at ``start`` and every ``retrain_every``
    after it, assessment every ``assess_every`` after ``start``; assessment before retraining at one instant."""
    steps: list[tuple[datetime, StepKind]] = []
    for every, kind, first in ((plan.retrain_every, "retrain", plan.start),
                               (plan.assess_every, "assess", plan.start + plan.assess_every)):
        t = first
        while t < plan.end:
            steps.append((t, kind))
            t += every
    order = {"assess": 0, "retrain": 1}
    return sorted(steps, key=lambda s: (s[0], order[s[1]]))


def known_candles(candles: pd.DataFrame, now: datetime, bar: timedelta) -> pd.DataFrame:
    """The candles closed at or before ``now``: everything a step at ``now`` may see."""
    if candles.empty:
        return candles
    return candles.loc[candles["ts"] + bar <= pd.Timestamp(now)].reset_index(drop=True)


def served_bars(candles: pd.DataFrame, plan: ReplayPlan) -> pd.DataFrame:
    """The bars answered during the replay: those closing in (start, end]."""
    close = candles["ts"] + plan.bar
    keep = (close > pd.Timestamp(plan.start)) & (close <= pd.Timestamp(plan.end))
    return candles.loc[keep].reset_index(drop=True)


def timeline(plan: ReplayPlan, candles: dict[str, pd.DataFrame]) -> Iterator[tuple[datetime, str, Any]]:
    """Every event of the replay in order: ("bars", {symbol: row}) at each bar close, then the scheduled
    steps of that instant (("assess"|"retrain", None))."""
    closes: dict[pd.Timestamp, dict[str, Any]] = {}
    for symbol, frame in candles.items():
        served = served_bars(frame, plan)
        for row in served.itertuples(index=False):
            closes.setdefault(row.ts + plan.bar, {})[symbol] = row
    steps = schedule(plan)
    events: list[tuple[datetime, int, str, Any]] = [(t.to_pydatetime(), 0, "bars", bars) for t, bars in closes.items()]
    events += [(t, 1 if kind == "assess" else 2, kind, None) for t, kind in steps]
    for t, _, kind, payload in sorted(events, key=lambda e: (e[0], e[1])):
        yield t, kind, payload


class TimeMap:
    """Which real instant the replay passed each simulated instant at.

    The database stamps its own times (production pointer moves, rollback events) and the engine
    stamps each prediction with the real time it was made; windows of predictions are therefore cut
    in real time, at the real instant the replay passed the simulated cut."""

    def __init__(self) -> None:
        self._sim: list[datetime] = []
        self._real: list[datetime] = []

    def mark(self, sim: datetime, real: datetime) -> None:
        """The replay is about to process simulated instant ``sim``; the real time is ``real``."""
        if self._sim and sim < self._sim[-1]:
            raise ValueError("simulated time runs forward")
        self._sim.append(sim)
        self._real.append(real)

    def real_after(self, sim: datetime, default: datetime) -> datetime:
        """The real time by which everything of simulated instants up to ``sim`` was done: the mark of
        the first instant after ``sim`` (``default`` when there is none yet)."""
        import bisect

        i = bisect.bisect_right(self._sim, sim)
        return self._real[i] if i < len(self._real) else default
