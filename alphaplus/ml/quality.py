"""The Great Expectations data-quality gate for candle frames: a frame either passes or is rejected.

``great_expectations`` takes seconds to import, so it is imported inside the functions that use it;
importing this module is cheap. One ephemeral (in-memory, nothing on disk) GX context per process is
built on first use and reused, with one validation definition per distinct set of thresholds.

Some checks need values GX cannot compute row-wise from the canonical columns (``max(open, close)``,
the spacing between bars, the bars the symbol's trading calendar expects, the robust z-score of a
bar's log return), so the gate validates the candles plus helper columns derived from them; the
report names every expectation in words, not by helper column, and says how to fix a calendar misfit.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd

from alphaplus.market.calendars import DEFAULT_CALENDAR
from alphaplus.market.frame import CANDLE_COLUMNS, CandleFormatError, timeframe_to_timedelta
from alphaplus.ml.calendar_gaps import fit_calendar, fix_hint, named
from alphaplus.ml.quality_report import ExpectationResult, QualityReport, to_result

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
VALUE_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")


def _expectations(
    min_rows: int, max_missing_share: float, max_return_z: float, calendar: str, timeframe: str, rows_need: str
) -> list[tuple[str, Any]]:
    """(readable name, GX expectation) pairs, in the order the report lists them."""
    import great_expectations.expectations as gxe

    items: list[tuple[str, Any]] = []
    for col in CANDLE_COLUMNS:
        items.append((f"{col} is not null", gxe.ExpectColumnValuesToNotBeNull(column=col)))
    items.append(
        ("OHLCV values are finite (no inf)", gxe.ExpectColumnValuesToBeNull(column="_nonfinite"))
    )
    items.append(
        (
            "prices are positive",
            gxe.ExpectColumnValuesToBeBetween(column="_min_price", min_value=0, strict_min=True),
        )
    )
    pair = {"or_equal": True, "ignore_row_if": "either_value_is_missing"}
    items.append(
        ("high >= low", gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="high", column_B="low", **pair))
    )
    items.append(
        (
            "high >= max(open, close)",
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="high", column_B="_body_top", **pair),
        )
    )
    items.append(
        (
            "low <= min(open, close)",
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="_body_bottom", column_B="low", **pair),
        )
    )
    items.append(("volume >= 0", gxe.ExpectColumnValuesToBeBetween(column="volume", min_value=0)))
    items.append(("ts is unique", gxe.ExpectColumnValuesToBeUnique(column="ts")))
    items.append(
        (
            "ts is strictly increasing",
            gxe.ExpectColumnValuesToBeBetween(column="_step_seconds", min_value=0, strict_min=True),
        )
    )
    items.append(
        (f"at least {min_rows} rows{rows_need}", gxe.ExpectTableRowCountToBeBetween(min_value=int(min_rows)))
    )
    items.append(
        (
            f"every {timeframe} bar of calendar {calendar} is present "
            f"(at most {max_missing_share:.2%} missing)",
            gxe.ExpectColumnSumToBeBetween(column="_missing_share", max_value=float(max_missing_share)),
        )
    )
    items.append(
        (
            f"bars open only while calendar {calendar} is open",
            gxe.ExpectColumnValuesToBeNull(column="_off_calendar"),
        )
    )
    items.append(
        (
            f"no log return beyond {max_return_z:g} robust standard deviations of the series",
            gxe.ExpectColumnValuesToBeBetween(column="_return_z", max_value=float(max_return_z)),
        )
    )
    return items


def _helper_frame(df: pd.DataFrame, fit) -> pd.DataFrame:
    """The candles plus the derived columns the suite checks (``fit``: the series against its calendar)."""
    values = df[list(VALUE_COLUMNS)].astype("float64")
    ts = df["ts"]
    out = pd.DataFrame({"ts": ts.reset_index(drop=True)}, index=pd.RangeIndex(len(df)))
    for col in VALUE_COLUMNS:
        out[col] = values[col].to_numpy()
    arr = values.to_numpy()
    with np.errstate(invalid="ignore"):
        out["_body_top"] = np.fmax(values["open"].to_numpy(), values["close"].to_numpy())
        out["_body_bottom"] = np.fmin(values["open"].to_numpy(), values["close"].to_numpy())
        out["_min_price"] = np.nanmin(np.where(np.isnan(arr[:, :4]), np.inf, arr[:, :4]), axis=1)
    # inf would sail through range checks on other columns and break rolling statistics downstream;
    # naming the offending fields makes the failure actionable.
    inf_mask = np.isinf(arr)
    nonfinite = np.full(len(df), None, dtype=object)
    for i in np.flatnonzero(inf_mask.any(axis=1)):
        nonfinite[i] = ",".join(f"{c}={arr[i, j]}" for j, c in enumerate(VALUE_COLUMNS) if inf_mask[i, j])
    out["_nonfinite"] = pd.Series(nonfinite, dtype=object)
    out.loc[np.isinf(out["_min_price"]), "_min_price"] = np.nan
    step = ts.diff().dt.total_seconds().to_numpy() if len(df) else np.array([], dtype=float)
    out["_step_seconds"] = step
    out["_missing_share"] = fit.missing_before / fit.expected if fit.expected else np.zeros(len(df))
    closed = np.full(len(df), None, dtype=object)
    for i in np.flatnonzero(fit.closed_rows):
        closed[i] = named(pd.DatetimeIndex([ts.iloc[i]]).tz_convert("UTC"))[0]
    out["_off_calendar"] = pd.Series(closed, dtype=object)
    out["_return_z"] = _robust_return_z(values["close"])
    return out


def _robust_return_z(close: pd.Series) -> np.ndarray:
    """|log return - median| in robust standard deviations (1.4826 x the median absolute deviation):
    an outlier is judged against the series' own volatility at its own timeframe."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ret = np.log(close / close.shift(1)).to_numpy(copy=True)
    # A zero or negative close makes the return meaningless; "prices are positive" reports it.
    log_ret[~np.isfinite(log_ret)] = np.nan
    finite = log_ret[np.isfinite(log_ret)]
    if len(finite) < 2:
        return np.full(len(close), np.nan)
    center = float(np.median(finite))
    scale = 1.4826 * float(np.median(np.abs(finite - center)))
    if not scale > 0:
        return np.full(len(close), np.nan)
    return np.abs(log_ret - center) / scale


