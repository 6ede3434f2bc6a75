"""What the candle quality gate reports: one result per expectation, in words, with a few examples of
what failed (rows and values as a person reads them), and the report of a whole frame."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class ExpectationResult:
    """The outcome of one expectation: its readable name, success, how many rows broke it, examples."""

    name: str
    success: bool
    unexpected_count: int
    examples: tuple[str, ...] = ()
    expectation_type: str = ""
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "name": self.name,
            "success": self.success,
            "unexpected_count": self.unexpected_count,
            "examples": list(self.examples),
            "expectation_type": self.expectation_type,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class QualityReport:
    """Whether a candle frame passed the gate, and why not."""

    success: bool
    results: tuple[ExpectationResult, ...]
    row_count: int
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def failures(self) -> tuple[ExpectationResult, ...]:
        """The expectations that failed, in suite order."""
        return tuple(r for r in self.results if not r.success)

    @property
    def failed_names(self) -> tuple[str, ...]:
        """Names of the failed expectations."""
        return tuple(r.name for r in self.failures)

    @property
    def hints(self) -> tuple[str, ...]:
        """How to fix the failures that know how (each once)."""
        return tuple(dict.fromkeys(r.hint for r in self.failures if r.hint))

    def reason(self) -> str:
        """One line: what failed and, when known, how to fix it."""
        return "; ".join((f"data quality: {', '.join(self.failed_names)}", *self.hints))

    def summary(self) -> str:
        """Readable multi-line text: the verdict, then one line per failing expectation with examples."""
        passed = sum(r.success for r in self.results)
        head = (
            f"data quality {'PASSED' if self.success else 'FAILED'}: "
            f"{passed}/{len(self.results)} expectations met on {self.row_count} rows"
        )
        lines = [head]
        for r in self.failures:
            line = f"  FAILED {r.name}: {r.unexpected_count} unexpected"
            if r.examples:
                line += f" (e.g. {'; '.join(r.examples)})"
            lines.append(line)
            if r.hint:
                lines.append(f"    fix: {r.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, for run records and the database."""
        return {
            "success": self.success,
            "row_count": self.row_count,
            "thresholds": dict(self.thresholds),
            "failed": list(self.failed_names),
            "results": [r.to_dict() for r in self.results],
        }


# --- the suite -------------------------------------------------------------------------------------


def to_result(r: Any, names: dict[str, str]) -> ExpectationResult:
    config = r.expectation_config
    name = names.get(str(config.id), config.type)
    info = r.result or {}
    exception = (r.exception_info or {}) if hasattr(r, "exception_info") else {}
    if exception.get("raised_exception"):
        message = str(exception.get("exception_message", "error")).splitlines()[0][:200]
        return ExpectationResult(name, False, 0, (f"could not be evaluated: {message}",), config.type)
    count = info.get("unexpected_count")
    examples: list[str] = []
    if count is None:
        # Table-level expectations (row count) report an observed value instead of unexpected rows.
        count = 0 if r.success else 1
        if "observed_value" in info:
            examples.append(f"observed {_plain(info['observed_value'])}")
    else:
        values = info.get("partial_unexpected_list") or []
        rows = info.get("partial_unexpected_index_list") or []
        kwargs = dict(config.kwargs)
        for i, value in enumerate(values[:MAX_EXAMPLES]):
            row = f"row {rows[i]}: " if i < len(rows) else ""
            examples.append(f"{row}{_example(value, kwargs)}")
    return ExpectationResult(name, bool(r.success), int(count), tuple(examples), config.type)


# How example values of helper columns read in a report.
_HELPER_LABELS = {"_body_top": "max(open, close)", "_body_bottom": "min(open, close)"}


def _example(value: Any, kwargs: dict[str, Any]) -> str:
    column = kwargs.get("column")
    if column == "_step_seconds" and isinstance(value, (int, float, np.number)) and math.isfinite(value):
        step = float(value)
        if step == 0:
            return "same ts as the previous bar"
        return f"ts {pd.Timedelta(seconds=abs(step))} {'before' if step < 0 else 'after'} the previous bar"
    if column == "_return_z":
        return f"{_plain(value)} robust standard deviations"
    if "column_A" in kwargs and isinstance(value, (list, tuple)) and len(value) == 2:
        a = _HELPER_LABELS.get(kwargs["column_A"], kwargs["column_A"])
        b = _HELPER_LABELS.get(kwargs["column_B"], kwargs["column_B"])
        return f"{a}={_plain(value[0])}, {b}={_plain(value[1])}"
    return _plain(value)


def _plain(value: Any) -> str:
    """A short readable string for an example value (numbers rounded, timestamps ISO)."""
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_plain(v) for v in value) + ")"
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return "NaN" if math.isnan(f) else f"{f:.6g}"
    if isinstance(value, (np.integer,)):
        return str(int(value))
    if value is None:
        return "null"
    return str(value)
