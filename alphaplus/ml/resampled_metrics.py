"""Classification metrics of many bootstrap resamples at once, from weight matrices.

A resample is a weight per row (how often the row was drawn); every metric then becomes sums, so
thousands of resamples cost a few matrix products.  Each metric takes the window's labels ``y``
(bool), probabilities ``p`` and a weight matrix ``W`` (k x n) and returns k values; hard predictions
are ``p > 0.5``.  ``metric_value`` is the same metric on the rows themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

# name -> True when a larger value is better.
HIGHER_IS_BETTER: Mapping[str, bool] = {
    "accuracy": True,
    "balanced_accuracy": True,
    "mcc": True,
    "roc_auc": True,
    "log_loss": False,
    "brier": False,
}
_LOG_EPS = 1e-15


def weighted_mean(W: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The mean of per-row ``values`` in each resample of ``W``."""
    return (W @ values) / W.sum(axis=1)


def _confusion(y: np.ndarray, p: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, ...]:
    pred = p > 0.5
    cells = np.stack([pred & y, ~pred & ~y, pred & ~y, ~pred & y], axis=1).astype(float)
    tp, tn, fp, fn = (W @ cells).T
    return tp, tn, fp, fn


def _accuracy(y, p, W):
    return weighted_mean(W, ((p > 0.5) == y).astype(float))


def _balanced_accuracy(y, p, W):
    tp, tn, fp, fn = _confusion(y, p, W)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.stack([tp / (tp + fn), tn / (tn + fp)])
    # sklearn's convention for a window holding one class: the mean over the classes present.
    present = ~np.isnan(rates)
    total = np.where(present, rates, 0.0).sum(axis=0)
    count = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _mcc(y, p, W):
    tp, tn, fp, fn = _confusion(y, p, W)
    denom = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (tp * tn - fp * fn) / np.where(denom > 0, denom, 1.0), 0.0)


def row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-row log loss of probability ``p`` for label ``y`` (clipped away from 0 and 1)."""
    q = np.clip(np.asarray(p, dtype=float), _LOG_EPS, 1 - _LOG_EPS)
    return -np.where(np.asarray(y, dtype=bool), np.log(q), np.log1p(-q))


def row_brier(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-row squared error of probability ``p`` for label ``y``."""
    return (np.asarray(p, dtype=float) - np.asarray(y, dtype=float)) ** 2


def _log_loss(y, p, W):
    return weighted_mean(W, row_log_loss(y, p))


def _brier(y, p, W):
    return weighted_mean(W, row_brier(y, p))


def _roc_auc(y, p, W):
    """Mann-Whitney AUC of each weighted resample: rows sorted by score once, tied scores grouped."""
    order = np.argsort(p, kind="stable")
    scores, labels = p[order], y[order]
    Ws = W[:, order]
    pos, neg = Ws * labels, Ws * ~labels
    if len(np.unique(scores)) < len(scores):  # tied scores form one group each
        starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])
        pos, neg = np.add.reduceat(pos, starts, axis=1), np.add.reduceat(neg, starts, axis=1)
    neg_below = np.cumsum(neg, axis=1) - neg
    n1, n0 = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n1 > 0) & (n0 > 0), (pos * (neg_below + 0.5 * neg)).sum(axis=1) / (n1 * n0), np.nan)


_METRICS: Mapping[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
    "mcc": _mcc,
    "roc_auc": _roc_auc,
    "log_loss": _log_loss,
    "brier": _brier,
}
# Metrics that are means of a per-row series (their iid variance has a closed form).
ROW_SERIES: Mapping[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "accuracy": lambda y, p: ((p > 0.5) == y).astype(float),
    "log_loss": row_log_loss,
    "brier": row_brier,
}


def metric_value(metric: str, y: np.ndarray, p: np.ndarray) -> float:
    """One metric (see ``HIGHER_IS_BETTER``) of probabilities ``p`` on labels ``y`` (0/1)."""
    return float(metric_function(metric)(np.asarray(y).astype(bool), np.asarray(p, dtype=float),
                                         np.ones((1, len(y))))[0])


def metric_function(metric: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """The weight-matrix function of ``metric``; a clear error for an unknown name."""
    try:
        return _METRICS[metric]
    except KeyError:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(_METRICS)}") from None
