"""Evidence from overlapping-horizon outcomes: effective sample size, block-bootstrap tests and
intervals for paired metric differences, no-skill references and skill scores.

A label over an ``h``-bar horizon shares ``h - 1`` bars with its neighbour, so ``n`` consecutive rows
carry roughly ``n / h`` independent outcomes, not ``n``.  Every test here resamples whole blocks of
rows (``arch``'s stationary or circular block bootstrap) with a block length that is the larger of
the Politis-White estimate for the data and a floor of ``block_floor x horizon`` rows; or, as an
option, keeps only every ``h``-th row (non-overlapping outcomes) and resamples those independently.

One :class:`Resampler` draws the row indices once; every statistic of one decision is computed on the
same resamples, so paired comparisons keep their pairing and several metrics stay jointly consistent.

Tests are one-sided ("a is better than b"); the reported interval is two-sided at ``1 - 2 alpha``, so
"lower bound above the null" and "p < alpha" are the same statement (percentile method).
The effective sample size of a test is ``n x (variance under independent rows) / (block-bootstrap
variance)``: what the rows are worth as independent outcomes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

from alphaplus.ml.resampled_metrics import (
    HIGHER_IS_BETTER,
    ROW_SERIES,
    metric_function,
    row_brier,
    row_log_loss,
    weighted_mean,
)
from alphaplus.ml import resampled_metrics
from alphaplus.ml.references import Reference, no_skill_references, skill_score

__all__ = ["HIGHER_IS_BETTER", "METHODS", "Reference", "Resampler", "TestResult", "block_length", "compare", "compare_samples",
           "effective_sample_size", "independent_outcomes", "interval_above", "metric_value", "no_skill_references",
           "non_overlapping_rows", "row_brier", "row_log_loss", "skill_score"]

Method = Literal["stationary", "circular", "subsample"]
METHODS: tuple[str, ...] = ("stationary", "circular", "subsample")

_INDEX_BUDGET = 4_000_000  # resampled cells evaluated at once (memory bound for large windows)


def independent_outcomes(n_rows: int, horizon: int) -> int:
    """How many non-overlapping ``horizon``-bar outcomes ``n_rows`` consecutive rows hold."""
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 bar, got {horizon}")
    return int(n_rows) // int(horizon)


def non_overlapping_rows(n_rows: int, horizon: int, offset: int = 0) -> np.ndarray:
    """Positions of every ``horizon``-th row from ``offset``: outcomes that share no bar."""
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 bar, got {horizon}")
    return np.arange(int(offset) % int(horizon), int(n_rows), int(horizon))


def block_length(series: np.ndarray, horizon: int, *, method: Method = "stationary", floor: float = 2.0) -> float:
    """Block length for resampling ``series`` (rows x columns, or one column).

    The Politis-White (2004, with Patton et al. 2009's correction) estimate of ``arch``, largest over
    the columns that vary, but never below ``floor x horizon`` rows: the estimate is itself noisy, and
    a block shorter than the label horizon cuts through the overlap it must keep.
    """
    from arch.bootstrap import optimal_block_length

    x = np.asarray(series, dtype=float)
    x = x.reshape(len(x), -1)
    least = max(1.0, float(floor) * int(horizon))
    varying = x[:, np.nanstd(x, axis=0) > 0]
    if varying.shape[1] == 0 or len(x) < 10:
        return least
    column = "circular" if method == "circular" else "stationary"
    estimate = float(np.nanmax(optimal_block_length(varying)[column].to_numpy()))
    return max(least, estimate if math.isfinite(estimate) else least)


@dataclass(frozen=True)
class Resampler:
    """Row indices of ``reps`` bootstrap resamples of one evaluation window, drawn once.

    ``rows`` are the positions the statistics use (all rows, or the non-overlapping subsample);
    ``indices`` is a (reps x len(rows)) matrix of positions into the window.
    """

    n: int
    horizon: int
    method: str
    block: float
    rows: np.ndarray
    indices: np.ndarray
    seed: int

    @classmethod
    def draw(
        cls,
        n: int,
        *,
        horizon: int,
        series: np.ndarray | None = None,
        method: Method = "stationary",
        reps: int = 999,
        block_floor: float = 2.0,
        seed: int = 0,
    ) -> "Resampler":
        """Resamples of ``n`` rows; ``series`` (per-row values, one column each) sets the block length."""
        if method not in METHODS:
            raise ValueError(f"resampling method must be one of {', '.join(METHODS)}, got {method!r}")
        if n < 2:
            raise ValueError(f"at least 2 rows are needed to resample, got {n}")
        if reps < 1:
            raise ValueError(f"reps must be positive, got {reps}")
        rng = np.random.default_rng(seed)
        if method == "subsample":
            rows = non_overlapping_rows(n, horizon)
            picks = rng.integers(0, len(rows), size=(reps, len(rows)))
            return cls(n, horizon, method, 1.0, rows, rows[picks].astype(np.int32), seed)
        from arch.bootstrap import CircularBlockBootstrap, StationaryBootstrap

        data = np.arange(n) if series is None else np.asarray(series, dtype=float)
        block = block_length(data if series is not None else np.zeros(n), horizon, method=method, floor=block_floor)
        block = min(block, n / 2)
        sampler_cls = CircularBlockBootstrap if method == "circular" else StationaryBootstrap
        sampler = sampler_cls(max(1, int(round(block))), np.arange(n), seed=rng)
        indices = np.empty((reps, n), dtype=np.int32)
        for r in range(reps):
            indices[r] = sampler.update_indices()
        return cls(n, horizon, method, float(block), np.arange(n), indices, seed)

    @property
    def reps(self) -> int:
        return int(self.indices.shape[0])

    def distribution(self, statistic: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``statistic`` over every resample, in chunks.

        A statistic takes a weight matrix (resamples x window rows: how often each row was drawn)
        and returns one value per resample; weights turn every metric into sums, which is fast.
        """
        if self._all_weights is not None:
            return statistic(self._all_weights)
        chunk = max(1, _INDEX_BUDGET // max(1, self.n))
        return np.concatenate([statistic(self._weights(self.indices[i : i + chunk]))
                               for i in range(0, self.reps, chunk)])

    @cached_property
    def _all_weights(self) -> np.ndarray | None:
        """Every resample's weights, kept when they fit the memory budget (tests reuse them)."""
        return self._weights(self.indices) if self.reps * self.n <= _INDEX_BUDGET else None

    def observed(self, statistic: Callable[[np.ndarray], np.ndarray]) -> float:
        """``statistic`` on the rows themselves (no resampling)."""
        return float(statistic(self._weights(self.rows[None, :]))[0])

    def _weights(self, indices: np.ndarray) -> np.ndarray:
        k = indices.shape[0]
        flat = (np.arange(k, dtype=np.int64)[:, None] * self.n + indices).ravel()
        return np.bincount(flat, minlength=k * self.n).reshape(k, self.n).astype(float)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (what a stored decision needs to be re-run)."""
        return {"method": self.method, "block_length": self.block, "reps": self.reps, "seed": self.seed,
                "horizon": self.horizon, "n": self.n, "rows_used": int(len(self.rows))}


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestResult:
    """One bootstrap test: ``estimate`` is the statistic (a difference in the better direction, or a
    metric against ``null``); it is significant when the one-sided ``p_value`` is below ``alpha``,
    i.e. when ``ci_low`` (of the two-sided ``1 - 2 alpha`` interval) lies above ``null``."""

    __test__ = False  # a result, not a pytest test class, wherever it is imported

    name: str
    metric: str
    estimate: float
    null: float
    ci_low: float
    ci_high: float
    p_value: float
    alpha: float
    n: int
    n_effective: float | None
    statistic: float | None  # estimate minus null over the bootstrap standard error

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    @property
    def confidence(self) -> float:
        return 1.0 - 2.0 * self.alpha

    def interval_text(self) -> str:
        """The interval, each bound with enough digits to tell it from the null it is judged against
        ("[+0.4996, +0.560]" rather than a bound that prints as the null)."""
        from alphaplus.core.figures import pair

        low, high = (pair(bound, self.null, 3, sign=True)[0] for bound in (self.ci_low, self.ci_high))
        return f"{self.confidence:.0%} interval [{low}, {high}]"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (non-finite numbers become null)."""
        return {k: _json(v) for k, v in self.__dict__.items()} | {"significant": self.significant}


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _labels(y: Any) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError("labels must be one-dimensional")
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    return arr.astype(bool)


def _probabilities(p: Any, n: int) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"probabilities must have one value per label ({n}), got shape {arr.shape}")
    if np.isnan(arr).any() or (arr < 0).any() or (arr > 1).any():
        raise ValueError("probabilities must lie in [0, 1]")
    return arr


def _summarise(name: str, metric: str, estimate: float, draws: np.ndarray, null: float, alpha: float,
               n: int, n_effective: float | None) -> TestResult:
    draws = draws[np.isfinite(draws)]
    if not math.isfinite(estimate) or len(draws) == 0:
        return TestResult(name, metric, estimate, null, math.nan, math.nan, 1.0, alpha, n, n_effective, None)
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    # Percentile p-value of "estimate > null", with the +1 that keeps it a valid p-value.
    p = (1.0 + np.count_nonzero(draws <= null)) / (1.0 + len(draws))
    se = float(np.std(draws, ddof=1)) if len(draws) > 1 else 0.0
    stat = (estimate - null) / se if se > 0 else None
    return TestResult(name, metric, float(estimate), float(null), float(low), float(high), float(min(p, 1.0)),
                      float(alpha), int(n), n_effective, stat)


def _n_effective(iid_variance: float, draws: np.ndarray, n: int) -> float | None:
    """``n`` x iid variance / bootstrap variance, within [1, n]; None when either is not positive."""
    boot = float(np.var(draws[np.isfinite(draws)], ddof=1)) if np.isfinite(draws).sum() > 1 else 0.0
    if not (iid_variance > 0 and boot > 0):
        return None
    return float(min(n, max(1.0, n * iid_variance / boot)))


def effective_sample_size(values: np.ndarray, resampler: Resampler) -> float | None:
    """What the mean of per-row ``values`` is worth in independent rows, under ``resampler``."""
    v = np.asarray(values, dtype=float)
    means = resampler.distribution(lambda W: weighted_mean(W, v))
    m = len(resampler.rows)
    return _n_effective(float(np.var(v[resampler.rows], ddof=1)) / m, means, m)


def _iid_variance(metric: str, y: np.ndarray, a: np.ndarray, b: np.ndarray | None, rows: np.ndarray) -> float:
    """Variance of the statistic if rows were independent: of a mean for per-row metrics, DeLong's
    for AUC; NaN for metrics with no closed form here (their n_effective is then not reported)."""
    m = len(rows)
    if metric in ROW_SERIES:
        series = ROW_SERIES[metric]
        d = series(y[rows], a[rows]) - (series(y[rows], b[rows]) if b is not None else 0.0)
        return float(np.var(d, ddof=1)) / m if m > 1 else math.nan
    if metric == "roc_auc":
        d = _auc_placements(y[rows], a[rows]) - (_auc_placements(y[rows], b[rows]) if b is not None else 0.0)
        yy = y[rows]
        pos, neg = d[yy], d[~yy]
        if len(pos) < 2 or len(neg) < 2:
            return math.nan
        return float(np.var(pos, ddof=1) / len(pos) + np.var(neg, ddof=1) / len(neg))
    return math.nan


def _auc_placements(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """DeLong's placement values: for a positive, the share of negatives scored below it (ties half);
    for a negative, the share of positives scored above it."""
    pos, neg = p[y], p[~y]
    out = np.empty(len(p))
    if len(pos) == 0 or len(neg) == 0:
        out.fill(math.nan)
        return out
    sorted_neg, sorted_pos = np.sort(neg), np.sort(pos)
    below = np.searchsorted(sorted_neg, pos, side="left")
    ties = np.searchsorted(sorted_neg, pos, side="right") - below
    out[y] = (below + 0.5 * ties) / len(neg)
    above = len(pos) - np.searchsorted(sorted_pos, neg, side="right")
    ties_p = np.searchsorted(sorted_pos, neg, side="right") - np.searchsorted(sorted_pos, neg, side="left")
    out[~y] = (above + 0.5 * ties_p) / len(pos)
    return out


# --- tests -------------------------------------------------------------------------------------


def compare(
    metric: str,
    y: Any,
    p_a: Any,
    p_b: Any,
    resampler: Resampler,
    *,
    alpha: float = 0.05,
    name: str | None = None,
) -> TestResult:
    """Is ``a`` better than ``b`` on ``metric``? Paired block-bootstrap test of the difference.

    The estimate is the improvement of ``a`` over ``b`` (``a - b`` for higher-is-better metrics,
    ``b - a`` for losses), so a positive estimate always means ``a`` is better.  ``p_b`` may be a
    constant (a no-skill reference).
    """
    yy = _labels(y)
    a, b = _probabilities(p_a, len(yy)), _probabilities(p_b, len(yy))
    _check_window(yy, resampler)
    fn = metric_function(metric)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0

    def diff(W: np.ndarray) -> np.ndarray:
        return sign * (fn(yy, a, W) - fn(yy, b, W))

    draws = resampler.distribution(diff)
    m = len(resampler.rows)
    n_eff = _n_effective(_iid_variance(metric, yy, a, b, resampler.rows), draws, m)
    return _summarise(name or f"{metric} difference", metric, resampler.observed(diff), draws, 0.0, alpha,
                      resampler.n, n_eff)


def interval_above(
    metric: str, y: Any, p: Any, resampler: Resampler, *, null: float, alpha: float = 0.05, name: str | None = None
) -> TestResult:
    """Is ``metric`` of ``p`` above ``null`` (e.g. ROC AUC above 0.5)? Block-bootstrap interval."""
    yy = _labels(y)
    pp = _probabilities(p, len(yy))
    _check_window(yy, resampler)
    fn = metric_function(metric)
    draws = resampler.distribution(lambda W: fn(yy, pp, W))
    m = len(resampler.rows)
    n_eff = _n_effective(_iid_variance(metric, yy, pp, None, resampler.rows), draws, m)
    return _summarise(name or f"{metric} above {null:g}", metric, resampler.observed(lambda W: fn(yy, pp, W)),
                      draws, null, alpha, resampler.n, n_eff)


def compare_samples(
    metric: str,
    a: tuple[Any, Any, Resampler],
    b: tuple[Any, Any, Resampler],
    *,
    alpha: float = 0.05,
    name: str | None = None,
) -> TestResult:
    """Is ``metric`` better on sample ``a`` than on sample ``b`` (two windows, e.g. live outcomes and a
    holdout baseline)? Each sample is ``(labels, probabilities, its own Resampler)``; both are resampled
    independently (same number of resamples), so the interval carries the uncertainty of both.
    The estimate is oriented like ``compare``'s; ``n`` is the rows of both; ``n_effective`` is the
    harmonic combination of the two samples' (what equal halves of that size would give), when known.
    """
    fn = metric_function(metric)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    parts = []
    for y, p, rs in (a, b):
        yy = _labels(y)
        pp = _probabilities(p, len(yy))
        _check_window(yy, rs)
        draws = rs.distribution(lambda W, yy=yy, pp=pp: fn(yy, pp, W))
        n_eff = _n_effective(_iid_variance(metric, yy, pp, None, rs.rows), draws, len(rs.rows))
        parts.append((rs.observed(lambda W, yy=yy, pp=pp: fn(yy, pp, W)), draws, n_eff, rs.n))
    (est_a, draws_a, eff_a, n_a), (est_b, draws_b, eff_b, n_b) = parts
    if len(draws_a) != len(draws_b):
        raise ValueError("both samples need the same number of resamples")
    n_eff = 4.0 / (1.0 / eff_a + 1.0 / eff_b) if eff_a and eff_b else None
    return _summarise(name or f"{metric} difference between samples", metric, sign * (est_a - est_b),
                      sign * (draws_a - draws_b), 0.0, alpha, n_a + n_b, n_eff)


def metric_value(metric: str, y: Any, p: Any) -> float:
    """One metric (see ``HIGHER_IS_BETTER``) of probabilities ``p`` on labels ``y`` (checked)."""
    yy = _labels(y)
    return resampled_metrics.metric_value(metric, yy, _probabilities(p, len(yy)))


def _check_window(y: np.ndarray, resampler: Resampler) -> None:
    if len(y) != resampler.n:
        raise ValueError(f"the resamples are of {resampler.n} rows but {len(y)} labels were given")
