"""The replay report as one self-contained HTML page with inline SVG charts (pure; no scripts, no CDN)."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any, Mapping, Sequence

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
BASELINE_COLORS = {"never_retrain": "#7f7f7f", "always_newest": "#ff7f0e", "no_skill": "#000000"}
DECISION_MARKS = {"promote": ("#2ca02c", "promoted"), "rollback": ("#d62728", "rolled back"),
                  "no_safe_candidate": ("#ff7f0e", "loss of edge, nothing to roll back to"),
                  "market_shift": ("#9467bd", "market shift: rollback withheld")}
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.muted{color:#777}.legend span{margin-right:14px}
.reason{max-width:620px;text-align:left;font-size:12px}
"""


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _num(x: float | None, fmt: str = "{:+.3f}") -> str:
    return "–" if x is None else fmt.format(x)


def _color(series: str, names: Sequence[str]) -> str:
    if series in BASELINE_COLORS:
        return BASELINE_COLORS[series]
    return COLORS[names.index(series) % len(COLORS)] if series in names else "#444"


def _time_x(start: datetime, end: datetime, x0: float, x1: float):
    span = max((end - start).total_seconds(), 1.0)
    return lambda t: x0 + (x1 - x0) * min(max((t - start).total_seconds() / span, 0.0), 1.0)


def timeline_svg(slot: Mapping[str, Any], start: datetime, end: datetime, width: int = 1000) -> str:
    """One row per policy: which version served when; markers at every promotion and rollback."""
    policies = list(slot["timeline"])
    row, left = 26, 150
    height = 24 + row * len(policies)
    x = _time_x(start, end, left, width - 10)
    parts = [f'<text x="{left}" y="14" font-size="11" fill="#777">{start:%Y-%m-%d}</text>',
             f'<text x="{width - 10}" y="14" font-size="11" fill="#777" text-anchor="end">{end:%Y-%m-%d}</text>']
    for i, policy in enumerate(policies):
        y = 20 + i * row
        parts.append(f'<text x="4" y="{y + 15}" font-size="12">{escape(policy)}</text>')
        for span in slot["timeline"][policy]:
            a, b = x(datetime.fromisoformat(span["from"])), x(datetime.fromisoformat(span["to"]))
            v = span["version"]
            fill = "#eee" if v is None else COLORS[v % len(COLORS)]
            label = "no model" if v is None else f"v{v}"
            parts.append(f'<rect x="{a:.1f}" y="{y}" width="{max(b - a, 1.5):.1f}" height="20" fill="{fill}">'
                         f'<title>{label}: {span["from"]} to {span["to"]} ({span["bars"]} bars)</title></rect>')
            if v is not None and b - a > 22:
                parts.append(f'<text x="{(a + b) / 2:.1f}" y="{y + 14}" font-size="11" fill="#fff" '
                             f'text-anchor="middle">{label}</text>')
        for d in slot["decisions"]:
            if d["policy"] != policy or d["kind"] not in DECISION_MARKS:
                continue
            color, what = DECISION_MARKS[d["kind"]]
            cx = x(datetime.fromisoformat(d["at"]))
            parts.append(f'<path d="M{cx - 5:.1f},{y - 2} L{cx + 5:.1f},{y - 2} L{cx:.1f},{y + 6} Z" fill="{color}" '
                         f'stroke="#fff"><title>{escape(d["at"])} {what}: {escape("; ".join(d["reasons"])[:400])}</title></path>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="serving timeline">{"".join(parts)}</svg>')


def lines_svg(metrics: Mapping[str, Any], key: str, names: Sequence[str], *, cumulative: bool, title: str,
              width: int = 1000, height: int = 190) -> str:
    """A line per series over the periods: ``key`` per period (or its running sum)."""
    left, top, bottom = 60, 18, 28
    series: dict[str, list[float | None]] = {}
    for name, m in metrics.items():
        values, total = [], 0.0
        for p in m["periods"]:
            v = p.get(key)
            if cumulative:
                total += v or 0.0
                v = total
            values.append(v)
        series[name] = values
    flat = [v for vs in series.values() for v in vs if v is not None]
    if not flat:
        return f'<p class="muted">{escape(title)}: no outcomes yet</p>'
    lo, hi = min(flat + [0.0]), max(flat + [0.0])
    hi = hi if hi > lo else lo + 1.0
    n = max(len(vs) for vs in series.values())
    xs = [left + (width - left - 10) * (i + 0.5) / n for i in range(n)]

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - lo) / (hi - lo))

    parts = [f'<text x="4" y="12" font-size="12">{escape(title)}</text>',
             f'<line x1="{left}" x2="{width - 10}" y1="{y(0.0):.1f}" y2="{y(0.0):.1f}" stroke="#bbb"/>',
             f'<text x="{left - 4}" y="{y(hi) + 4:.1f}" font-size="10" text-anchor="end">{hi:.3g}</text>',
             f'<text x="{left - 4}" y="{y(lo) + 4:.1f}" font-size="10" text-anchor="end">{lo:.3g}</text>']
    for name, values in series.items():
        color = _color(name, names)
        points = " ".join(f"{xs[i]:.1f},{y(v):.1f}" for i, v in enumerate(values) if v is not None)
        dash = ' stroke-dasharray="4 3"' if name in BASELINE_COLORS else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"{dash}>'
                     f'<title>{escape(name)}</title></polyline>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">{"".join(parts)}</svg>')


