"""Classification metrics of a direction classifier, plus a simple signal P&L, as JSON-safe dicts.

Signal P&L rule: at each bar the signal is long (+1) when ``proba > threshold``; otherwise flat (0),
or short (-1) when ``short_below`` is given and ``proba < short_below``. Its return is the signal
times the bar's forward return over the label horizon. ``signal_pnl`` is the plain sum of those
returns (no compounding, no costs, overlapping horizons counted as separate trades): a comparison
figure between models on the same bars, not a backtest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def correct_vector(y_true, y_pred) -> np.ndarray:
    """Per-sample correctness (bool array): prediction equals label."""
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {t.shape} vs {p.shape}")
    return t.astype(np.int64) == p.astype(np.int64)


def _f(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def classification_metrics(
    y_true,
    proba,
    threshold: float = 0.5,
    forward_returns=None,
    *,
    short_below: float | None = None,
    eps: float = 1e-15,
) -> dict[str, Any]:
    """accuracy, f1, precision, recall, roc_auc, log_loss, class_balance, n (+ signal P&L) as plain floats.

    ``roc_auc`` is None when ``y_true`` holds one class only; precision/recall/f1 are 0.0 when undefined.
    """
    from sklearn import metrics as skm

    y = np.asarray(y_true, dtype=float)
    p = np.asarray(proba, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"y_true and proba must be 1-d and the same length, got {y.shape} and {p.shape}")
    if len(y) == 0:
        raise ValueError("cannot compute metrics on zero samples")
    if np.isnan(y).any() or np.isnan(p).any():
        raise ValueError("y_true and proba must not contain NaN")
    y_int = y.astype(np.int64)
    pred = (p > threshold).astype(np.int64)
    one_class = len(np.unique(y_int)) < 2
    result: dict[str, Any] = {
        "n": int(len(y_int)),
        "accuracy": float(skm.accuracy_score(y_int, pred)),
        "f1": float(skm.f1_score(y_int, pred, zero_division=0)),
        "precision": float(skm.precision_score(y_int, pred, zero_division=0)),
        "recall": float(skm.recall_score(y_int, pred, zero_division=0)),
        "roc_auc": None if one_class else _f(skm.roc_auc_score(y_int, p)),
        "log_loss": _f(skm.log_loss(y_int, np.clip(p, eps, 1 - eps), labels=[0, 1])),
        "class_balance": float(y_int.mean()),
        "positive_rate": float(pred.mean()),
        "threshold": float(threshold),
    }
    if forward_returns is not None:
        result.update(signal_pnl(p, forward_returns, threshold=threshold, short_below=short_below))
    return result


def signal_pnl(proba, forward_returns, threshold: float = 0.5, *, short_below: float | None = None) -> dict[str, Any]:
    """The module docstring's signal rule applied to ``forward_returns``; NaN returns are skipped."""
    p = np.asarray(proba, dtype=float)
    r = np.asarray(forward_returns, dtype=float)
    if p.shape != r.shape:
        raise ValueError(f"proba and forward_returns differ in shape: {p.shape} vs {r.shape}")
    known = ~np.isnan(r)
    p, r = p[known], r[known]
    signal = np.where(p > threshold, 1.0, 0.0)
    if short_below is not None:
        signal = np.where(p < short_below, -1.0, signal)
    trade_returns = signal * r
    active = signal != 0
    n_trades = int(active.sum())
    return {
        "signal_pnl": float(trade_returns.sum()),
        "signal_mean_return": float(trade_returns[active].mean()) if n_trades else 0.0,
        "signal_hit_rate": float((trade_returns[active] > 0).mean()) if n_trades else None,
        "signal_exposure": float(active.mean()) if len(r) else 0.0,
        "signal_trades": n_trades,
        "buy_and_hold_pnl": float(r.sum()),
    }


def signal_after_costs(proba, forward_returns, *, horizon: int, cost_per_trade: float, threshold: float = 0.5) -> dict[str, Any]:
    """The long/flat signal on non-overlapping trades, net of a round-trip cost per trade.

    Only every ``horizon``-th row opens a trade (held ``horizon`` bars), so no two trades share a bar
    and their returns are (nearly) independent, unlike ``signal_pnl``'s overlapping sum. Buy-and-hold
    on the same rows, paying the same cost, is the no-skill reference.
    """
    p = np.asarray(proba, dtype=float)[:: int(horizon)]
    r = np.asarray(forward_returns, dtype=float)[:: int(horizon)]
    known = ~np.isnan(r)
    p, r = p[known], r[known]
    long = p > threshold
    net = r[long] - cost_per_trade
    return {
        "net_trades": int(long.sum()),
        "net_return_per_trade": float(net.mean()) if len(net) else None,
        "net_return_total": float(net.sum()),
        "net_buy_and_hold_per_trade": float((r - cost_per_trade).mean()) if len(r) else None,
        "cost_per_trade": float(cost_per_trade),
    }
