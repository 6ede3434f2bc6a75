"""Row checks a candle frame must pass before it is written: the candles table's constraints, in Python.

The database refuses the same rows (CHECK constraints and the primary key), but only after the
upload, and with a message that names a constraint rather than a row. Checking first lets an import
say which row and column are wrong, and leaves the database untouched.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaplus.market.frame import VALUE_COLUMNS, CandleFormatError


def _problems(frame: pd.DataFrame) -> list[tuple[np.ndarray, str, str]]:
    """(bad-row mask, column, what is wrong) per check, in the order a person would fix them."""
    low, high = frame["low"].to_numpy(), frame["high"].to_numpy()
    checks: list[tuple[np.ndarray, str, str]] = [
        (frame["ts"].isna().to_numpy(), "ts", "has no timestamp"),
        (frame["ts"].duplicated(keep="first").to_numpy(), "ts", "repeats the timestamp of an earlier row"),
    ]
    for name in VALUE_COLUMNS:
        checks.append((~np.isfinite(frame[name].to_numpy()), name, "is missing or not finite"))
    # NaN compares False, so rows already reported as non-finite do not show up again below.
    checks += [
        (low <= 0, "low", "is not a positive price"),
        (high < low, "high", "is below low"),
        ((frame["open"].to_numpy() < low) | (frame["open"].to_numpy() > high), "open", "is outside [low, high]"),
        ((frame["close"].to_numpy() < low) | (frame["close"].to_numpy() > high), "close", "is outside [low, high]"),
        (frame["volume"].to_numpy() < 0, "volume", "is negative"),
    ]
    return checks


def check_storable(frame: pd.DataFrame, *, source: str = "candles") -> None:
    """Raise CandleFormatError naming the first insane row (1 = first data row) and its column."""
    first: tuple[int, str, str] | None = None
    bad_rows = np.zeros(len(frame), dtype=bool)
    for mask, column, problem in _problems(frame):
        if not mask.any():
            continue
        bad_rows |= mask
        row = int(np.flatnonzero(mask)[0])
        if first is None or row < first[0]:
            first = (row, column, problem)
    if first is None:
        return
    row, column, problem = first
    value = frame[column].iloc[row]
    shown = "empty" if pd.isna(value) else repr(value.isoformat() if column == "ts" else float(value))
    others = int(bad_rows.sum()) - 1
    tail = f"; {others} more row(s) are wrong too" if others else ""
    raise CandleFormatError(f"{source}: row {row + 1}, column {column}: {shown} {problem}{tail}")
