"""Model features computed from candles without look-ahead, and the spec that names them.

Every feature of bar t uses bars up to and including t only (backward rolling windows, ``shift`` by
positive lags), so features of bar t are unchanged when later bars change. Rows in the warm-up (the
first ``spec.warmup_bars`` bars) hold NaN where a window is not yet full; training drops them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FeatureSpec:
    """Which features to build and with which windows; its canonical JSON identifies a feature set."""

    return_windows: tuple[int, ...] = (1, 3, 6, 12, 24)
    volatility_windows: tuple[int, ...] = (12, 48)
    ma_windows: tuple[int, ...] = (12, 48)
    rsi_window: int = 14
    atr_window: int = 14
    volume_window: int = 48
    range_window: int = 24
    version: str = "1"

    def __post_init__(self) -> None:
        windows = (
            *self.return_windows,
            *self.volatility_windows,
            *self.ma_windows,
            self.rsi_window,
            self.atr_window,
            self.volume_window,
            self.range_window,
        )
        if any(int(w) != w or w < 1 for w in windows):
            raise ValueError(f"feature windows must be positive integers, got {windows}")
        if any(w < 2 for w in (*self.volatility_windows, self.volume_window, self.range_window)):
            raise ValueError("volatility, volume and range windows need at least 2 bars")

    @property
    def names(self) -> tuple[str, ...]:
        """Feature column names, in the order ``build_features`` returns them."""
        names = ["ret_1"]
        names += [f"logret_{w}" for w in self.return_windows]
        names += [f"vol_{w}" for w in self.volatility_windows]
        if len(self.volatility_windows) >= 2:
            names.append("vol_ratio")
        names += [f"rsi_{self.rsi_window}", f"atr_{self.atr_window}", "range_rel"]
        names += [f"volume_z_{self.volume_window}"]
        names += [f"dist_sma_{w}" for w in self.ma_windows]
        names += ["body_ratio", "upper_wick_ratio", "lower_wick_ratio"]
        names += [f"close_pos_{self.range_window}"]
        return tuple(names)

    @property
    def warmup_bars(self) -> int:
        """Leading bars with at least one NaN feature; row ``warmup_bars`` is the first complete one."""
        # Windows over returns need w + 1 closes; windows over levels need w bars.
        over_returns = (*self.return_windows, *self.volatility_windows, self.rsi_window, self.atr_window)
        over_levels = (*self.ma_windows, self.volume_window, self.range_window)
        return max(max(over_returns), max(over_levels) - 1)

    def to_dict(self) -> dict:
        """Canonical JSON-able form (lists, sorted keys when dumped) used for hashing and storage."""
        return {
            "version": self.version,
            "names": list(self.names),
            "return_windows": list(self.return_windows),
            "volatility_windows": list(self.volatility_windows),
            "ma_windows": list(self.ma_windows),
            "rsi_window": self.rsi_window,
            "atr_window": self.atr_window,
            "volume_window": self.volume_window,
            "range_window": self.range_window,
        }

    def to_json(self) -> str:
        """Canonical JSON text: sorted keys, no whitespace."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSpec:
        """Rebuild a spec from ``to_dict()`` output (``names`` is derived, so it is checked, not used)."""
        spec = cls(
            return_windows=tuple(data["return_windows"]),
            volatility_windows=tuple(data["volatility_windows"]),
            ma_windows=tuple(data["ma_windows"]),
            rsi_window=int(data["rsi_window"]),
            atr_window=int(data["atr_window"]),
            volume_window=int(data["volume_window"]),
            range_window=int(data["range_window"]),
            version=str(data["version"]),
        )
        if "names" in data and list(data["names"]) != list(spec.names):
            raise ValueError("feature spec names do not match its windows")
        return spec


DEFAULT_FEATURE_SPEC = FeatureSpec()


def _safe_ratio(num: pd.Series, den: pd.Series, fill: float = 0.0) -> pd.Series:
    # Zero-range candles and flat stretches happen in real data; a defined value beats inf/NaN there.
    out = num / den.where(den != 0)
    return out.where(den != 0, fill).where(num.notna() & den.notna())


