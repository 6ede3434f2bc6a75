"""Model features computed from candles without look-ahead, and the spec that names them.

Every feature is defined once (``feature_expressions``) as a series expression; ``build_features``
evaluates the definitions over a whole frame (the training path) and ``alphaplus.ml.streaming`` bar by
bar (the serving path), with the same values.

Every feature of bar t uses bars up to and including t only (backward rolling windows, lags by positive
distances), so features of bar t are unchanged when later bars change. Rows in the warm-up (the first
``spec.warmup_bars`` bars) hold NaN where a window is not yet full; training drops them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from alphaplus.ml.dataflow import (
    CANDLE_INPUTS, Expr, Program, clip_lower, clip_upper, column, compile_program, evaluate_frame, finite, lag, log,
    log1p, maximum, minimum, rolling_max, rolling_mean, rolling_min, rolling_std, safe_ratio,
)


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


def feature_expressions(spec: FeatureSpec = DEFAULT_FEATURE_SPEC) -> dict[str, Expr]:
    """The definition of every feature of ``spec``, by name, in ``spec.names`` order."""
    open_, high, low, close, volume = (column(c) for c in CANDLE_INPUTS)
    log_close = log(close)
    log_ret = log_close - lag(log_close, 1)

    out: dict[str, Expr] = {"ret_1": close / lag(close, 1) - 1.0}
    for w in spec.return_windows:
        out[f"logret_{w}"] = log_close - lag(log_close, w)
    for w in spec.volatility_windows:
        out[f"vol_{w}"] = rolling_std(log_ret, w)
    if len(spec.volatility_windows) >= 2:
        short, long = sorted(spec.volatility_windows)[0], sorted(spec.volatility_windows)[-1]
        out["vol_ratio"] = safe_ratio(out[f"vol_{short}"], out[f"vol_{long}"], fill=1.0)

    out[f"rsi_{spec.rsi_window}"] = _rsi(close, spec.rsi_window)

    prev_close = lag(close, 1)
    true_range = maximum(maximum(high - low, abs(high - prev_close)), abs(low - prev_close))
    out[f"atr_{spec.atr_window}"] = rolling_mean(true_range, spec.atr_window) / close
    out["range_rel"] = (high - low) / close

    log_vol = log1p(clip_lower(volume, 0.0))
    vol_mean = rolling_mean(log_vol, spec.volume_window)
    vol_std = rolling_std(log_vol, spec.volume_window)
    out[f"volume_z_{spec.volume_window}"] = safe_ratio(log_vol - vol_mean, vol_std)

    for w in spec.ma_windows:
        out[f"dist_sma_{w}"] = close / rolling_mean(close, w) - 1.0

    candle_range = high - low
    out["body_ratio"] = safe_ratio(close - open_, candle_range)
    out["upper_wick_ratio"] = safe_ratio(high - maximum(open_, close), candle_range)
    out["lower_wick_ratio"] = safe_ratio(minimum(open_, close) - low, candle_range)

    roll_high = rolling_max(high, spec.range_window)
    roll_low = rolling_min(low, spec.range_window)
    out[f"close_pos_{spec.range_window}"] = safe_ratio(close - roll_low, roll_high - roll_low, fill=0.5)

    # inf can only come from corrupt input (zero or negative prices); the quality gate rejects those,
    # so here it becomes NaN rather than a value the model could split on.
    return {name: finite(out[name]) for name in spec.names}


def _rsi(close: Expr, window: int) -> Expr:
    """Relative strength index with simple (not Wilder-smoothed) averages: a finite window, no memory."""
    delta = close - lag(close, 1)
    gain = rolling_mean(clip_lower(delta, 0.0), window)
    loss = rolling_mean(-clip_upper(delta, 0.0), window)
    # gain/(gain+loss) equals the usual 100 - 100/(1+RS) form without dividing by a zero loss.
    return 100.0 * safe_ratio(gain, gain + loss, fill=0.5)


@lru_cache(maxsize=32)
def feature_program(spec: FeatureSpec = DEFAULT_FEATURE_SPEC) -> Program:
    """The features of ``spec`` as one program (shared subexpressions computed once)."""
    return compile_program(feature_expressions(spec))


def build_features(candles: pd.DataFrame, spec: FeatureSpec = DEFAULT_FEATURE_SPEC) -> pd.DataFrame:
    """The feature frame of ``spec`` (float64 columns ``spec.names``), index aligned to ``candles``."""
    columns = {c: candles[c].to_numpy(dtype=np.float64) for c in CANDLE_INPUTS}
    values = evaluate_frame(feature_program(spec), columns)
    return pd.DataFrame(values, columns=list(spec.names), index=candles.index)
