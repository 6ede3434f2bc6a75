"""Server-rendered SVG charts of the dashboard: sparklines, the performance panels of a slot, the
serving timeline and the lineage graph.

Pure: values in, markup out. Every text that reaches the markup is escaped; colours come from CSS
classes (``v0``..``v7`` per version, ``promotion``/``rollback`` per move), so the page's stylesheet
themes the charts and the Content-Security-Policy needs no inline style.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable, Mapping, Sequence

from markupsafe import Markup, escape

PALETTE_SIZE = 8
# Windows up to which every point of the performance chart gets a dot with its own tooltip.
MAX_DOTS = 150
PANELS: tuple[tuple[str, str], ...] = (
    ("accuracy", "accuracy"),
    ("skill", "skill (accuracy above the window's majority class)"),
    ("error_rate", "error rate"),
    ("max_psi", "max PSI (input drift)"),
)


def version_class(version: int | None) -> str:
    """The colour class of a version, the same in every chart and legend."""
    return "vnone" if version is None else f"v{version % PALETTE_SIZE}"


def _n(x: float) -> str:
    return f"{x:.1f}"


def _svg(width: float, height: float, css: str, label: str, body: Iterable[str]) -> Markup:
    return Markup(
        f'<svg class="{css}" viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body) + "</svg>"
    )


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>"


@dataclass(frozen=True)
class _Scale:
    """Linear map of a value range onto a pixel range (flipped for y: larger values drawn higher)."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low
        fraction = 0.5 if span == 0 else (value - self.low) / span
        return self.start + fraction * (self.end - self.start)


def _padded(values: Sequence[float], extra: Sequence[float] = ()) -> tuple[float, float]:
    everything = [*values, *extra]
    low, high = min(everything), max(everything)
    pad = (high - low) * 0.08 or max(abs(high) * 0.05, 0.01)
    return low - pad, high + pad


def _runs(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Consecutive points with a value; a missing value breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]


def _polyline(css: str, points: Sequence[tuple[float, float]]) -> str:
    coords = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
    return f'<polyline class="{css}" points="{coords}" fill="none"/>'


# --- sparkline -----------------------------------------------------------------------------------


def sparkline(values: Sequence[float | None], *, label: str, width: int = 120, height: int = 28,
              baseline: float | None = None) -> Markup:
    """A small line of recent values (oldest first); the last value is dotted, ``baseline`` dashed."""
    known = [v for v in values if v is not None]
    if not known:
        return _svg(width, height, "spark empty", f"{label}: no live windows yet",
                    [f'<text class="spark-empty" x="{_n(width / 2)}" y="{_n(height / 2 + 4)}" '
                     'text-anchor="middle">no live data</text>'])
    low, high = _padded(known, [] if baseline is None else [baseline])
    # Drawn for every slot of the overview: plain arithmetic rather than the chart scales.
    step = (width - 6) / max(len(values) - 1, 1)
    y_per = (height - 6) / (high - low)
    body = [_title(label)]
    if baseline is not None:
        yb = _n(height - 3 - (baseline - low) * y_per)
        body.append(f'<line class="spark-baseline" x1="0" x2="{width}" y1="{yb}" y2="{yb}"/>')
    runs: list[list[str]] = [[]]
    last = ""
    for i, v in enumerate(values):
        if v is None:
            runs.append([])
            continue
        last = f"{3 + i * step:.1f},{height - 3 - (v - low) * y_per:.1f}"
        runs[-1].append(last)
    body += [f'<polyline class="spark-line" points="{" ".join(r)}" fill="none"/>' for r in runs if r]
    cx, cy = last.split(",")
    body.append(f'<circle class="spark-dot" cx="{cx}" cy="{cy}" r="2.2"/>')
    return _svg(width, height, "spark", label, body)


# --- performance panels -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartPoint:
    """One live window of one version."""

    ts: datetime
    version: int
    n_samples: int
    values: Mapping[str, float | None]


@dataclass(frozen=True)
class ChartMarker:
    """A promotion, rollback or withdrawal drawn across every panel."""

    ts: datetime
    kind: str
    text: str


def _time_scale(times: Sequence[datetime], start: float, end: float) -> Callable[[datetime], float]:
    first, last = min(times), max(times)
    if last == first:
        first, last = first - timedelta(hours=1), last + timedelta(hours=1)
    scale = _Scale(first.timestamp(), last.timestamp(), start, end)
    return lambda t: scale(t.timestamp())


def _fmt_value(key: str, value: float) -> str:
    return f"{value:+.3f}" if key == "skill" else f"{value:.3f}"