# --- the reusable context --------------------------------------------------------------------------

class _Gate:
    """One ephemeral GX context and its validation definitions, keyed by thresholds."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self._gx = gx
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        source = self.context.data_sources.add_pandas("alphaplus_candles")
        asset = source.add_dataframe_asset("candles")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")
        self._definitions: dict[tuple, tuple[Any, dict[str, str]]] = {}
        # GX contexts are not documented as thread-safe; Prefect runs tasks in threads.
        self.lock = threading.Lock()

    def definition(self, *key: Any) -> tuple[Any, dict[str, str]]:
        if key not in self._definitions:
            gx = self._gx
            name = f"candles_{len(self._definitions)}"
            suite = self.context.suites.add(gx.ExpectationSuite(name=name))
            names: dict[str, str] = {}
            for readable, expectation in _expectations(*key):
                added = suite.add_expectation(expectation)
                names[str(added.id)] = readable
            definition = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=self.batch_definition, suite=suite)
            )
            self._definitions[key] = (definition, names)
        return self._definitions[key]


_gate: _Gate | None = None
_gate_lock = threading.Lock()


def _get_gate() -> _Gate:
    global _gate
    with _gate_lock:
        if _gate is None:
            _gate = _Gate()
        return _gate


# --- the public entry point ------------------------------------------------------------------------

def validate_candles(
    df: pd.DataFrame,
    *,
    min_rows: int = 500,
    max_missing_bar_share: float = 0.001,
    max_return_z: float = 50.0,
    calendar: str = DEFAULT_CALENDAR,
    timeframe: str | None = None,
    symbol: str | None = None,
    rows_need: str = "",
) -> QualityReport:
    """Run the candle quality suite on ``df`` (canonical columns, as read, unsorted allowed).

    Bars are expected at every open period of ``calendar`` at ``timeframe`` (default: the series'
    most common step); ``rows_need`` says why ``min_rows`` are needed (shown with that expectation).
    """
    missing = [c for c in CANDLE_COLUMNS if c not in df.columns]
    if missing:
        raise CandleFormatError(f"candle frame is missing column(s) {', '.join(missing)}")
    if not pd.api.types.is_datetime64_any_dtype(df["ts"].dtype):
        raise CandleFormatError(f"candle frame column ts must hold datetimes, not {df['ts'].dtype}")
    for col in VALUE_COLUMNS:
        if not pd.api.types.is_numeric_dtype(df[col].dtype) or pd.api.types.is_bool_dtype(df[col].dtype):
            raise CandleFormatError(f"candle frame column {col} must be numeric, not {df[col].dtype}")
    bar, label = _bar_length(df["ts"], timeframe)
    fit = fit_calendar(df["ts"], calendar, bar)
    frame = _helper_frame(df, fit)
    key = (int(min_rows), float(max_missing_bar_share), float(max_return_z), calendar, label, rows_need)
    gate = _get_gate()
    with gate.lock:
        definition, names = gate.definition(*key)
        run = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    hint = fix_hint(symbol, fit, df["ts"], max_missing_bar_share) if (len(fit.missing) or len(fit.off_calendar)) else ""
    results = tuple(_calendar_result(to_result(r, names), fit, hint) for r in run.results)
    order = {name: i for i, name in enumerate(names.values())}
    results = tuple(sorted(results, key=lambda r: order.get(r.name, len(order))))
    return QualityReport(
        success=bool(run.success),
        results=results,
        row_count=len(df),
        thresholds={
            "min_rows": int(min_rows),
            "max_missing_bar_share": float(max_missing_bar_share),
            "max_return_z": float(max_return_z),
            "calendar": calendar,
            "timeframe": label,
        },
    )


def _bar_length(ts: pd.Series, timeframe: str | None) -> tuple[pd.Timedelta, str]:
    """The bar length the calendar check uses, and how the report calls it."""
    from alphaplus.market.spacing import describe_step, typical_step

    if timeframe is not None:
        return pd.Timedelta(timeframe_to_timedelta(timeframe)), timeframe
    step = typical_step(ts.dropna()) if len(ts) > 1 else None
    step = step if step is not None else pd.Timedelta(hours=1)
    return step, describe_step(step)


def _calendar_result(result: ExpectationResult, fit, hint: str) -> ExpectationResult:
    """Calendar expectations report bars, not helper values: how many are missing (or off), which, and
    how to fix the calendar."""
    if result.success:
        return result
    if result.expectation_type == "expect_column_sum_to_be_between":
        examples = (f"{fit.expected} bars expected, {len(fit.missing)} missing "
                    f"({fit.missing_share:.2%})", *(f"missing {t}" for t in named(fit.missing)))
        return ExpectationResult(result.name, False, len(fit.missing), examples, result.expectation_type, hint)
    if result.name.startswith("bars open only while"):
        return ExpectationResult(result.name, False, result.unexpected_count,
                                 tuple(f"bar at {t}" for t in named(fit.off_calendar)), result.expectation_type, hint)
    return result
