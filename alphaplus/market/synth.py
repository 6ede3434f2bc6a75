"""Synthetic regime-switching OHLCV candles, for demos and tests that need realistic market data.

Log returns follow a three-state Markov chain (trending, ranging, volatile). Within a state a bar's
log return is

    r_t = direction * drift + momentum * r_{t-1} - reversion * (log p_{t-1} - anchor) + sigma_t * eps_t

where ``direction`` is drawn (+1/-1) when a trending stretch starts, ``anchor`` is the price level at
the start of the stretch, and ``sigma_t`` follows a GARCH(1,1)-like recursion towards the state's base
volatility so that volatility clusters. Highs and lows extend the candle body by half-normal wicks
scaled by ``sigma_t``; volume is log-normal and rises with ``sigma_t / base volatility``.

``SHIFTED_DYNAMICS`` is a market whose behaviour has changed (trends reverse quickly, ranges break
out): a model fitted on ``DEFAULT_DYNAMICS`` degrades on it. ``continue_candles`` appends such a
stretch to an existing frame, starting from its last bar. (The shifted generator starts without
memory of the old frame: its contrarian look-back sees only its own bars.)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from alphaplus.market.frame import CANDLE_COLUMNS, timeframe_to_timedelta

STATES: tuple[str, ...] = ("trending", "ranging", "volatile")


@dataclass(frozen=True)
class RegimeDynamics:
    """Return dynamics of one market state (per bar, in log-return units)."""

    drift: float
    momentum: float
    reversion: float
    volatility: float
    volume_scale: float = 1.0


@dataclass(frozen=True)
class SynthDynamics:
    """The whole generator: per-state dynamics plus the Markov transition matrix between states."""

    states: tuple[RegimeDynamics, RegimeDynamics, RegimeDynamics] = (
        RegimeDynamics(drift=0.0015, momentum=0.10, reversion=0.0, volatility=0.006, volume_scale=1.2),
        RegimeDynamics(drift=0.0, momentum=-0.05, reversion=0.04, volatility=0.004, volume_scale=0.8),
        RegimeDynamics(drift=0.0, momentum=-0.02, reversion=0.0, volatility=0.016, volume_scale=2.0),
    )
    # Rows: from state, columns: to state. Long diagonal entries give stretches of ~50-150 bars.
    transition: tuple[tuple[float, float, float], ...] = (
        (0.985, 0.010, 0.005),
        (0.008, 0.985, 0.007),
        (0.020, 0.020, 0.960),
    )
    # GARCH-like clustering: sigma^2_t = (1-a-b)*base^2 + a*r_{t-1}^2 + b*sigma^2_{t-1}.
    garch_alpha: float = 0.08
    garch_beta: float = 0.88
    # A trending stretch reverses its direction with this probability per bar (0: never).
    trend_flip_prob: float = 0.0
    # > 0: trends push against the move of the last `contrarian_lookback` bars instead of keeping a
    # direction per stretch, so momentum signals point the wrong way.
    contrarian_lookback: int = 0
    wick_scale: float = 0.6
    base_volume: float = 1_000.0
    volume_noise: float = 0.35
    volume_vol_elasticity: float = 1.0
    initial_probabilities: tuple[float, float, float] = field(default=(0.4, 0.4, 0.2))


DEFAULT_DYNAMICS = SynthDynamics()

# A changed market with the same volatility profile per state, so nothing but the outcome tells the
# change apart: trends push against the recent move and ranges lose their pull to
# an anchor; a per-regime classifier that learned DEFAULT_DYNAMICS loses its edge here.
SHIFTED_DYNAMICS = replace(
    DEFAULT_DYNAMICS,
    states=(
        RegimeDynamics(drift=0.0015, momentum=-0.10, reversion=0.0, volatility=0.006, volume_scale=1.2),
        RegimeDynamics(drift=0.0, momentum=0.10, reversion=0.0, volatility=0.004, volume_scale=0.8),
        RegimeDynamics(drift=0.0, momentum=-0.02, reversion=0.0, volatility=0.016, volume_scale=2.0),
    ),
    contrarian_lookback=12,
)

# Trending stretches drift twice as fast as by default: a real edge that a per-regime classifier can
# learn and that block-bootstrap tests can see on a few hundred unseen rows (ranging and volatile
# stretches carry no such edge). The demo's history and the promotion tests use it.
STRONG_TREND_DYNAMICS = replace(
    DEFAULT_DYNAMICS, states=(replace(DEFAULT_DYNAMICS.states[0], drift=0.003), *DEFAULT_DYNAMICS.states[1:])
)

_DYNAMICS_BY_NAME = {"default": DEFAULT_DYNAMICS, "shifted": SHIFTED_DYNAMICS, "strong_trend": STRONG_TREND_DYNAMICS}


def symbol_seed(symbol: str) -> int:
    """A default seed that differs between symbols and is the same on every machine and run."""
    return zlib.crc32(symbol.encode("utf-8"))


def synth_candles(
    n_bars: int,
    *,
    seed: int,
    start: str | pd.Timestamp = "2024-01-01",
    timeframe: str = "1h",
    base_price: float = 30_000.0,
    dynamics: SynthDynamics | str = DEFAULT_DYNAMICS,
) -> pd.DataFrame:
    """A canonical candle frame of ``n_bars`` regime-switching bars, identical for the same seed."""
    frame, _ = synth_candles_with_states(
        n_bars, seed=seed, start=start, timeframe=timeframe, base_price=base_price, dynamics=dynamics
    )
    return frame


def synth_candles_with_states(
    n_bars: int,
    *,
    seed: int,
    start: str | pd.Timestamp = "2024-01-01",
    timeframe: str = "1h",
    base_price: float = 30_000.0,
    dynamics: SynthDynamics | str = DEFAULT_DYNAMICS,
    initial_state: int | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Like ``synth_candles`` but also returns the hidden state index per bar (see ``STATES``)."""
    if n_bars <= 0:
        raise ValueError(f"n_bars must be positive, got {n_bars}")
    if not base_price > 0:
        raise ValueError(f"base_price must be positive, got {base_price}")
    dyn = _DYNAMICS_BY_NAME[dynamics] if isinstance(dynamics, str) else dynamics
    step = pd.Timedelta(timeframe_to_timedelta(timeframe))
    start_ts = pd.Timestamp(start)
    start_ts = start_ts.tz_localize("UTC") if start_ts.tzinfo is None else start_ts.tz_convert("UTC")
    rng = np.random.default_rng(seed)
    states = _markov_states(n_bars, dyn, rng, initial_state)
    log_returns, sigma = _log_returns(states, dyn, rng, np.log(base_price))
    return _assemble(log_returns, sigma, states, dyn, rng, start_ts, step, base_price), states


