"""The slot report: live metrics per version over time, with promotions and rollbacks, as PNG or HTML.

Pure: it renders what it is given and never touches the database, so it is tested without one.
matplotlib is imported only when a picture is drawn (through its object API and the Agg canvas, so
no GUI backend and no pyplot global state are involved).
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from alphaplus.core.entities import Slot
from alphaplus.core.errors import InvalidInput

FORMATS = (".png", ".html")
# (column of model_performance_history, axis label), top to bottom.
PANELS: tuple[tuple[str, str], ...] = (
    ("accuracy", "accuracy"),
    ("f1", "F1"),
    ("error_rate", "error rate"),
    ("max_psi", "max PSI (drift)"),
)
MOVE_COLOURS = {"promotion": "tab:green", "rollback": "tab:red", "withdrawal": "tab:gray"}
EMPTY_MESSAGE = "no live history yet"


@dataclass(frozen=True)
class PerformancePoint:
    """One live window of one version."""

    ts: datetime
    version: int
    n_samples: int
    accuracy: float | None
    f1: float | None
    error_rate: float | None
    max_psi: float | None


@dataclass(frozen=True)
class SlotMove:
    """One move of a slot's production pointer, classified by what it was."""

    ts: datetime
    from_version: int | None
    to_version: int | None
    kind: str
    actor: str
    on_behalf_of: str | None
    reason: str
    flow_run_id: str | None = None


@dataclass(frozen=True)
class TimelineEntry:
    """A stretch during which one version (None: nothing) served the slot."""

    version: int | None
    start: datetime
    end: datetime | None
    kind: str
    actor: str
    on_behalf_of: str | None
    reason: str
    flow_run_id: str | None = None


@dataclass(frozen=True)
class SlotReport:
    """Everything a report shows; ``thresholds`` draws rollback limits on the panels that have one."""

    slot: Slot
    points: tuple[PerformancePoint, ...]
    moves: tuple[SlotMove, ...]
    generated_at: datetime
    thresholds: Mapping[str, float] = field(default_factory=dict)


def move_kind(to_version: int | None, metadata: Mapping[str, Any] | None) -> str:
    """Promotion, rollback (the rollback service tags its moves) or withdrawal (pointer removed)."""
    if to_version is None:
        return "withdrawal"
    if metadata and metadata.get("rollback_type"):
        return "rollback"
    return "promotion"


def moves_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[SlotMove, ...]:
    """SlotMoves from production_moved audit rows (oldest first)."""
    return tuple(
        SlotMove(r["ts"], r["from_version"], r["to_version"], move_kind(r["to_version"], r.get("metadata")),
                 r["actor"], r.get("on_behalf_of") or None, r.get("reason") or "", r.get("flow_run_id"))
        for r in rows
    )


def points_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[PerformancePoint, ...]:
    """PerformancePoints from model_performance_history rows."""
    return tuple(
        PerformancePoint(r["ts"], r["version"], r["n_samples"], r["accuracy"], r["f1"], r["error_rate"], r["max_psi"])
        for r in rows
    )


def timeline(moves: Sequence[SlotMove]) -> list[TimelineEntry]:
    """Who served when: each move opens a stretch that the next move closes."""
    return [
        TimelineEntry(m.to_version, m.ts, moves[i + 1].ts if i + 1 < len(moves) else None, m.kind, m.actor,
                      m.on_behalf_of, m.reason, m.flow_run_id)
        for i, m in enumerate(moves)
    ]