def performance_chart(points: Sequence[ChartPoint], markers: Sequence[ChartMarker], *,
                      thresholds: Mapping[str, float] | None = None, width: int = 960,
                      panel_height: int = 110) -> Markup:
    """Accuracy, skill, error rate and max PSI over time, one line per version, moves as vertical
    lines; ``thresholds`` (rollback limits) dashed on their panels."""
    thresholds = dict(thresholds or {})
    if not points:
        return _svg(width, 60, "chart empty", "performance history: no live windows yet",
                    [f'<text class="chart-empty" x="{width / 2}" y="34" text-anchor="middle">'
                     "no live windows yet: predictions become history once their outcomes mature</text>"])
    left, right, gap, top = 64, 16, 34, 6
    times = [p.ts for p in points]
    first, last = min(times), max(times)
    # Moves after the newest window count too (a rollback that just happened is the news).
    in_range = [m for m in markers if m.ts >= first]
    x = _time_scale(times + [m.ts for m in in_range], left, width - right)
    # Each version's windows with their x, computed once for every panel.
    by_version: dict[int, list[tuple[float, ChartPoint]]] = {}
    for p in points:
        by_version.setdefault(p.version, []).append((x(p.ts), p))
    versions = sorted(by_version)
    # Hover dots with a tooltip per window while they stay readable (and the page small).
    dots = len(points) <= MAX_DOTS
    height = top + len(PANELS) * (panel_height + gap) + 8
    body: list[str] = []
    for i, (key, label) in enumerate(PANELS):
        y0 = top + i * (panel_height + gap) + 18
        body.append(f'<text class="panel-title" x="{left}" y="{_n(y0 - 6)}">{escape(label)}</text>')
        values = [p.values[key] for p in points if p.values.get(key) is not None]
        body.append(f'<rect class="panel" x="{left}" y="{_n(y0)}" width="{width - left - right}" '
                    f'height="{panel_height}"/>')
        if not values:
            body.append(f'<text class="chart-empty" x="{_n((left + width - right) / 2)}" '
                        f'y="{_n(y0 + panel_height / 2 + 4)}" text-anchor="middle">not measured</text>')
            continue
        extra = [thresholds[key]] if key in thresholds else []
        if key == "skill":
            extra.append(0.0)
        low, high = _padded(values, extra)
        y = _Scale(low, high, y0 + panel_height, y0)
        for v, anchor in ((high, y0 + 10), (low, y0 + panel_height - 2)):
            body.append(f'<text class="axis" x="{left - 6}" y="{_n(anchor)}" text-anchor="end">'
                        f"{escape(_fmt_value(key, v))}</text>")
        if key == "skill":
            body.append(f'<line class="zero" x1="{left}" x2="{width - right}" y1="{_n(y(0))}" y2="{_n(y(0))}"/>')
        if key in thresholds:
            t = thresholds[key]
            body.append(f'<line class="threshold" x1="{left}" x2="{width - right}" y1="{_n(y(t))}" '
                        f'y2="{_n(y(t))}">{_title(f"rollback threshold {t:g}")}</line>')
        short = label.split(" (")[0]
        for version in versions:
            own = by_version[version]
            css = version_class(version)
            for run in _runs([(px, None if p.values.get(key) is None else y(p.values[key])) for px, p in own]):
                body.append(_polyline(f"series {css}", run))
            if not dots:
                continue
            for px, p in own:
                value = p.values.get(key)
                if value is not None:
                    tip = f"v{version} · {p.ts:%Y-%m-%d %H:%M} UTC · {short} {_fmt_value(key, value)} (n={p.n_samples})"
                    body.append(f'<circle class="point {css}" cx="{_n(px)}" cy="{_n(y(value))}" r="2.5">'
                                f"{_title(tip)}</circle>")
        for m in in_range:
            body.append(f'<line class="marker {escape(m.kind)}" x1="{_n(x(m.ts))}" x2="{_n(x(m.ts))}" '
                        f'y1="{_n(y0)}" y2="{_n(y0 + panel_height)}">{_title(m.text)}</line>')
    last = max([last, *(m.ts for m in in_range)])
    for t, anchor in ((first, "start"), (last, "end")):
        body.append(f'<text class="axis" x="{_n(x(t))}" y="{height - 2}" text-anchor="{anchor}">'
                    f"{t:%Y-%m-%d %H:%M} UTC</text>")
    return _svg(width, height, "chart", f"live performance of {len(versions)} version(s), "
                f"{len(points)} windows, {len(in_range)} moves", body)


