"""Synthetic candles: valid OHLCV, deterministic, regime-switching, and continuable with new dynamics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaplus.market import CANDLE_COLUMNS
from alphaplus.market.synth import (
    SHIFTED_DYNAMICS,
    STATES,
    continue_candles,
    synth_candles,
    synth_candles_with_states,
)


@pytest.fixture(scope="module")
def frame_and_states():
    return synth_candles_with_states(20_000, seed=11)


def test_synthetic_frame_is_canonical_and_evenly_spaced():
    frame = synth_candles(500, seed=1, start="2024-03-01", timeframe="15m")
    assert list(frame.columns) == list(CANDLE_COLUMNS)
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    assert (frame[list(CANDLE_COLUMNS[1:])].dtypes == np.float64).all()
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-03-01", tz="UTC")
    assert (frame["ts"].diff().dropna() == pd.Timedelta(minutes=15)).all()


def test_candles_are_consistent_ohlcv(frame_and_states):
    frame, _ = frame_and_states
    body_top = np.maximum(frame["open"], frame["close"])
    body_bottom = np.minimum(frame["open"], frame["close"])
    assert (frame["high"] >= body_top).all()
    assert (frame["low"] <= body_bottom).all()
    assert (frame["low"] > 0).all()
    assert (frame["volume"] > 0).all()
    assert np.isfinite(frame[list(CANDLE_COLUMNS[1:])].to_numpy()).all()


def test_same_seed_gives_identical_candles_and_other_seeds_differ():
    a = synth_candles(1_000, seed=5)
    b = synth_candles(1_000, seed=5)
    c = synth_candles(1_000, seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["close"], c["close"])


def test_all_three_regimes_occur_in_stretches(frame_and_states):
    _, states = frame_and_states
    shares = np.bincount(states, minlength=len(STATES)) / len(states)
    assert (shares > 0.05).all()
    switches = int((np.diff(states) != 0).sum())
    # Markov persistence: far fewer switches than bars, so regimes come in stretches.
    assert 20 < switches < len(states) / 20


def test_volatile_stretches_have_larger_moves_and_more_volume(frame_and_states):
    frame, states = frame_and_states
    abs_ret = np.abs(np.log(frame["close"]).diff()).to_numpy()
    volume = frame["volume"].to_numpy()
    volatile = states == STATES.index("volatile")
    ranging = states == STATES.index("ranging")
    assert np.nanmean(abs_ret[volatile]) > 1.5 * np.nanmean(abs_ret[ranging])
    assert np.median(volume[volatile]) > np.median(volume[ranging])
    assert np.corrcoef(abs_ret[1:], volume[1:])[0, 1] > 0.1


def test_continuation_starts_where_the_frame_ends():
    base = synth_candles(300, seed=2, timeframe="5m")
    new = continue_candles(base, 200, seed=3)
    assert len(new) == 200
    assert new["ts"].iloc[0] == base["ts"].iloc[-1] + pd.Timedelta(minutes=5)
    assert new["open"].iloc[0] == pytest.approx(base["close"].iloc[-1])
    whole = pd.concat([base, new], ignore_index=True)
    assert whole["ts"].is_monotonic_increasing and whole["ts"].is_unique


def test_shifted_dynamics_turn_trend_continuation_into_reversal():
    def continuation_rate_in_trends(dynamics) -> float:
        frame, states = synth_candles_with_states(20_000, seed=4, dynamics=dynamics)
        log_close = np.log(frame["close"]).to_numpy()
        past = log_close[24:-12] - log_close[:-36]
        future = log_close[36:] - log_close[24:-12]
        trending = states[24:-12] == STATES.index("trending")
        return float((np.sign(past) == np.sign(future))[trending].mean())

    assert continuation_rate_in_trends("default") > 0.6
    assert continuation_rate_in_trends(SHIFTED_DYNAMICS) < 0.5


def test_shifted_market_stays_within_sane_prices_over_a_long_run():
    frame = synth_candles(50_000, seed=9, dynamics=SHIFTED_DYNAMICS)
    assert np.isfinite(frame[list(CANDLE_COLUMNS[1:])].to_numpy()).all()
    assert frame["close"].max() / frame["close"].min() < 1e3


@pytest.mark.parametrize("n", [0, -5])
def test_non_positive_bar_count_is_rejected(n):
    with pytest.raises(ValueError, match="n_bars"):
        synth_candles(n, seed=1)
