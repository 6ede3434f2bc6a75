"""What the dashboard's pages show, built from query rows: slot cells and badges, serving stretches,
chart points, metrics by set, pooled live quality, cursors. Pure: no database, no web framework."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Sequence

from alphaplus.monitoring.report import TimelineEntry, moves_from_rows, timeline
from alphaplus.registry.metric_sets import SET_DESCRIPTIONS, metric_sets  # noqa: F401 - the card's tables
from alphaplus.ui import links
from alphaplus.ui.charts import ChartMarker, ChartPoint, LineageNode, ServingSpan

# An assessment status (or trigger) the rollback policy may raise when the market, not the model,
# changed; the overview flags the slot.
MARKET_SHIFT = "market_shift"


@dataclass(frozen=True)
class Badge:
    """A flag on a slot or version: ``kind`` is its CSS class, ``title`` says why."""

    kind: str
    text: str
    title: str


@dataclass(frozen=True)
class SlotCell:
    """One slot of the overview grid."""

    model_name: str
    regime: str
    symbol: str
    production_version: int | None
    production_since: datetime | None
    age: str
    status: str | None
    assessed_at: datetime | None
    accuracy: float | None
    skill: float | None
    window_n: int | None
    window_ts: datetime | None
    accuracy_series: tuple[float | None, ...]
    badges: tuple[Badge, ...]


@dataclass
class ModelGrid:
    """A model's slots as a regime x symbol grid."""

    model_name: str
    regimes: list[str] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str], SlotCell] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """Where a paginated list stands: links to the newer and older rows (None: nothing there)."""

    newer: str | None
    older: str | None


# --- formatting ---------------------------------------------------------------------------------