def report_format(path: str | Path) -> str:
    """``png`` or ``html`` from the file name; anything else is refused before any work is done."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(f"report file {path} must end in .png or .html")
    parent = Path(path).parent
    if not parent.is_dir():
        raise InvalidInput(f"cannot write the report: directory {parent} does not exist")
    return suffix[1:]


def render_png(report: SlotReport) -> bytes:
    """The plot as PNG bytes: one panel per metric, one line per version, moves as vertical lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(11, 10), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(PANELS), 1, sharex=True)
    versions = sorted({p.version for p in report.points})
    colours = {v: f"C{i % 10}" for i, v in enumerate(versions)}
    for ax, (column, label) in zip(axes, PANELS):
        for v in versions:
            pts = [(p.ts, getattr(p, column)) for p in report.points
                   if p.version == v and getattr(p, column) is not None]
            if pts:
                ax.plot([t for t, _ in pts], [y for _, y in pts], marker="o", markersize=3, linewidth=1.2,
                        color=colours[v], label=f"v{v}")
        limit = report.thresholds.get(column)
        if limit is not None:
            ax.axhline(limit, color="black", linestyle=":", linewidth=1)
        for m in report.moves:
            ax.axvline(m.ts, color=MOVE_COLOURS.get(m.kind, "black"), linestyle="--", linewidth=1)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    top = axes[0]
    for m in report.moves:
        label = f"v{m.to_version}" if m.to_version is not None else "none"
        top.annotate(f"{m.kind} → {label}", xy=(m.ts, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                     fontsize=7, va="top", ha="right", color=MOVE_COLOURS.get(m.kind, "black"))
    handles = [Line2D([], [], color=colours[v], marker="o", label=f"v{v}") for v in versions]
    handles += [Line2D([], [], color=c, linestyle="--", label=k) for k, c in MOVE_COLOURS.items()
                if any(m.kind == k for m in report.moves)]
    if handles:
        top.legend(handles=handles, loc="upper left", fontsize=8, ncols=min(len(handles), 6))
    if not report.points:
        fig.text(0.5, 0.5, EMPTY_MESSAGE, ha="center", va="center", fontsize=18, color="dimgray")
    fig.suptitle(f"{report.slot}: live metrics per version")
    if report.points or report.moves:
        fig.autofmt_xdate()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return str(value)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def version_summary(points: Sequence[PerformancePoint]) -> list[dict[str, Any]]:
    """Per version: windows, outcomes, sample-weighted accuracy and F1, mean error rate, worst PSI."""
    out = []
    for v in sorted({p.version for p in points}):
        pts = [p for p in points if p.version == v]

        def weighted(column: str) -> float | None:
            pairs = [(getattr(p, column), p.n_samples) for p in pts if getattr(p, column) is not None]
            total = sum(n for _, n in pairs)
            return sum(x * n for x, n in pairs) / total if total else None

        errors = [p.error_rate for p in pts if p.error_rate is not None]
        psi = [p.max_psi for p in pts if p.max_psi is not None]
        out.append({"version": v, "windows": len(pts), "outcomes": sum(p.n_samples for p in pts),
                    "accuracy": weighted("accuracy"), "f1": weighted("f1"),
                    "error_rate": sum(errors) / len(errors) if errors else None,
                    "max_psi": max(psi) if psi else None})
    return out


def render_html(report: SlotReport, png: bytes | None = None) -> str:
    """A self-contained page: the plot embedded as base64, the serving timeline, a per-version summary."""
    image = base64.b64encode(png if png is not None else render_png(report)).decode("ascii")
    title = html.escape(f"AlphaPlus report {report.slot}")
    periods = _table(
        ("version", "from", "to", "change", "by", "on behalf of", "reason"),
        (("none" if e.version is None else e.version, e.start, e.end or "now", e.kind, e.actor, e.on_behalf_of,
          e.reason) for e in timeline(report.moves)),
    ) if report.moves else "<p>no production version yet</p>"
    summary = _table(
        ("version", "windows", "outcomes", "accuracy", "F1", "error rate", "max PSI"),
        ((s["version"], s["windows"], s["outcomes"], s["accuracy"], s["f1"], s["error_rate"], s["max_psi"])
         for s in version_summary(report.points)),
    ) if report.points else f"<p>{EMPTY_MESSAGE}</p>"
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
        "img{max-width:100%}</style></head><body>"
        f"<h1>{title}</h1><p>generated {html.escape(_cell(report.generated_at))}</p>"
        f"<img alt=\"live metrics per version\" src=\"data:image/png;base64,{image}\">"
        f"<h2>Who served when</h2>{periods}<h2>Live windows per version</h2>{summary}"
        "</body></html>\n"
    )


def write_report(report: SlotReport, path: str | Path) -> Path:
    """Render to ``path`` (PNG or HTML by its suffix); returns the path."""
    path = Path(path)
    png = render_png(report)
    if report_format(path) == "png":
        path.write_bytes(png)
    else:
        path.write_text(render_html(report, png), encoding="utf-8")
    return path
