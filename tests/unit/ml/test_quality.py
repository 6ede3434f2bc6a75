"""The Great Expectations gate: clean candles pass; each kind of bad data fails, naming the expectation."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from alphaplus.market import CandleFormatError
from alphaplus.market.synth import synth_candles
from alphaplus.ml.quality import QualityReport, validate_candles

MIN_ROWS = 200


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return synth_candles(600, seed=41)


@pytest.fixture(scope="module")
def clean_report(clean) -> QualityReport:
    # First use builds the shared GX context; later tests reuse it.
    return validate_candles(clean, min_rows=MIN_ROWS)


def check(df: pd.DataFrame, **kwargs) -> QualityReport:
    return validate_candles(df, **{"min_rows": MIN_ROWS, **kwargs})


def assert_fails_with(report: QualityReport, name: str, count: int | None = None) -> None:
    assert not report.success
    assert name in report.failed_names, report.summary()
    assert f"FAILED {name}" in report.summary()
    if count is not None:
        (result,) = [r for r in report.results if r.name == name]
        assert result.unexpected_count == count


def test_clean_synthetic_candles_pass_every_expectation(clean_report):
    assert clean_report.success, clean_report.summary()
    assert clean_report.row_count == 600
    assert len(clean_report.results) >= 15
    assert all(r.success for r in clean_report.results)
    assert clean_report.summary().startswith("data quality PASSED")


def test_importing_the_gate_module_does_not_import_great_expectations():
    import subprocess

    code = "import sys, alphaplus.ml.quality; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_gate_names_the_failing_expectation_for_nan_prices(clean, clean_report):
    bad = clean.copy()
    bad.loc[10, "close"] = np.nan
    bad.loc[20, "volume"] = np.nan
    report = check(bad)
    assert_fails_with(report, "close is not null", 1)
    assert_fails_with(report, "volume is not null", 1)
    assert "row 10" in report.summary()


def test_gate_names_the_failing_expectation_for_duplicate_timestamps(clean, clean_report):
    bad = clean.copy()
    bad.loc[51, "ts"] = bad.loc[50, "ts"]
    report = check(bad)
    assert_fails_with(report, "ts is unique", 2)
    assert_fails_with(report, "ts is strictly increasing")


def test_gate_names_the_failing_expectation_for_high_below_low(clean, clean_report):
    bad = clean.copy()
    bad.loc[30, "high"] = bad.loc[30, "low"] * 0.99
    report = check(bad)
    assert_fails_with(report, "high >= low", 1)
    assert_fails_with(report, "high >= max(open, close)", 1)
    assert "row 30" in report.summary()


def test_gate_names_the_failing_expectation_for_low_above_the_body(clean, clean_report):
    bad = clean.copy()
    bad.loc[40, "low"] = max(bad.loc[40, "open"], bad.loc[40, "close"]) * 1.001
    bad.loc[40, "high"] = bad.loc[40, "low"] * 1.01
    assert_fails_with(check(bad), "low <= min(open, close)", 1)


def test_gate_names_the_failing_expectation_for_negative_volume(clean, clean_report):
    bad = clean.copy()
    bad.loc[5, "volume"] = -3.0
    report = check(bad)
    assert_fails_with(report, "volume >= 0", 1)
    assert "-3" in report.summary()


def test_gate_names_the_failing_expectation_for_too_few_rows(clean, clean_report):
    report = check(clean.iloc[:50])
    assert_fails_with(report, f"at least {MIN_ROWS} rows")
    assert "observed 50" in report.summary()
    assert report.failed_names == (f"at least {MIN_ROWS} rows",)


def test_gate_names_the_failing_expectation_for_unsorted_input(clean, clean_report):
    shuffled = clean.sample(frac=1.0, random_state=0).reset_index(drop=True)
    report = check(shuffled)
    assert_fails_with(report, "ts is strictly increasing")
    assert "before the previous bar" in report.summary()


def test_gate_names_the_failing_expectation_for_a_gap_in_the_series(clean, clean_report):
    gappy = clean.drop(index=range(100, 130)).reset_index(drop=True)
    report = check(gappy, timeframe="1h")
    assert_fails_with(report, "every 1h bar of calendar 24/7 is present (at most 0.10% missing)", 30)
    assert check(gappy, timeframe="1h", max_missing_bar_share=0.06).success


def test_gate_names_the_failing_expectation_for_an_absurd_bar_return(clean, clean_report):
    bad = clean.copy()
    for col in ("open", "high", "low", "close"):
        bad.loc[200, col] *= 5
    report = check(bad)
    assert_fails_with(report, "no log return beyond 50 robust standard deviations of the series")


def test_gate_names_the_failing_expectation_for_infinite_values(clean, clean_report):
    bad = clean.copy()
    bad.loc[7, "high"] = np.inf
    report = check(bad)
    assert_fails_with(report, "OHLCV values are finite (no inf)", 1)
    assert "high=inf" in report.summary()


def test_gate_names_the_failing_expectation_for_non_positive_prices(clean, clean_report):
    bad = clean.copy()
    bad.loc[9, "low"] = 0.0
    assert_fails_with(check(bad), "prices are positive", 1)


def test_gate_reports_an_empty_frame_as_too_few_rows(clean, clean_report):
    report = check(clean.iloc[:0])
    assert_fails_with(report, f"at least {MIN_ROWS} rows")
    assert report.row_count == 0


def test_report_to_dict_is_json_safe_and_lists_failures(clean, clean_report):
    bad = clean.copy()
    bad.loc[3, "close"] = np.nan
    bad.loc[4, "ts"] = pd.NaT
    data = check(bad).to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["success"] is False
    assert "close is not null" in data["failed"] and "ts is not null" in data["failed"]
    assert data["thresholds"]["min_rows"] == MIN_ROWS


def test_frame_without_candle_columns_is_a_format_error_not_a_report(clean, clean_report):
    with pytest.raises(CandleFormatError, match="missing column"):
        validate_candles(clean.drop(columns=["volume"]))
    with pytest.raises(CandleFormatError, match="ts must hold datetimes"):
        validate_candles(clean.assign(ts=clean["ts"].astype(str)))
