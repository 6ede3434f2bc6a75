"""Serving equals training: the streaming state, fed bar by bar (or warmed up, then fed), holds the values
the frame evaluation gives, for every feature and regime indicator at every bar, on random and
real-shaped series with weekend gaps, NaN runs, flat stretches, zero volumes and spikes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaplus.ml import dataflow as df
from alphaplus.ml.dataflow import CANDLE_INPUTS, compile_program, evaluate_frame
from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, FeatureSpec, build_features, feature_expressions
from alphaplus.ml.regimes import RegimeRule, regime_expressions, regime_indicators
from alphaplus.ml.streaming import StreamState
from tests.series import SERIES, random_series

SMALL_SPEC = FeatureSpec(return_windows=(2, 5), volatility_windows=(3, 10), ma_windows=(1, 5), rsi_window=4,
                         atr_window=3, volume_window=6, range_window=4)
SMALL_RULE = RegimeRule(window=5, vol_lookback=30)




def program(spec: FeatureSpec, rule: RegimeRule) -> df.Program:
    return compile_program({**feature_expressions(spec), **regime_expressions(rule)})


def training_values(candles: pd.DataFrame, spec: FeatureSpec, rule: RegimeRule) -> np.ndarray:
    """The training path's values: build_features and regime_indicators, in the program's output order."""
    frame = pd.concat([build_features(candles, spec).reset_index(drop=True), regime_indicators(candles, rule)], axis=1)
    return frame[list(program(spec, rule).output_names)].to_numpy()


def assert_serving_equals_training(serving: np.ndarray, training: np.ndarray, names: tuple[str, ...]) -> None:
    """Same NaN positions; values identical or within 1e-9 relative."""
    assert serving.shape == training.shape
    same = (serving == training) | (np.isnan(serving) & np.isnan(training))
    close = np.isclose(serving, training, rtol=1e-9, atol=0.0)
    bad = np.argwhere(~(same | close))
    assert len(bad) == 0, [(int(i), names[j], serving[i, j], training[i, j]) for i, j in bad[:5]]


def bars_of(candles: pd.DataFrame) -> np.ndarray:
    return candles[list(CANDLE_INPUTS)].to_numpy(dtype=np.float64)


@pytest.mark.parametrize("kind", sorted(SERIES))
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("spec,rule", [(DEFAULT_FEATURE_SPEC, RegimeRule()), (SMALL_SPEC, SMALL_RULE)],
                         ids=["default", "small"])
def test_every_value_served_bar_by_bar_equals_the_training_value(kind, seed, spec, rule):
    candles = SERIES[kind](900, seed)
    state = StreamState(program(spec, rule))
    row = np.array([state.row("SYM")])
    bars = bars_of(candles)
    served = np.vstack([state.advance(row, bars[i:i + 1]) for i in range(len(bars))])
    assert_serving_equals_training(served, training_values(candles, spec, rule), state.output_names)


@pytest.mark.parametrize("kind", sorted(SERIES))
@pytest.mark.parametrize("seed", range(3))
def test_a_state_warmed_up_mid_series_then_fed_equals_training_from_the_warm_up_start(kind, seed):
    candles = SERIES[kind](1_400, seed)
    rng = np.random.default_rng(seed)
    start, split = int(rng.integers(0, 200)), int(rng.integers(400, 1_000))
    history = candles.iloc[start:].reset_index(drop=True)
    state = StreamState(program(DEFAULT_FEATURE_SPEC, RegimeRule()))
    bars = bars_of(history)
    at_split = state.warm("SYM", bars[:split])
    row = np.array([state.row("SYM")])
    served = np.vstack([at_split[None, :]] + [state.advance(row, bars[i:i + 1]) for i in range(split, len(bars))])
    expected = training_values(history, DEFAULT_FEATURE_SPEC, RegimeRule())[split - 1:]
    assert_serving_equals_training(served, expected, state.output_names)


def test_symbols_fed_together_each_equal_their_own_training_values():
    series = {f"S{seed}": SERIES[kind](700, seed) for seed, kind in enumerate(["fx", "random", "adversarial"] * 2)}
    state = StreamState(program(SMALL_SPEC, SMALL_RULE))
    symbols = list(series)
    rows = np.array([state.row(s) for s in symbols])
    stacked = np.stack([bars_of(series[s]) for s in symbols], axis=1)  # (bars, symbols, 5)
    served = np.stack([state.advance(rows, stacked[i]) for i in range(len(stacked))], axis=1)
    for k, s in enumerate(symbols):
        assert_serving_equals_training(served[k], training_values(series[s], SMALL_SPEC, SMALL_RULE),
                                       state.output_names)


def test_warming_up_again_forgets_the_earlier_bars():
    candles = random_series(300, 1)
    other = random_series(300, 2)
    state = StreamState(program(SMALL_SPEC, SMALL_RULE))
    state.warm("SYM", bars_of(other))
    last = state.warm("SYM", bars_of(candles))
    expected = training_values(candles, SMALL_SPEC, SMALL_RULE)[-1:]
    assert_serving_equals_training(last[None, :], expected, state.output_names)
    assert state.bars_seen("SYM") == len(candles)


SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 2.5, 1e-300, -1e300, np.inf, -np.inf, np.nan])


def test_elementwise_steps_round_and_treat_nan_zero_and_inf_exactly_as_numpy_does():
    a, b = (x.ravel() for x in np.meshgrid(SPECIAL, SPECIAL))
    o, h = df.column("open"), df.column("high")
    exprs = {
        "neg": -o, "abs": abs(o), "add": o + h, "sub": o - h, "mul": o * h, "div": o / h,
        "maximum": df.maximum(o, h), "minimum": df.minimum(o, h), "clip_lower": df.clip_lower(o, 0.0),
        "clip_upper": df.clip_upper(o, 0.0), "safe_ratio": df.safe_ratio(o, h, fill=0.5), "finite": df.finite(o / h),
        "where": df.where((o > h) | df.isnan(o), o, h), "where_and": df.where((o >= h) & (o <= h), 1.0, -1.0),
        "where_lt": df.where(o < h, o, df.eq(o, h) * 1.0 + h), "log": df.log(o), "log1p": df.log1p(h),
    }
    columns = {"open": a, "high": b, "low": a, "close": a, "volume": b}
    prog = compile_program(exprs)
    expected = evaluate_frame(prog, columns)
    state = StreamState(prog)
    bars = np.column_stack([columns[c] for c in CANDLE_INPUTS])
    rows = np.array([state.row(i) for i in range(len(a))])
    served = state.advance(rows, bars)
    for j, name in enumerate(prog.output_names):
        want = expected[name].astype(np.float64)
        got = served[:, j]
        same = (np.signbit(got) == np.signbit(want)) & ((got == want) | (np.isnan(got) & np.isnan(want)))
        assert same.all(), (name, a[~same], b[~same], got[~same], want[~same])


def test_the_state_memory_does_not_grow_with_the_bars_it_takes():
    state = StreamState(program(DEFAULT_FEATURE_SPEC, RegimeRule()))
    before = state.bytes_per_key
    state.warm("SYM", bars_of(random_series(3_000, 5)))
    assert state.bytes_per_key == before
    # The longest memory is the regime's percentile window: 500 volatilities.
    assert before < 8 * 1_000


def test_a_logarithm_of_a_value_that_looks_back_is_refused():
    with pytest.raises(ValueError, match="do not look back"):
        compile_program({"x": df.log(df.lag(df.column("close"), 1))})
