"""Training values are pinned: models were trained, and artifacts hashed, on features computed by the
pandas formulas below; the shared definitions must give those values bit for bit (a change would make
reproductions of existing versions differ)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaplus.market.synth import synth_candles
from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, FeatureSpec, build_features
from alphaplus.ml.regimes import RegimeRule, classify_regimes, regime_indicators
from tests.series import SERIES


def _safe_ratio(num: pd.Series, den: pd.Series, fill: float = 0.0) -> pd.Series:
    out = num / den.where(den != 0)
    return out.where(den != 0, fill).where(num.notna() & den.notna())


def pandas_features(candles: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The features as first written, with pandas Series operations."""
    o, h, l, c, v = (candles[k].astype("float64").reset_index(drop=True)
                     for k in ("open", "high", "low", "close", "volume"))
    log_close = np.log(c)
    log_ret = log_close.diff()
    out = {"ret_1": c.pct_change(fill_method=None)}
    for w in spec.return_windows:
        out[f"logret_{w}"] = log_close - log_close.shift(w)
    for w in spec.volatility_windows:
        out[f"vol_{w}"] = log_ret.rolling(w, min_periods=w).std(ddof=1)
    if len(spec.volatility_windows) >= 2:
        short, long = sorted(spec.volatility_windows)[0], sorted(spec.volatility_windows)[-1]
        out["vol_ratio"] = _safe_ratio(out[f"vol_{short}"], out[f"vol_{long}"], fill=1.0)
    delta = c.diff()
    gain = delta.clip(lower=0).rolling(spec.rsi_window, min_periods=spec.rsi_window).mean()
    loss = (-delta.clip(upper=0)).rolling(spec.rsi_window, min_periods=spec.rsi_window).mean()
    out[f"rsi_{spec.rsi_window}"] = 100.0 * _safe_ratio(gain, gain + loss, fill=0.5)
    prev = c.shift(1)
    tr = pd.concat([h - l, (h - prev).abs(), (l - prev).abs()], axis=1).max(axis=1, skipna=False)
    out[f"atr_{spec.atr_window}"] = tr.rolling(spec.atr_window, min_periods=spec.atr_window).mean() / c
    out["range_rel"] = (h - l) / c
    log_vol = np.log1p(v.clip(lower=0))
    mean = log_vol.rolling(spec.volume_window, min_periods=spec.volume_window).mean()
    std = log_vol.rolling(spec.volume_window, min_periods=spec.volume_window).std(ddof=1)
    out[f"volume_z_{spec.volume_window}"] = _safe_ratio(log_vol - mean, std)
    for w in spec.ma_windows:
        out[f"dist_sma_{w}"] = c / c.rolling(w, min_periods=w).mean() - 1.0
    rng = h - l
    out["body_ratio"] = _safe_ratio(c - o, rng)
    out["upper_wick_ratio"] = _safe_ratio(h - np.maximum(o, c), rng)
    out["lower_wick_ratio"] = _safe_ratio(np.minimum(o, c) - l, rng)
    hi = h.rolling(spec.range_window, min_periods=spec.range_window).max()
    lo = l.rolling(spec.range_window, min_periods=spec.range_window).min()
    out[f"close_pos_{spec.range_window}"] = _safe_ratio(c - lo, hi - lo, fill=0.5)
    frame = pd.DataFrame(out, columns=list(spec.names)).astype("float64").replace([np.inf, -np.inf], np.nan)
    frame.index = candles.index
    return frame


def pandas_indicators(candles: pd.DataFrame, rule: RegimeRule) -> pd.DataFrame:
    log_close = np.log(candles["close"].astype("float64").reset_index(drop=True))
    vol = log_close.diff().rolling(rule.window, min_periods=rule.window).std(ddof=1)
    pct = vol.rolling(rule.vol_lookback, min_periods=min(rule.window, rule.vol_lookback)).rank(pct=True)
    denom = vol * np.sqrt(rule.window)
    trend = ((log_close - log_close.shift(rule.window)).abs() / denom.where(denom > 0)).where(vol.notna())
    return pd.DataFrame({"volatility": vol, "vol_percentile": pct, "trend_strength": trend.mask(vol.eq(0), 0.0)})


def identical(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit for bit: equal with equal signs (0.0 is not -0.0), or NaN on both sides."""
    return a.shape == b.shape and bool(((a == b) & (np.signbit(a) == np.signbit(b)) | np.isnan(a) & np.isnan(b)).all())


SMALL_SPEC = FeatureSpec(return_windows=(2, 5), volatility_windows=(3, 10), ma_windows=(1, 5), rsi_window=4,
                         atr_window=3, volume_window=6, range_window=4)
SMALL_RULE = RegimeRule(window=5, vol_lookback=30)
CASES = [(kind, seed) for kind in sorted(SERIES) for seed in range(3)] + [("synthetic", 0)]


def candles_of(kind: str, seed: int) -> pd.DataFrame:
    return synth_candles(2_000, seed=11) if kind == "synthetic" else SERIES[kind](1_200, seed)


@pytest.mark.parametrize("kind,seed", CASES)
@pytest.mark.parametrize("spec", [DEFAULT_FEATURE_SPEC, SMALL_SPEC], ids=["default", "small"])
def test_training_features_are_bit_for_bit_the_pandas_formulas(kind, seed, spec):
    candles = candles_of(kind, seed)
    ours, theirs = build_features(candles, spec), pandas_features(candles, spec)
    assert list(ours.columns) == list(theirs.columns) and ours.index.equals(theirs.index)
    assert identical(ours.to_numpy(), theirs.to_numpy())


@pytest.mark.parametrize("kind,seed", CASES)
@pytest.mark.parametrize("rule", [RegimeRule(), SMALL_RULE], ids=["default", "small"])
def test_regime_indicators_and_labels_are_bit_for_bit_the_pandas_formulas(kind, seed, rule):
    candles = candles_of(kind, seed)
    theirs = pandas_indicators(candles, rule)
    assert identical(regime_indicators(candles, rule).to_numpy(), theirs.to_numpy())
    labels = np.where(theirs["vol_percentile"] >= rule.volatile_percentile, "volatile",
                      np.where(theirs["trend_strength"] >= rule.trend_threshold, "trending", "ranging")).astype(object)
    labels[theirs["vol_percentile"].isna().to_numpy()] = np.nan
    pd.testing.assert_series_equal(classify_regimes(candles, rule),
                                   pd.Series(labels, index=candles.index, name="regime", dtype="str"))
