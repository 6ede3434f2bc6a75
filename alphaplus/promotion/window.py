"""Gate windows by time: the rows a gate may score are those no compared model has seen.

A version has seen every bar up to the last close that entered one of its training or validation
labels (``seen_data_end``, recorded in the version metadata at registration): a row whose label
starts at or after that bar shares no return with what the model was fitted or early-stopped on.
Its time split also recorded ``holdout_start``, the first row after validation and the purge gap
(never earlier than ``seen_data_end``); the unseen window starts at the later of the two, so for a
fresh training it is exactly the holdout slice.  A version with neither falls back to the end of its
training frame (everything in it counted as seen), and with no end recorded at all nothing is scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class UnseenFrom:
    """Rows at or after ``ts`` are unseen by a version; ``source`` says how that was established."""

    version: int
    ts: pd.Timestamp | None
    source: str

    def describe(self) -> str:
        when = "unknown" if self.ts is None else f"{self.ts:%Y-%m-%d %H:%M}"
        return f"v{self.version}: unseen from {when} ({self.source})"


def unseen_from(version: Any, lineage: Any | None = None) -> UnseenFrom:
    """Where ``version``'s unseen data starts, from its metadata, else its lineage."""
    metadata = version.version_metadata or {}
    recorded = [(_utc(metadata[key]), source) for key, source in (
        ("seen_data_end", "its last training/validation label"), ("holdout_start", "its holdout start"),
    ) if metadata.get(key)]
    if recorded:
        ts, source = max(recorded, key=lambda r: r[0])
        return UnseenFrom(version.version, ts, source)
    end = getattr(lineage, "training_data_end", None)
    if end is not None:
        return UnseenFrom(version.version, _utc(end) + pd.Timedelta(1, "ns"), "the end of its training data")
    return UnseenFrom(version.version, None, "no data end recorded")


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def training_prior(version: Any) -> float | None:
    """Share of "up" labels in the version's training part, as recorded with its training metrics."""
    metrics = getattr(version, "training_metrics", None) or {}
    value = (metrics.get("train") or {}).get("class_balance")
    return float(value) if value is not None else None
