"""The feature and regime formulas as first written, with pandas Series operations: the oracle that pins
training values bit for bit (tests/unit/ml/test_training_values.py), and the "before" path of the inference
benchmark (what a prediction cost when it rebuilt them from a frame)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaplus.ml.features import FeatureSpec
from alphaplus.ml.regimes import RegimeRule


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


def pandas_regimes(candles: pd.DataFrame, rule: RegimeRule) -> pd.Series:
    ind = pandas_indicators(candles, rule)
    labels = np.where(ind["vol_percentile"] >= rule.volatile_percentile, "volatile",
                      np.where(ind["trend_strength"] >= rule.trend_threshold, "trending", "ranging")).astype(object)
    labels[ind["vol_percentile"].isna().to_numpy()] = np.nan
    return pd.Series(labels, index=candles.index, name="regime", dtype="str")