def age(since: datetime | None, now: datetime) -> str:
    """How long ago, in the two largest units: '3 d 4 h', '2 h 5 min', '40 s'."""
    if since is None:
        return "–"
    seconds = max(0, int((now - since).total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def when(value: datetime | None) -> str:
    return "–" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def number(value: Any, digits: int = 3, *, signed: bool = False) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def reproduce_command(model_name: str, version: int) -> str:
    """The command line that retrains a version from its lineage, quoted for a POSIX shell."""
    return shlex.join(["alphaplus", "versions", "reproduce", model_name, str(version)])


# --- quality ------------------------------------------------------------------------------------


def skill_from_counts(n_correct: int | None, n_up: int | None, n_down: int | None) -> float | None:
    """Accuracy above the majority class of the same outcomes: what beats a constant prediction."""
    if n_correct is None or n_up is None or n_down is None or n_up + n_down == 0:
        return None
    return (n_correct - max(n_up, n_down)) / (n_up + n_down)


def pooled_quality(section: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Accuracy, skill, error rate and max PSI of pooled windows (db/dashboard.py's _POOLED); None
    when there are no windows."""
    if not section or not section.get("windows"):
        return None
    n, correct = section.get("n_samples") or 0, section.get("n_correct")
    inferences = section.get("inferences") or 0
    return {
        "windows": section["windows"],
        "first_window": section.get("first_window"),
        "last_window": section.get("last_window"),
        "n": n,
        "accuracy": correct / n if n and correct is not None else None,
        "skill": skill_from_counts(correct, section.get("n_up"), section.get("n_down")),
        "error_rate": (section.get("errors") or 0) / inferences if inferences else None,
        "max_psi": section.get("max_psi"),
    }


# --- overview -----------------------------------------------------------------------------------


def is_market_shift(status: str | None, triggers: Iterable[str] | None) -> bool:
    return status == MARKET_SHIFT or MARKET_SHIFT in (triggers or ())


def slot_badges(row: Mapping[str, Any]) -> tuple[Badge, ...]:
    """Quarantine, canary, rollback in the last 24 h, market shift."""
    badges = []
    if row.get("quarantine_reason"):
        badges.append(Badge("quarantine", "quarantined", row["quarantine_reason"]))
    for version in row.get("canaries") or ():
        badges.append(Badge("canary", f"canary v{version}", f"version {version} is in canary"))
    if row.get("rollbacks_24h"):
        n = row["rollbacks_24h"]
        badges.append(Badge("rollback", "rolled back" if n == 1 else f"{n} rollbacks",
                            f"{n} rollback(s) in the last 24 h, the latest at {when(row.get('last_rollback_at'))} UTC"))
    if is_market_shift(row.get("last_status"), row.get("triggers")):
        badges.append(Badge("market-shift", "market shift",
                            "the latest assessment found that the market, not the model, changed"))
    return tuple(badges)


def _last(values: Sequence[Any] | None) -> Any:
    return values[-1] if values else None


def slot_cell(row: Mapping[str, Any], now: datetime) -> SlotCell:
    return SlotCell(
        model_name=row["model_name"], regime=row["regime"], symbol=row["symbol"],
        production_version=row["production_version"], production_since=row["production_since"],
        age=age(row["production_since"], now), status=row["last_status"], assessed_at=row["last_assessed_at"],
        accuracy=_last(row["accuracy"]), skill=row["skill"], window_n=row["window_n"], window_ts=row["window_ts"],
        accuracy_series=tuple(row["accuracy"] or ()), badges=slot_badges(row),
    )


def model_grids(rows: Iterable[Mapping[str, Any]], now: datetime) -> list[ModelGrid]:
    """The overview's rows (ordered by model, regime, symbol) as one grid per model."""
    grids: dict[str, ModelGrid] = {}
    for row in rows:
        grid = grids.setdefault(row["model_name"], ModelGrid(row["model_name"]))
        if row["regime"] not in grid.regimes:
            grid.regimes.append(row["regime"])
        if row["symbol"] not in grid.symbols:
            grid.symbols.append(row["symbol"])
        grid.cells[(row["regime"], row["symbol"])] = slot_cell(row, now)
    for grid in grids.values():
        grid.symbols.sort()
    return list(grids.values())


# --- slot ---------------------------------------------------------------------------------------


def serving_rows(moves_newest_first: Sequence[Mapping[str, Any]]) -> list[TimelineEntry]:
    """Who served when, newest first (the slot query reads the newest moves first)."""
    return timeline(moves_from_rows(reversed(moves_newest_first)))[::-1]


def serving_spans(rows: Sequence[TimelineEntry], now: datetime,
                  href: Callable[[int], str]) -> list[ServingSpan]:
    """The timeline bar's segments, oldest first (a stretch still open ends now)."""
    spans = []
    for r in reversed(rows):
        end = r.end or now
        label = "nothing" if r.version is None else f"v{r.version}"
        text = f"{label} served {when(r.start)} – {when(r.end) if r.end else 'now'} ({r.kind} by {r.actor}" \
               + (f": {r.reason}" if r.reason else "") + ")"
        spans.append(ServingSpan(r.version, r.start, end, r.kind, text,
                                 None if r.version is None else href(r.version)))
    return spans


def chart_points(rows: Iterable[Mapping[str, Any]]) -> list[ChartPoint]:
    return [ChartPoint(r["ts"], r["version"], r["n_samples"],
                       {k: r[k] for k in ("accuracy", "skill", "error_rate", "max_psi")}) for r in rows]


def chart_markers(rows: Sequence[TimelineEntry]) -> list[ChartMarker]:
    markers = []
    for r in rows:
        to = "nothing" if r.version is None else f"v{r.version}"
        markers.append(ChartMarker(r.start, r.kind, f"{r.kind} to {to} at {when(r.start)} UTC by {r.actor}"
                                   + (f": {r.reason}" if r.reason else "")))
    return markers


# --- version ------------------------------------------------------------------------------------


def lineage_nodes(model_name: str, page: Mapping[str, Any]) -> tuple[list[LineageNode], LineageNode, list[LineageNode]]:
    """(ancestors nearest first, the version, its children) of a version page's rows; a parent or
    child may belong to another model."""
    def node(row: Mapping[str, Any], **kw: Any) -> LineageNode:
        model = row.get("model_name", model_name)
        return LineageNode(row["version"], row["status"], links.version_path(model, row["version"]),
                           other_model=None if model == model_name else model, **kw)

    ancestors = [node(a, quarantined=a["quarantine_reason"] is not None) for a in page["ancestors"]]
    this = node(page, quarantined=page["quarantine_reason"] is not None, current=True)
    return ancestors, this, [node(c) for c in page["children"]]


# --- paginated lists ----------------------------------------------------------------------------


def cursor_text(row: Mapping[str, Any]) -> str:
    """A row's position as it appears in a URL: ISO time, '_', id."""
    return f"{row['ts'].isoformat()}_{row['id']}"


def parse_cursor(text: str) -> tuple[datetime, int]:
    """(time, id) from ``cursor_text``; ValueError when it is not one."""
    stamp, sep, ident = text.rpartition("_")
    if not sep:
        raise ValueError(f"not a list position: {text[:60]!r}")
    ts = datetime.fromisoformat(stamp)
    if ts.tzinfo is None:
        raise ValueError("a list position needs a time zone")
    return ts, int(ident)
