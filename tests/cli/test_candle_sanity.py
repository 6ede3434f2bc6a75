"""Row checks before an import: the first insane row and its column are named, clean frames pass."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from alphaplus.market.frame import CandleFormatError
from alphaplus.market.sanity import check_storable
from alphaplus.market.synth import synth_candles


def test_synthetic_candles_are_storable():
    check_storable(synth_candles(500, seed=0))


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("low", 0.0, "row 4, column low: 0.0 is not a positive price"),
        ("high", 1.0, "row 4, column high: 1.0 is below low"),
        ("close", math.inf, "row 4, column close: inf is missing or not finite"),
        ("volume", math.nan, "row 4, column volume: empty is missing or not finite"),
        ("volume", -1.0, "row 4, column volume: -1.0 is negative"),
        ("open", 1e9, "row 4, column open: 1000000000.0 is outside [low, high]"),
        ("ts", pd.NaT, "row 4, column ts: empty has no timestamp"),
    ],
)
def test_the_first_insane_row_is_named_with_its_column(column, value, message):
    frame = synth_candles(10, seed=1)
    frame.loc[3, column] = value
    with pytest.raises(CandleFormatError) as e:
        check_storable(frame, source="f.csv")
    assert str(e.value) == f"f.csv: {message}"


def test_the_earliest_bad_row_wins_and_the_others_are_counted():
    frame = synth_candles(10, seed=2)
    frame.loc[7, "volume"] = -5.0
    frame.loc[2, "low"] = -1.0
    frame.loc[8, "ts"] = frame.loc[1, "ts"]
    with pytest.raises(CandleFormatError, match=r"row 3, column low: .*; 2 more row\(s\) are wrong too"):
        check_storable(frame)