def build_features(candles: pd.DataFrame, spec: FeatureSpec = DEFAULT_FEATURE_SPEC) -> pd.DataFrame:
    """The feature frame of ``spec`` (float64 columns ``spec.names``), index aligned to ``candles``."""
    open_ = candles["open"].astype("float64").reset_index(drop=True)
    high = candles["high"].astype("float64").reset_index(drop=True)
    low = candles["low"].astype("float64").reset_index(drop=True)
    close = candles["close"].astype("float64").reset_index(drop=True)
    volume = candles["volume"].astype("float64").reset_index(drop=True)
    log_close = np.log(close)
    log_ret = log_close.diff()

    out: dict[str, pd.Series] = {"ret_1": close.pct_change(fill_method=None)}
    for w in spec.return_windows:
        out[f"logret_{w}"] = log_close - log_close.shift(w)
    for w in spec.volatility_windows:
        out[f"vol_{w}"] = log_ret.rolling(w, min_periods=w).std(ddof=1)
    if len(spec.volatility_windows) >= 2:
        short, long = sorted(spec.volatility_windows)[0], sorted(spec.volatility_windows)[-1]
        out["vol_ratio"] = _safe_ratio(out[f"vol_{short}"], out[f"vol_{long}"], fill=1.0)

    out[f"rsi_{spec.rsi_window}"] = _rsi(close, spec.rsi_window)

    prev_close = close.shift(1)
    true_range = pd.concat([high - low, (high - prev_close).abs(), (low - prev_close).abs()], axis=1).max(
        axis=1, skipna=False
    )
    out[f"atr_{spec.atr_window}"] = true_range.rolling(spec.atr_window, min_periods=spec.atr_window).mean() / close
    out["range_rel"] = (high - low) / close

    log_vol = np.log1p(volume.clip(lower=0))
    vol_mean = log_vol.rolling(spec.volume_window, min_periods=spec.volume_window).mean()
    vol_std = log_vol.rolling(spec.volume_window, min_periods=spec.volume_window).std(ddof=1)
    out[f"volume_z_{spec.volume_window}"] = _safe_ratio(log_vol - vol_mean, vol_std)

    for w in spec.ma_windows:
        sma = close.rolling(w, min_periods=w).mean()
        out[f"dist_sma_{w}"] = close / sma - 1.0

    candle_range = high - low
    out["body_ratio"] = _safe_ratio(close - open_, candle_range)
    out["upper_wick_ratio"] = _safe_ratio(high - np.maximum(open_, close), candle_range)
    out["lower_wick_ratio"] = _safe_ratio(np.minimum(open_, close) - low, candle_range)

    roll_high = high.rolling(spec.range_window, min_periods=spec.range_window).max()
    roll_low = low.rolling(spec.range_window, min_periods=spec.range_window).min()
    out[f"close_pos_{spec.range_window}"] = _safe_ratio(close - roll_low, roll_high - roll_low, fill=0.5)

    frame = pd.DataFrame(out, columns=list(spec.names)).astype("float64")
    # inf can only come from corrupt input (zero or negative prices); the quality gate rejects those,
    # so here it becomes NaN rather than a value the model could split on.
    frame = frame.replace([np.inf, -np.inf], np.nan)
    frame.index = candles.index
    return frame


def _rsi(close: pd.Series, window: int) -> pd.Series:
    """Relative strength index with simple (not Wilder-smoothed) averages: a finite window, no memory."""
    delta = close.diff()
    gain = delta.clip(lower=0).rolling(window, min_periods=window).mean()
    loss = (-delta.clip(upper=0)).rolling(window, min_periods=window).mean()
    total = gain + loss
    # gain/(gain+loss) equals the usual 100 - 100/(1+RS) form without dividing by a zero loss.
    return 100.0 * _safe_ratio(gain, total, fill=0.5)
