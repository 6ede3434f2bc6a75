"""Live performance from recorded predictions: realized labels once a prediction's horizon has
matured, per-version window metrics (quality, errors, latency) and input drift (PSI).

A resolution accounts for a set of recorded predictions (which ones: ``alphaplus.monitoring.maturity``,
those whose horizon has elapsed on their symbol's trading calendar) and writes one history row per
version and source ('live' for served predictions, 'shadow' for shadow scoring) that has some: its
window runs from the earliest prediction time accounted to the resolution's clock. In it:

- one event per (version, bar): a bar predicted several times counts once, with its first successful
  prediction (in prediction time); a bar counted by an earlier resolution (``seen_before``, set by
  the query) is not counted again. Repeated predictions neither multiply outcomes nor drift.
- quality counts only *matured* predictions: the candle of the predicted bar is known and so is the
  candle ``label_horizon`` bars after it (positions in the candle series, exactly as training labels
  are made by ``alphaplus.ml.labels.make_labels``). Immature predictions are left out, never counted
  wrong; a prediction about a bar absent from the candles is left out as unresolved.
- error rate and latency percentiles cover every inference call of the window, failed ones included.
- PSI compares the input vectors of the latest distinct bars, at least the version's ``window_bars``
  (this window's plus earlier windows' bin counts, ``previous``), with its training reference bins;
  the version's calibrated threshold is recorded beside it (``alphaplus.monitoring.drift``).

Pure: no database, no Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from alphaplus.monitoring.drift import PsiCalibration, PsiResult, ReferenceBins, bin_counts, max_psi, psi_from_counts
from alphaplus.core.errors import InvalidInput
from alphaplus.core.records import EVENT_COLUMNS, PerformanceRecord, WindowMetrics
from alphaplus.ml.labels import NOT_UP, UP

SOURCES = {False: "live", True: "shadow"}
# Distinct bars PSI is measured over when a version has no calibration of its own.
DEFAULT_PSI_WINDOW_BARS = 200


@dataclass(frozen=True)
class VersionContext:
    """What outcome resolution needs to know about a version, from its registry metadata."""

    model_name: str
    version: int
    regime: str
    symbol: str
    timeframe: str | None = None
    label_horizon: int | None = None
    feature_names: tuple[str, ...] = ()
    psi_reference: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    psi_calibration: PsiCalibration | None = None

    @classmethod
    def from_metadata(cls, model_name: str, version: int, regime: str, symbol: str,
                      metadata: Mapping[str, Any] | None) -> "VersionContext":
        """Read the contract keys: feature_names, label_horizon, timeframe, psi_reference, psi_calibration."""
        md = dict(metadata or {})
        horizon = md.get("label_horizon")
        return cls(
            model_name=model_name, version=version, regime=regime, symbol=symbol,
            timeframe=md.get("timeframe"),
            label_horizon=int(horizon) if horizon is not None else None,
            feature_names=tuple(md.get("feature_names") or ()),
            psi_reference=dict(md.get("psi_reference") or {}),
            psi_calibration=PsiCalibration.from_dict(md.get("psi_calibration")),
        )

    def psi_window_bars(self, default: int) -> int:
        """Distinct bars a PSI measurement needs: the calibrated window, else ``default``."""
        return self.psi_calibration.window_bars if self.psi_calibration is not None else default






def _utc_ns(values: Any) -> np.ndarray:
    return pd.to_datetime(pd.Series(values), utc=True).to_numpy(dtype="datetime64[ns]").astype(np.int64)


def realized_labels(bar_ts: Any, candles: pd.DataFrame, horizon: int) -> np.ndarray:
    """Realized label per prediction (float: 1.0 up, 0.0 not up, NaN when not known).

    The entry is the candle at ``bar_ts``; the exit is the candle ``horizon`` positions later in
    ``candles`` (sorted by ts). NaN when the entry candle is absent or the exit is not there yet.
    """
    if int(horizon) != horizon or horizon < 1:
        raise InvalidInput(f"label horizon must be a positive number of bars, got {horizon!r}")
    wanted = _utc_ns(bar_ts) if len(bar_ts) else np.empty(0, dtype=np.int64)
    out = np.full(len(wanted), np.nan)
    if len(candles) == 0 or len(wanted) == 0:
        return out
    ordered = candles.sort_values("ts", kind="stable")
    ts = _utc_ns(ordered["ts"])
    close = ordered["close"].to_numpy(dtype=np.float64)
    pos = np.searchsorted(ts, wanted)
    found = pos < len(ts)
    found[found] = ts[pos[found]] == wanted[found]
    exit_pos = pos + int(horizon)
    matured = found & (exit_pos < len(ts))
    entry, exit_ = close[pos[matured]], close[exit_pos[matured]]
    # Same rule as alphaplus.ml.labels: strictly higher is up, flat is not up.
    out[matured] = np.where(exit_ > entry, float(UP), float(NOT_UP))
    return out


def latency_percentiles(latencies_ms: Any) -> tuple[float | None, float | None, float | None]:
    """p50, p95, p99 of the latencies (None when there are none)."""
    values = np.asarray(latencies_ms, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None, None, None
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def window_metrics(
    y_true: Any, y_pred: Any, *, total_inferences: int, error_count: int, latencies_ms: Any = ()
) -> WindowMetrics:
    """Quality of matured outcomes (``y_true`` without NaN) plus error rate and latency.

    Precision, recall and F1 are of class 1 and 0.0 when undefined, as in alphaplus.ml.metrics;
    every quality figure is None when there is no matured outcome.
    """
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 1:
        raise InvalidInput(f"labels and predictions must be 1-d and equally long, got {t.shape} and {p.shape}")
    if np.isnan(t).any() or np.isnan(p).any():
        raise InvalidInput("window_metrics takes matured outcomes only (no NaN labels or predictions)")
    if not 0 <= error_count <= total_inferences:
        raise InvalidInput(f"need 0 <= error_count <= total_inferences, got {error_count} of {total_inferences}")
    pos_t, pos_p = t == UP, p == UP
    tp = int(np.count_nonzero(pos_t & pos_p))
    fp = int(np.count_nonzero(~pos_t & pos_p))
    fn = int(np.count_nonzero(pos_t & ~pos_p))
    tn = int(np.count_nonzero(~pos_t & ~pos_p))
    n = int(t.size)
    correct = tp + tn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    p50, p95, p99 = latency_percentiles(latencies_ms)
    return WindowMetrics(
        n_samples=n, n_correct=correct,
        accuracy=correct / n if n else None,
        f1=f1 if n else None, precision=precision if n else None, recall=recall if n else None,
        true_positives=tp, false_positives=fp, false_negatives=fn, true_negatives=tn,
        total_inferences=int(total_inferences), error_count=int(error_count),
        error_rate=error_count / total_inferences if total_inferences else None,
        latency_p50_ms=p50, latency_p95_ms=p95, latency_p99_ms=p99,
    )


def input_drift(
    context: VersionContext, feature_rows: Sequence[Sequence[float] | None], *, min_samples: int = 100,
    previous: Mapping[str, Sequence[int]] | None = None,
) -> tuple[dict[str, dict[str, Any]], tuple[str, float] | None]:
    """PSI per feature of the recorded input vectors (in ``context.feature_names`` order, one per bar)
    plus ``previous`` bin counts per feature (earlier windows' bars), against the version's reference
    bins; None per feature below ``min_samples`` bars.  Returns ({feature: PsiResult dict with this
    window's ``counts``}, (most drifted feature, PSI) or None)."""
    names = context.feature_names
    if not names or not context.psi_reference:
        return {}, None
    width = len(names)
    rows = [r for r in feature_rows if r is not None and len(r) == width]
    matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), width)
    previous = previous or {}
    out: dict[str, dict[str, Any]] = {}
    results: dict[str, PsiResult] = {}
    for name, stored in context.psi_reference.items():
        ref = ReferenceBins.from_dict(stored)
        if name not in names:
            results[name] = PsiResult(None, 0, 0, f"feature {name!r} is absent from the live data")
            out[name] = {**results[name].to_dict(), "counts": None}
            continue
        values = matrix[:, names.index(name)]
        finite = values[np.isfinite(values)]
        counts = bin_counts(ref, finite)
        earlier = previous.get(name)
        pooled = counts if earlier is None or len(earlier) != len(counts) else [a + b for a, b in zip(counts, earlier)]
        results[name] = psi_from_counts(ref, pooled, n_missing=int(values.size - finite.size), min_samples=min_samples)
        out[name] = {**results[name].to_dict(), "counts": counts}
    return out, max_psi(results)


def summarize_window(
    events: pd.DataFrame,
    contexts: Mapping[tuple[str, int], VersionContext],
    candles: Mapping[tuple[str, str], pd.DataFrame],
    *,
    window_start: datetime | None,
    window_end: datetime,
    psi_window_bars: int = DEFAULT_PSI_WINDOW_BARS,
    previous_counts: Mapping[tuple[str, int, str], Mapping[str, Sequence[int]]] | None = None,
) -> list[PerformanceRecord]:
    """One PerformanceRecord per (model_name, version, source) with events in the window.

    ``events``: one row per recorded prediction with EVENT_COLUMNS; ``contexts``: per
    (model_name, version); ``candles``: frames with ts and close per (symbol, timeframe);
    ``previous_counts``: per (model_name, version, source), PSI bin counts per feature of the latest
    earlier bars; ``psi_window_bars``: bars PSI needs for versions without a calibration.
    ``window_start`` None: each record's window starts at its earliest prediction time (``ts``).
    """
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise InvalidInput(f"events lack columns {', '.join(missing)}")
    records: list[PerformanceRecord] = []
    if len(events) == 0:
        return records
    previous_counts = previous_counts or {}
    for (model_name, version, shadow), group in events.groupby(["model_name", "version", "shadow"], sort=True):
        version = int(version)
        source = SOURCES[bool(shadow)]
        context = contexts.get((model_name, version))
        if context is None:
            raise InvalidInput(f"no registry record of version {version} of {model_name}")
        ok, repeats = one_per_bar(group[group["success"].astype(bool) & group["prediction"].notna()])
        y_true, details = _outcomes(ok, context, candles)
        matured = ~np.isnan(y_true)
        y_pred = ok["prediction"].to_numpy(dtype=np.float64)[matured]
        metrics = window_metrics(
            y_true[matured], y_pred,
            total_inferences=len(group),
            error_count=int((~group["success"].astype(bool)).sum()),
            latencies_ms=group["latency_ms"].to_numpy(dtype=np.float64),
        )
        bars = context.psi_window_bars(psi_window_bars)
        drift, worst = input_drift(context, list(ok["features"]), min_samples=bars,
                                   previous=previous_counts.get((model_name, version, source)))
        details.update(
            n_repeated_predictions=repeats, max_psi_feature=worst[0] if worst else None,
            psi_bars=int(sum(f is not None for f in ok["features"])), psi_window_bars=bars,
            psi_threshold=None if context.psi_calibration is None else context.psi_calibration.threshold,
        )
        start = window_start if window_start is not None else pd.Timestamp(group["ts"].min()).to_pydatetime()
        records.append(PerformanceRecord(
            window_start=start, window_end=window_end, model_name=model_name, version=version,
            regime=context.regime, symbol=context.symbol, source=source, metrics=metrics,
            drift=drift, max_psi=worst[1] if worst else None, details=details,
        ))
    return records


def one_per_bar(predictions: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The first prediction of each bar (by prediction time ``ts`` when given), without bars already
    predicted before the window (``seen_before``); and how many predictions that left out.
    Predictions without a bar are kept (they resolve to nothing)."""
    frame = predictions
    if "seen_before" in frame.columns:
        frame = frame[~frame["seen_before"].fillna(False).astype(bool)]
    if "ts" in frame.columns:
        frame = frame.sort_values("ts", kind="stable")
    has_bar = frame["bar_ts"].notna()
    first = ~frame["bar_ts"].duplicated(keep="first") | ~has_bar
    kept = frame[first]
    return kept, int(len(predictions) - len(kept))


def _outcomes(
    ok: pd.DataFrame, context: VersionContext, candles: Mapping[tuple[str, str], pd.DataFrame]
) -> tuple[np.ndarray, dict[str, Any]]:
    details: dict[str, Any] = {"label_horizon": context.label_horizon, "timeframe": context.timeframe}
    labels = np.full(len(ok), np.nan)
    if context.label_horizon is None or context.timeframe is None:
        details["outcomes"] = "version metadata lacks label_horizon or timeframe: outcomes not resolved"
        details.update(n_immature=0, n_unresolved=len(ok))
        return labels, details
    frame = candles.get((context.symbol, context.timeframe))
    if frame is not None and len(ok):
        labels = realized_labels(ok["bar_ts"], frame, context.label_horizon)
    known = _known_bars(ok["bar_ts"], frame)
    details["n_immature"] = int(np.count_nonzero(known & np.isnan(labels)))
    details["n_unresolved"] = int(np.count_nonzero(~known))
    return labels, details


def _known_bars(bar_ts: pd.Series, frame: pd.DataFrame | None) -> np.ndarray:
    if frame is None or len(frame) == 0 or len(bar_ts) == 0:
        return np.zeros(len(bar_ts), dtype=bool)
    return np.isin(_utc_ns(bar_ts), _utc_ns(frame["ts"]))