def continue_candles(
    candles: pd.DataFrame,
    n_bars: int,
    *,
    seed: int,
    dynamics: SynthDynamics | str = SHIFTED_DYNAMICS,
    timeframe: str | None = None,
) -> pd.DataFrame:
    """``n_bars`` new bars that continue ``candles`` from its last bar, under (by default) shifted dynamics.

    Returns only the new bars; ``pd.concat([candles, new], ignore_index=True)`` gives the whole series.
    """
    if len(candles) == 0:
        raise ValueError("cannot continue an empty candle frame")
    last = candles.iloc[-1]
    if timeframe is None:
        spacing = candles["ts"].diff().median() if len(candles) > 1 else pd.Timedelta(hours=1)
        step = pd.Timedelta(spacing)
    else:
        step = pd.Timedelta(timeframe_to_timedelta(timeframe))
    new = synth_candles(
        n_bars,
        seed=seed,
        start=last["ts"] + step,
        timeframe=_timedelta_to_timeframe(step),
        base_price=float(last["close"]),
        dynamics=dynamics,
    )
    return new


def _timedelta_to_timeframe(step: pd.Timedelta) -> str:
    minutes = int(step.total_seconds() // 60)
    if minutes <= 0 or step.total_seconds() % 60:
        raise ValueError(f"bar spacing {step} is not a whole number of minutes")
    return f"{minutes}m"


def _markov_states(n: int, dyn: SynthDynamics, rng: np.random.Generator, initial: int | None) -> np.ndarray:
    cumulative = np.cumsum(np.asarray(dyn.transition, dtype=float), axis=1)
    cumulative[:, -1] = 1.0
    draws = rng.random(n)
    states = np.empty(n, dtype=np.int8)
    if initial is None:
        initial = int(np.searchsorted(np.cumsum(dyn.initial_probabilities), draws[0], side="right"))
    state = min(initial, len(STATES) - 1)
    states[0] = state
    for i in range(1, n):
        state = int(np.searchsorted(cumulative[state], draws[i], side="right"))
        states[i] = state
    return states


def _log_returns(
    states: np.ndarray, dyn: SynthDynamics, rng: np.random.Generator, log_p0: float
) -> tuple[np.ndarray, np.ndarray]:
    n = len(states)
    eps = rng.standard_normal(n)
    coin = rng.random(n)
    flips = rng.random(n)
    drift = np.array([s.drift for s in dyn.states])
    momentum = np.array([s.momentum for s in dyn.states])
    reversion = np.array([s.reversion for s in dyn.states])
    base_var = np.array([s.volatility for s in dyn.states]) ** 2
    a, b = dyn.garch_alpha, dyn.garch_beta
    returns = np.empty(n)
    sigma = np.empty(n)
    lookback = int(dyn.contrarian_lookback)
    log_path = np.empty(n + 1)
    log_path[0] = log_p0
    log_p = log_p0
    anchor = log_p0
    prev_r = 0.0
    var = base_var[states[0]]
    direction = 1.0
    prev_state = -1
    for i in range(n):
        s = states[i]
        if s != prev_state:
            # A new stretch: fresh direction for trends, fresh anchor for ranges.
            direction = 1.0 if coin[i] < 0.5 else -1.0
            anchor = log_p
            prev_state = s
        elif dyn.trend_flip_prob and flips[i] < dyn.trend_flip_prob:
            direction = -direction
        if lookback and i >= lookback:
            past_move = log_p - log_path[i - lookback]
            direction = -1.0 if past_move > 0 else 1.0
        var = (1.0 - a - b) * base_var[s] + a * prev_r * prev_r + b * var
        sd = np.sqrt(var)
        r = direction * drift[s] + momentum[s] * prev_r - reversion[s] * (log_p - anchor) + sd * eps[i]
        returns[i] = r
        sigma[i] = sd
        log_p += r
        log_path[i + 1] = log_p
        prev_r = r
    return returns, sigma


def _assemble(
    log_returns: np.ndarray,
    sigma: np.ndarray,
    states: np.ndarray,
    dyn: SynthDynamics,
    rng: np.random.Generator,
    start_ts: pd.Timestamp,
    step: pd.Timedelta,
    base_price: float,
) -> pd.DataFrame:
    n = len(log_returns)
    close = base_price * np.exp(np.cumsum(log_returns))
    open_ = np.empty(n)
    open_[0] = base_price
    open_[1:] = close[:-1]
    body_top = np.maximum(open_, close)
    body_bottom = np.minimum(open_, close)
    high = body_top * np.exp(dyn.wick_scale * sigma * np.abs(rng.standard_normal(n)))
    low = body_bottom * np.exp(-dyn.wick_scale * sigma * np.abs(rng.standard_normal(n)))
    base_vol = np.array([s.volatility for s in dyn.states])[states]
    volume_scale = np.array([s.volume_scale for s in dyn.states])[states]
    log_volume = (
        np.log(dyn.base_volume * volume_scale)
        + dyn.volume_vol_elasticity * (sigma / base_vol - 1.0)
        + dyn.volume_noise * rng.standard_normal(n)
    )
    ts = pd.date_range(start=start_ts, periods=n, freq=step, unit="ns")
    frame = pd.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": np.exp(log_volume),
        },
        columns=list(CANDLE_COLUMNS),
    )
    frame["ts"] = frame["ts"].astype("datetime64[ns, UTC]")
    return frame