def _legend(names: Sequence[str], all_series: Sequence[str]) -> str:
    items = [f'<span><b style="color:{_color(s, names)}">━━</b> {escape(s)}</span>' for s in all_series]
    return f'<p class="legend">{"".join(items)}</p>'


def _totals_table(metrics: Mapping[str, Any]) -> str:
    rows = "".join(
        f'<tr><td class="l">{escape(name)}</td><td>{m["total"]["answered"]}/{m["total"]["bars"]}</td>'
        f'<td>{_pct(m["total"]["hit_rate"])}</td><td>{_num(m["total"]["mcc"])}</td>'
        f'<td>{_num(m["total"]["net_return"], "{:+.2%}")}</td><td>{m["total"]["trades"]}</td></tr>'
        for name, m in metrics.items())
    return ('<table><tr><th class="l">series</th><th>answered / bars</th><th>hit rate</th><th>MCC</th>'
            f'<th>net return (after costs)</th><th>trades</th></tr>{rows}</table>')


def _decision_counts(report: Mapping[str, Any]) -> str:
    """Per policy, how many decisions of each kind it made over the replay."""
    kinds = ("promote", "reject", "needs_review", "unchanged", "rollback", "no_safe_candidate", "market_shift", "skipped",
             "failed")
    head = "".join(f"<th>{k.replace('_', ' ')}</th>" for k in kinds)
    rows = []
    for p in report["policies"]:
        made = [d["kind"] for d in report["decisions"] if d["policy"] == p["name"]]
        rows.append(f'<tr><td class="l">{escape(p["name"])}</td>' + "".join(f"<td>{made.count(k)}</td>" for k in kinds)
                    + "</tr>")
    return f'<table><tr><th class="l">policy</th>{head}</tr>{"".join(rows)}</table>'


def _periods_table(metrics: Mapping[str, Any]) -> str:
    names = list(metrics)
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    first = next(iter(metrics.values()))["periods"]
    rows = []
    for i, p in enumerate(first):
        cells = "".join(
            f'<td>{_pct(metrics[n]["periods"][i]["hit_rate"])} · {_num(metrics[n]["periods"][i]["mcc"], "{:+.2f}")}'
            f' · {_num(metrics[n]["periods"][i]["net_return"], "{:+.1%}")}</td>' for n in names)
        rows.append(f'<tr><td class="l">{p["start"][:10]} → {p["end"][:10]}</td><td>{p["bars"]}</td>{cells}</tr>')
    return (f'<table><tr><th class="l">period</th><th>bars</th>{head}</tr>{"".join(rows)}</table>'
            '<p class="muted">each cell: hit rate · MCC · net return after costs</p>')


def _decisions_table(decisions: Sequence[Mapping[str, Any]]) -> str:
    if not decisions:
        return '<p class="muted">no decisions</p>'
    rows = "".join(
        f'<tr><td class="l">{escape(d["at"][:16])}</td><td class="l">{escape(d["policy"])}</td>'
        f'<td class="l">{escape(d["kind"])}</td><td>{"" if d["version"] is None else "v" + str(d["version"])}</td>'
        f'<td>{"" if d["from_version"] is None else "v" + str(d["from_version"])} → '
        f'{"" if d["to_version"] is None else "v" + str(d["to_version"])}</td>'
        f'<td class="reason">{escape("; ".join(d["reasons"])[:600])}</td></tr>' for d in decisions)
    return ('<table><tr><th class="l">simulated time</th><th class="l">policy</th><th class="l">decision</th>'
            f'<th>version</th><th>production</th><th class="l">why</th></tr>{rows}</table>')


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report page."""
    plan = report["plan"]
    start, end = datetime.fromisoformat(plan["start"]), datetime.fromisoformat(plan["end"])
    names = [s for s in report["series"] if s.startswith("policy:")]
    series = list(report["series"])
    body = [f"<h1>Lifecycle replay: {escape(', '.join(plan['symbols']))}, {start:%Y-%m-%d} to {end:%Y-%m-%d}</h1>",
            f'<p>Retraining every {escape(plan["retrain_every"])}, assessment every {escape(plan["assess_every"])}, '
            f'label horizon {plan["horizon"]} bars of {escape(plan["timeframe"])}; {len(report["fits"])} fits, '
            f'policies: {escape(", ".join(p["name"] for p in report["policies"]))}.</p>',
            _legend(names, series), "<h2>Overall</h2>", _totals_table(report["overall"]),
            "<h3>Decisions per policy</h3>", _decision_counts(report),
            lines_svg(report["overall"], "net_return", names, cumulative=True,
                      title="cumulative net return after costs, per period"),
            lines_svg(report["overall"], "hit_rate", names, cumulative=False, title="hit rate per period"),
            _periods_table(report["overall"])]
    for slot in report["slots"]:
        body += [f'<h2>{escape(slot["symbol"])} / {escape(slot["regime"])} <span class="muted">({slot["bars"]} bars)'
                 "</span></h2>", "<h3>Serving timeline</h3>", timeline_svg(slot, start, end),
                 "<h3>Signal</h3>", _totals_table(slot["metrics"]),
                 lines_svg(slot["metrics"], "net_return", names, cumulative=True,
                           title="cumulative net return after costs"),
                 lines_svg(slot["metrics"], "hit_rate", names, cumulative=False, title="hit rate per period"),
                 _periods_table(slot["metrics"]), "<h3>Promotions and rollbacks</h3>",
                 _decisions_table(slot["decisions"])]
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>AlphaPlus lifecycle replay</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