# --- serving timeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServingSpan:
    """A stretch during which ``version`` (None: nothing) served, with where its bar links to."""

    version: int | None
    start: datetime
    end: datetime
    kind: str
    text: str
    href: str | None


def timeline_chart(spans: Sequence[ServingSpan], *, width: int = 960, height: int = 46) -> Markup:
    """One bar across time, a segment per serving stretch, coloured by version, linked to it."""
    if not spans:
        return _svg(width, height, "timeline empty", "no version has served this slot yet",
                    [f'<text class="chart-empty" x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle">'
                     "no version has served this slot yet</text>"])
    left, right = 8, 8
    x = _time_scale([s.start for s in spans] + [s.end for s in spans], left, width - right)
    body = []
    for s in spans:
        x0, x1 = x(s.start), max(x(s.end), x(s.start) + 2)
        label = "none" if s.version is None else f"v{s.version}"
        segment = (f'<rect class="span {version_class(s.version)} {escape(s.kind)}" x="{_n(x0)}" y="6" '
                   f'width="{_n(x1 - x0)}" height="22">{_title(s.text)}</rect>')
        if x1 - x0 > 8 * len(label) + 6:
            segment += (f'<text class="span-label" x="{_n((x0 + x1) / 2)}" y="21" text-anchor="middle">'
                        f"{label}</text>")
        body.append(f'<a href="{escape(s.href)}">{segment}</a>' if s.href else segment)
    first, last = spans[0].start, spans[-1].end
    body.append(f'<text class="axis" x="{left}" y="{height - 3}">{first:%Y-%m-%d %H:%M}</text>')
    body.append(f'<text class="axis" x="{width - right}" y="{height - 3}" text-anchor="end">'
                f"{last:%Y-%m-%d %H:%M} UTC</text>")
    return _svg(width, height, "timeline", f"serving timeline: {len(spans)} stretches", body)


# --- lineage graph ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineageNode:
    """A version in the lineage graph."""

    version: int
    status: str
    href: str
    quarantined: bool = False
    current: bool = False
    other_model: str | None = None  # set when the version belongs to another model than the page's


def lineage_graph(ancestors: Sequence[LineageNode], node: LineageNode, children: Sequence[LineageNode],
                  *, root_reached: bool = True) -> Markup:
    """Root ancestor on the left, this version, then its children stacked on the right."""
    w, h, step = 96, 40, 132
    chain = [*reversed(ancestors), node]
    rows = max(1, len(children))
    height = max(h + 20, rows * (h + 12) + 8)
    width = step * len(chain) + (step if children else 0) + 16
    mid = height / 2
    body = []
    if not root_reached:
        body.append(f'<text class="axis" x="2" y="{_n(mid - h / 2 - 2)}">older ancestors not shown</text>')

    def box(n: LineageNode, x0: float, y0: float) -> str:
        css = "node" + (" current" if n.current else "") + (" quarantined" if n.quarantined else "")
        tip = (f"{n.other_model} " if n.other_model else "") + f"v{n.version} · {n.status}" \
            + (" · quarantined" if n.quarantined else "")
        second = n.status if n.other_model is None else (n.other_model[:13] + "…" if len(n.other_model) > 14
                                                         else n.other_model)
        return (f'<a href="{escape(n.href)}"><rect class="{css} {version_class(n.version)}" x="{_n(x0)}" '
                f'y="{_n(y0)}" width="{w}" height="{h}" rx="6">{_title(tip)}</rect>'
                f'<text class="node-label" x="{_n(x0 + w / 2)}" y="{_n(y0 + 17)}" text-anchor="middle">'
                f"v{n.version}</text>"
                f'<text class="node-status" x="{_n(x0 + w / 2)}" y="{_n(y0 + 32)}" text-anchor="middle">'
                f"{escape(second)}</text></a>")

    for i, n in enumerate(chain):
        x0 = 8 + i * step
        if i:
            body.append(f'<line class="edge" x1="{_n(x0 - step + w)}" y1="{_n(mid)}" x2="{_n(x0)}" y2="{_n(mid)}"/>')
        body.append(box(n, x0, mid - h / 2))
    if children:
        x_parent = 8 + (len(chain) - 1) * step + w
        x0 = 8 + len(chain) * step
        for j, child in enumerate(children):
            cy = (j + 0.5) * height / rows
            body.append(f'<line class="edge" x1="{_n(x_parent)}" y1="{_n(mid)}" x2="{_n(x0)}" y2="{_n(cy)}"/>')
            body.append(box(child, x0, cy - h / 2))
    return _svg(width, height, "lineage", f"lineage of v{node.version}: {len(ancestors)} ancestors, "
                f"{len(children)} children", body)
