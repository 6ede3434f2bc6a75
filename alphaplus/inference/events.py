"""The shape of one recorded prediction, and the usage aggregates a batch of them adds up to.

An event is a plain tuple in ``EVENT_FIELDS`` order (the column order of ``inference_events``):
building a tuple costs a fraction of a microsecond, a dataclass or a dict several times that, and
COPY takes tuples as they are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

EVENT_FIELDS: tuple[str, ...] = (
    "ts",  # when the prediction was made (timezone-aware datetime)
    "bar_ts",  # the candle the prediction is about
    "model_name",
    "version",
    "regime",
    "symbol",
    "shadow",  # scored alongside production, never returned to the caller
    "success",
    "error",  # None, or "ErrorClass: message" of a failed prediction
    "latency_ms",
    "prediction",  # class index, None on failure
    "probability",  # probability of class 1, None on failure
    "features",  # input vector in the version's version_metadata["feature_names"] order, or None
)
(TS, BAR_TS, MODEL_NAME, VERSION, REGIME, SYMBOL, SHADOW, SUCCESS, ERROR, LATENCY_MS, PREDICTION, PROBABILITY,
 FEATURES) = range(len(EVENT_FIELDS))

# Stored error texts are truncated: a message is for a person reading the table, not a dump.
MAX_ERROR_CHARS = 500
# Same rule as alphaplus.ml.metrics: class 1 when its probability is above one half.
DECISION_THRESHOLD = 0.5

UsageRow = tuple[str, int, int, int, float, datetime]


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
