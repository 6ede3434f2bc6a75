"""What a replay's served signal earned, beside its baselines (pure).

Per symbol, the replay's bars are scored by hand on the source candles: regime (the slot a bar belongs
to), realized label and forward return (known once ``horizon`` later bars exist). A *series* is a
probability per bar (NaN: no answer, which trades nothing): each policy's served answers, and three
baselines computed from the same fits:

- ``never_retrain``: each slot's first fit serves every later bar;
- ``always_newest``: each slot's newest fit serves (every fit promoted, no gate, no rollback);
- ``no_skill``: always up (the constant predictor; a long-only buy-and-hold signal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, build_features
from alphaplus.ml.labels import forward_returns, make_labels
from alphaplus.ml.metrics import signal_after_costs
from alphaplus.ml.regimes import DEFAULT_RULE, classify_regimes

BASELINES = ("never_retrain", "always_newest", "no_skill")


@dataclass(frozen=True)
class BarTable:
    """One symbol's served bars: ts, close time, regime, label (NaN: not yet known), forward return,
    and the features every fit scores."""

    symbol: str
    frame: pd.DataFrame  # columns ts, close_at, regime, label, forward
    features: pd.DataFrame


def bar_table(symbol: str, candles: pd.DataFrame, *, start: datetime, end: datetime, bar: Any,
              horizon: int) -> BarTable:
    """Score the bars closing in (start, end] by hand, from the whole source frame (features and regimes
    are causal: a bar's values use earlier bars only; labels use the ``horizon`` bars after it)."""
    candles = candles.reset_index(drop=True)
    close_at = candles["ts"] + bar
    keep = ((close_at > pd.Timestamp(start)) & (close_at <= pd.Timestamp(end))).to_numpy()
    frame = pd.DataFrame({
        "ts": candles["ts"], "close_at": close_at, "regime": classify_regimes(candles, DEFAULT_RULE),
        "label": make_labels(candles, horizon), "forward": forward_returns(candles, horizon),
    }).loc[keep].reset_index(drop=True)
    features = build_features(candles, DEFAULT_FEATURE_SPEC).loc[keep].reset_index(drop=True)
    return BarTable(symbol, frame, features)


def fit_probabilities(table: BarTable, fits: Sequence[Any]) -> dict[int, np.ndarray]:
    """Per fit (by position in ``fits``), its probability on each of the table's bars of its slot (NaN
    elsewhere): what the fit would have answered had it served."""
    from alphaplus.ml.training import predict_proba

    out: dict[int, np.ndarray] = {}
    for i, fit in enumerate(fits):
        if fit.symbol != table.symbol:
            continue
        p = np.full(len(table.frame), np.nan)
        rows = (table.frame["regime"] == fit.regime).to_numpy()
        if rows.any():
            X = table.features.loc[rows, list(fit.model.feature_names)]
            p[rows] = predict_proba(fit.model, X)
        out[i] = p
    return out


def baseline_series(table: BarTable, fits: Sequence[Any], probabilities: Mapping[int, np.ndarray]) -> dict[str, np.ndarray]:
    """The three baselines' probability per bar of the table."""
    n = len(table.frame)
    never, newest = np.full(n, np.nan), np.full(n, np.nan)
    close_at = table.frame["close_at"]
    regimes = table.frame["regime"].to_numpy()
    first_done: set[str] = set()
    for i, fit in sorted(((i, fits[i]) for i in probabilities), key=lambda x: x[1].at):
        after = (close_at > pd.Timestamp(fit.at)).to_numpy() & (regimes == fit.regime)
        newest[after] = probabilities[i][after]
        if fit.regime not in first_done:
            first_done.add(fit.regime)
            never[after] = probabilities[i][after]
    no_skill = np.where(pd.isna(table.frame["regime"]).to_numpy(), np.nan, 1.0)
    return {"never_retrain": never, "always_newest": newest, "no_skill": no_skill}


def served_series(table: BarTable, served: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(probability, version) per bar of the table from a lane's served answers (NaN: none)."""
    index = {pd.Timestamp(ts): i for i, ts in enumerate(table.frame["ts"])}
    proba = np.full(len(table.frame), np.nan)
    version = np.full(len(table.frame), np.nan)
    for s in served:
        if s.symbol != table.symbol or s.version is None:
            continue
        i = index.get(pd.Timestamp(s.bar_ts))
        if i is not None:
            proba[i], version[i] = s.probability, s.version
    return proba, version


def signal_metrics(label: np.ndarray, proba: np.ndarray, forward: np.ndarray, *, horizon: int,
                   cost_per_trade: float) -> dict[str, Any]:
    """Hit rate, MCC and cost-adjusted return of a series on bars whose outcome is known; bars without
    an answer count in ``bars`` and trade nothing."""
    known = ~np.isnan(label)
    y, p, r = label[known].astype(int), proba[known], forward[known]
    answered = ~np.isnan(p)
    pred = (p[answered] > 0.5).astype(int)
    truth = y[answered]
    out: dict[str, Any] = {"bars": int(known.sum()), "answered": int(answered.sum()),
                           "hit_rate": float((pred == truth).mean()) if len(pred) else None,
                           "mcc": _mcc(truth, pred) if len(pred) else None}
    costs = signal_after_costs(np.where(np.isnan(p), 0.0, p), r, horizon=horizon, cost_per_trade=cost_per_trade)
    out.update(net_return=costs["net_return_total"], trades=costs["net_trades"])
    return out


def _mcc(y: np.ndarray, pred: np.ndarray) -> float:
    """Matthews correlation; 0 where it is undefined (a constant predictor or a one-class window)."""
    tp = float(np.sum((pred == 1) & (y == 1)))
    tn = float(np.sum((pred == 0) & (y == 0)))
    fp = float(np.sum((pred == 1) & (y == 0)))
    fn = float(np.sum((pred == 0) & (y == 1)))
    denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return float((tp * tn - fp * fn) / denominator) if denominator > 0 else 0.0
