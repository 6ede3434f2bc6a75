"""Recorded predictions: the event tuple of a success or a failure (its shape, ``EVENT_FIELDS``, is in
alphaplus.core.records) and the usage aggregates a batch of them adds up to."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

from alphaplus.core.records import LATENCY_MS, MODEL_NAME, SHADOW, SUCCESS, TS, VERSION, UsageRow

# Stored error texts are truncated: a message is for a person reading the table, not a dump.
MAX_ERROR_CHARS = 500
# Same rule as alphaplus.ml.metrics: class 1 when its probability is above one half.
DECISION_THRESHOLD = 0.5


def error_event(
    *, ts: datetime, bar_ts: datetime | None, model_name: str, version: int, regime: str, symbol: str,
    shadow: bool, latency_ms: float, error: BaseException,
) -> tuple:
    """The event of a failed prediction of a known version."""
    text = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
    return (ts, bar_ts, model_name, version, regime, symbol, shadow, False, text, max(latency_ms, 0.0),
            None, None, None)


def prediction_event(
    ts: datetime, bar_ts: datetime | None, model_name: str, version: int, regime: str, symbol: str, shadow: bool,
    latency_ms: float, probability: float, features: Sequence[float] | None,
) -> tuple:
    """The event of a successful prediction."""
    return (ts, bar_ts, model_name, version, regime, symbol, shadow, True, None, latency_ms,
            1 if probability > DECISION_THRESHOLD else 0, probability, features)


def usage_aggregates(events: Iterable[Sequence]) -> list[UsageRow]:
    """Per version, over the served (non-shadow) events of a batch:
    (model_name, version, count, errors, latency_sum_ms, last_used) for ``Registry.record_usage``.

    Shadow scoring is not use: a version's usage counts the predictions it actually served.
    """
    totals: dict[tuple[str, int], list] = {}
    for ev in events:
        if ev[SHADOW]:
            continue
        key = (ev[MODEL_NAME], ev[VERSION])
        acc = totals.get(key)
        if acc is None:
            totals[key] = [1, 0 if ev[SUCCESS] else 1, ev[LATENCY_MS], ev[TS]]
            continue
        acc[0] += 1
        if not ev[SUCCESS]:
            acc[1] += 1
        acc[2] += ev[LATENCY_MS]
        if ev[TS] > acc[3]:
            acc[3] = ev[TS]
    return [(name, version, n, errors, float(latency), last) for (name, version), (n, errors, latency, last)
            in totals.items()]
