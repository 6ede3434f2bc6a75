"""Input drift: Population Stability Index of live feature values against bins frozen at training time.

At training, ``reference_bins`` cuts each feature at quantiles of the training data and records the
share of training rows per bin; the result is stored in the version's metadata (``to_dict``).  Live,
``psi`` bins the new values with the same edges and compares shares:

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

with both shares clipped to at least ``eps`` so an empty bin does not make PSI infinite.  Rules of
thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift; but those assume independent
values, and features of consecutive bars are not.  So monitoring measures PSI over a rolling set of
the latest ``window_bars`` distinct bars (one value per bar; windows add up as ``bin_counts``) and
compares it with a threshold calibrated at training on the training period's own window-to-window
PSI (``calibrate_threshold``), stored with the reference bins.

Bins are right-closed, (edge[i], edge[i+1]], with outer edges at -inf and +inf so every finite value
lands somewhere.  Non-finite values (NaN, +-inf) are neither binned nor used for quantiles; they are
counted in ``n_missing`` so a column going missing is visible rather than silently shrinking ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from alphaplus.core.errors import InvalidInput

_FORMAT = 1


def _as_float_array(values: Any) -> np.ndarray:
    """Values as a flat float array with missing entries as NaN (pandas nullable dtypes included)."""
    try:
        if hasattr(values, "to_numpy"):
            # pandas: nullable dtypes hold pd.NA, which np.asarray(dtype=float) refuses.
            arr = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"drift needs numeric values: {e}") from e
    return np.ravel(arr)


def _shares(inner_edges: np.ndarray, finite_values: np.ndarray) -> np.ndarray:
    # side="left" puts x == edge into the bin ending at that edge: right-closed bins.
    idx = np.searchsorted(inner_edges, finite_values, side="left")
    counts = np.bincount(idx, minlength=inner_edges.size + 1).astype(float)
    return counts / max(counts.sum(), 1.0)


def _split_finite(values: Any) -> tuple[np.ndarray, int]:
    arr = _as_float_array(values)
    finite = np.isfinite(arr)
    return arr[finite], int(arr.size - np.count_nonzero(finite))


@dataclass(frozen=True)
class ReferenceBins:
    """Bin edges and expected shares of one feature, frozen from the training data.

    edges: increasing, first -inf and last +inf; bin i is (edges[i], edges[i+1]].
    proportions: share of the ``n`` training values in each bin (sums to 1).
    n: finite training values used; n_missing: non-finite training values left out.
    """

    edges: tuple[float, ...]
    proportions: tuple[float, ...]
    n: int
    n_missing: int = 0

    def __post_init__(self) -> None:
        edges = tuple(float(e) for e in self.edges)
        props = tuple(float(p) for p in self.proportions)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "proportions", props)
        if len(edges) < 2 or edges[0] != -math.inf or edges[-1] != math.inf:
            raise InvalidInput("reference bins must start at -inf and end at +inf")
        if any(not b > a for a, b in zip(edges, edges[1:])):
            raise InvalidInput("reference bin edges must be strictly increasing")
        if len(props) != len(edges) - 1:
            raise InvalidInput(f"{len(edges) - 1} bins need {len(edges) - 1} proportions, got {len(props)}")
        if any(not (math.isfinite(p) and p >= 0) for p in props) or not math.isclose(sum(props), 1.0, abs_tol=1e-6):
            raise InvalidInput("reference proportions must be non-negative and sum to 1")

    @property
    def inner_edges(self) -> np.ndarray:
        """The finite cut points."""
        return np.asarray(self.edges[1:-1], dtype=float)

    def shares(self, finite_values: np.ndarray) -> np.ndarray:
        """Share of ``finite_values`` falling in each bin."""
        return _shares(self.inner_edges, finite_values)

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON form (PostgreSQL JSONB refuses Infinity): outer edges become "-inf" / "inf"."""
        edges: list[float | str] = ["-inf", *(float(e) for e in self.edges[1:-1]), "inf"]
        return {
            "format": _FORMAT,
            "edges": edges,
            "proportions": list(self.proportions),
            "n": self.n,
            "n_missing": self.n_missing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceBins:
        """Inverse of ``to_dict``; also accepts null for the outer edges."""
        try:
            raw = list(data["edges"])
            edges = [_decode_edge(e, i, len(raw)) for i, e in enumerate(raw)]
            return cls(
                edges=tuple(edges),
                proportions=tuple(float(p) for p in data["proportions"]),
                n=int(data["n"]),
                n_missing=int(data.get("n_missing", 0)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidInput(f"stored reference bins are malformed: {e!r}") from e


def _decode_edge(e: Any, i: int, count: int) -> float:
    if e is None:
        if i == 0:
            return -math.inf
        if i == count - 1:
            return math.inf
        raise ValueError(f"edge {i} is null; only the outer edges may be")
    return float(e)  # float("inf") / float("-inf") parse the string forms


def reference_bins(values: Any, n_bins: int = 10) -> ReferenceBins:
    """Quantile bins of the training values of one feature (ties and constant columns merge bins)."""
    if n_bins < 2:
        raise InvalidInput(f"PSI needs at least 2 bins (got {n_bins})")
    finite, n_missing = _split_finite(values)
    if finite.size == 0:
        raise InvalidInput("cannot build reference bins: the training column has no finite values")
    cuts = np.quantile(finite, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    # Heavy ties (e.g. a feature that is mostly 0) give repeated quantiles; repeated edges would make
    # empty bins, so they merge. A constant column keeps one cut: (-inf, c] and (c, inf).
    inner = np.unique(cuts)
    edges = np.concatenate(([-np.inf], inner, [np.inf]))
    props = _shares(inner, finite)
    return ReferenceBins(edges=tuple(edges), proportions=tuple(props), n=int(finite.size), n_missing=n_missing)


@dataclass(frozen=True)
class PsiResult:
    """PSI of one feature; ``value`` is None when there were too few live values to say anything."""

    value: float | None
    n: int
    n_missing: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"value": self.value, "n": self.n, "n_missing": self.n_missing, "reason": self.reason}


def psi(reference: ReferenceBins, actual_values: Any, eps: float = 1e-4, min_samples: int = 100) -> PsiResult:
    """PSI of ``actual_values`` against ``reference``; None below ``min_samples`` finite values."""
    finite, n_missing = _split_finite(actual_values)
    return psi_from_counts(reference, bin_counts(reference, finite), n_missing=n_missing, eps=eps,
                           min_samples=min_samples)


def bin_counts(reference: ReferenceBins, finite_values: np.ndarray) -> list[int]:
    """How many of ``finite_values`` fall in each reference bin (counts add up across windows)."""
    idx = np.searchsorted(reference.inner_edges, finite_values, side="left")
    return [int(c) for c in np.bincount(idx, minlength=len(reference.proportions))]


def psi_from_counts(
    reference: ReferenceBins, counts: Any, *, n_missing: int = 0, eps: float = 1e-4, min_samples: int = 100
) -> PsiResult:
    """PSI of values given as bin counts (e.g. summed over the windows of a rolling set of bars)."""
    c = np.asarray(counts, dtype=float)
    if c.shape != (len(reference.proportions),):
        raise InvalidInput(f"{len(reference.proportions)} bins need as many counts, got {c.size}")
    n = int(c.sum())
    missing_note = f"; {n_missing} missing or non-finite values ignored" if n_missing else ""
    if n < min_samples:
        return PsiResult(
            value=None, n=n, n_missing=n_missing,
            reason=f"only {n} live values (need {min_samples}) to measure drift{missing_note}",
        )
    expected = np.clip(np.asarray(reference.proportions), eps, None)
    actual = np.clip(c / n, eps, None)
    value = float(np.sum((actual - expected) * np.log(actual / expected)))
    return PsiResult(value=value, n=n, n_missing=n_missing, reason=f"{_verdict(value)}{missing_note}")


def _verdict(value: float) -> str:
    if value < 0.1:
        return f"PSI {value:.3f}: stable"
    if value < 0.25:
        return f"PSI {value:.3f}: moderate shift"
    return f"PSI {value:.3f}: major shift of live inputs away from the training data"


def feature_psi(
    reference_by_feature: Mapping[str, ReferenceBins],
    frame: Any,
    *,
    eps: float = 1e-4,
    min_samples: int = 100,
) -> dict[str, PsiResult]:
    """PSI per feature of ``frame`` (a DataFrame or a mapping of column name to values)."""
    out: dict[str, PsiResult] = {}
    for name, ref in reference_by_feature.items():
        if name not in frame:
            out[name] = PsiResult(value=None, n=0, n_missing=0, reason=f"feature {name!r} is absent from the live data")
            continue
        out[name] = psi(ref, frame[name], eps=eps, min_samples=min_samples)
    return out


def max_psi(results: Mapping[str, PsiResult]) -> tuple[str, float] | None:
    """The most drifted feature and its PSI, or None when no feature had enough values to measure."""
    measured = [(name, r.value) for name, r in results.items() if r.value is not None]
    if not measured:
        return None
    return max(measured, key=lambda item: item[1])


@dataclass(frozen=True)
class PsiCalibration:
    """The drift threshold of a version, calibrated on its own training period.

    Live PSI is measured over the latest ``window_bars`` distinct bars.  Even a market that never
    changed gives such a window a PSI well above 0 against the whole training period when the features
    are serially dependent (a 20-bar volatility moves slowly), so a fixed rule of thumb (0.25) fires on
    nothing.  ``threshold`` is the ``quantile`` of the largest feature PSI over the training period's
    own consecutive ``window_bars``-row windows (``windows`` of them; ``median`` for scale), read from
    a gamma distribution fitted to them.
    """

    window_bars: int
    threshold: float
    quantile: float
    windows: int
    median: float

    def to_dict(self) -> dict[str, Any]:
        return {"window_bars": self.window_bars, "threshold": self.threshold, "quantile": self.quantile,
                "windows": self.windows, "median": self.median}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PsiCalibration | None:
        """Inverse of ``to_dict``; None for a version stored without a calibration."""
        if not data:
            return None
        try:
            return cls(int(data["window_bars"]), float(data["threshold"]), float(data["quantile"]),
                       int(data["windows"]), float(data["median"]))
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidInput(f"stored PSI calibration is malformed: {e!r}") from e


def calibrate_threshold(
    reference_by_feature: Mapping[str, ReferenceBins], frame: Any, *, window_bars: int, quantile: float = 0.99,
    eps: float = 1e-4,
) -> PsiCalibration | None:
    """Calibrate the drift threshold on the training rows ``frame`` (time-ordered, one row per bar);
    None when they hold fewer than two windows of ``window_bars`` rows."""
    if window_bars < 2 or not 0.5 <= quantile <= 1.0:
        raise InvalidInput(f"need window_bars >= 2 and quantile in [0.5, 1] (got {window_bars}, {quantile})")
    n = len(frame)
    windows = n // window_bars
    if windows < 2 or not reference_by_feature:
        return None
    worst = np.zeros(windows)
    for name, ref in reference_by_feature.items():
        values = _as_float_array(frame[name])[: windows * window_bars].reshape(windows, window_bars)
        expected = np.clip(np.asarray(ref.proportions), eps, None)
        for w in range(windows):
            finite = values[w][np.isfinite(values[w])]
            if finite.size == 0:
                continue
            actual = np.clip(ref.shares(finite), eps, None)
            worst[w] = max(worst[w], float(np.sum((actual - expected) * np.log(actual / expected))))
    return PsiCalibration(window_bars=window_bars, threshold=_gamma_quantile(worst, quantile), quantile=quantile,
                          windows=windows, median=float(np.median(worst)))


def _gamma_quantile(values: np.ndarray, quantile: float) -> float:
    """``quantile`` of a gamma distribution fitted to ``values`` by moments (never below their maximum).

    A training period holds a few dozen windows, too few for an empirical 99th percentile, and the
    tail of window PSI under serial dependence is long; a gamma (the shape of a scaled chi-square, as
    PSI of independent values is) extrapolates it.
    """
    from scipy.special import gammaincinv

    mean, var = float(np.mean(values)), float(np.var(values, ddof=1))
    if not (mean > 0 and var > 0):
        return float(np.max(values))
    shape, scale = mean * mean / var, var / mean
    return max(float(scale * gammaincinv(shape, quantile)), float(np.max(values)))
