"""The replay's report as one JSON-able document (pure): per slot and overall, the serving timeline,
every decision with its reason, and per period the served signal's hit rate, MCC and cost-adjusted
return beside the baselines' (``alphaplus.replay.metrics``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

import numpy as np
import pandas as pd

from alphaplus.replay import metrics as m
from alphaplus.replay.plan import schedule


def periods(run: Any) -> list[tuple[datetime, datetime]]:
    """The report's periods: the intervals between retrain times, the last one ending at the plan's end."""
    starts = [t for t, kind in schedule(run.plan) if kind == "retrain"]
    return list(zip(starts, [*starts[1:], run.plan.end]))


def series_name(policy: str) -> str:
    return f"policy:{policy}"


def build_report(run: Any, source: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """The report document of a finished replay over ``source`` (the candles it replayed)."""
    plan = run.plan
    cost = {p.name: p.gate.cost_per_trade for p in run.policies}
    cost_per_trade = next(iter(cost.values()), 0.0)
    spans = periods(run)
    slots: list[dict[str, Any]] = []
    pooled: dict[str, list[tuple[np.ndarray, ...]]] = {}
    for symbol, candles in source.items():
        table = m.bar_table(symbol, candles, start=plan.start, end=plan.end, bar=plan.bar, horizon=plan.horizon)
        probabilities = m.fit_probabilities(table, run.fits)
        series: dict[str, np.ndarray] = {}  # the policies' served signals first, then the baselines
        versions: dict[str, np.ndarray] = {}
        for p in run.policies:
            series[series_name(p.name)], versions[p.name] = m.served_series(table, run.served.get(p.name, []))
        series.update(m.baseline_series(table, run.fits, probabilities))
        for regime in plan.regimes:
            rows = (table.frame["regime"] == regime).to_numpy()
            slot = _slot(run, table, rows, series, versions, spans, regime, symbol, cost_per_trade)
            slots.append(slot)
            for name, values in series.items():
                pooled.setdefault(name, []).append((table.frame.loc[rows, "close_at"], table.frame.loc[rows, "label"].to_numpy(dtype=float),
                                                    values[rows], table.frame.loc[rows, "forward"].to_numpy(dtype=float)))
    overall = {name: _scored(*_concat(parts), spans, plan.horizon, cost_per_trade) for name, parts in pooled.items()}
    return {
        "plan": plan.to_dict(),
        "policies": [p.to_dict() for p in run.policies],
        "series": [*(series_name(p.name) for p in run.policies), *m.BASELINES],
        "scratch_database": run.scratch_database,
        "periods": [{"start": a.isoformat(), "end": b.isoformat()} for a, b in spans],
        "fits": [f.to_dict() for f in run.fits],
        "decisions": [d.to_dict() for d in run.decisions],
        "slots": slots,
        "overall": overall,
    }


def _slot(run: Any, table: m.BarTable, rows: np.ndarray, series: Mapping[str, np.ndarray],
          versions: Mapping[str, np.ndarray], spans: list, regime: str, symbol: str, cost: float) -> dict[str, Any]:
    frame = table.frame.loc[rows]
    label, forward = frame["label"].to_numpy(dtype=float), frame["forward"].to_numpy(dtype=float)
    return {
        "regime": regime, "symbol": symbol, "bars": int(rows.sum()),
        "timeline": {p.name: serving_timeline(frame["close_at"], versions[p.name][rows]) for p in run.policies},
        "decisions": [d.to_dict() for d in run.decisions if d.regime == regime and d.symbol == symbol],
        "metrics": {name: _scored(frame["close_at"], label, values[rows], forward, spans, run.plan.horizon, cost)
                    for name, values in series.items()},
    }


def serving_timeline(close_at: pd.Series, versions: np.ndarray) -> list[dict[str, Any]]:
    """Runs of consecutive bars served by one version (None: no production model answered)."""
    out: list[dict[str, Any]] = []
    for when, v in zip(close_at, versions):
        version = None if np.isnan(v) else int(v)
        if out and out[-1]["version"] == version:
            out[-1]["to"] = when.isoformat()
            out[-1]["bars"] += 1
        else:
            out.append({"version": version, "from": when.isoformat(), "to": when.isoformat(), "bars": 1})
    return out


def _concat(parts: list[tuple]) -> tuple:
    order = np.argsort(np.concatenate([pd.DatetimeIndex(p[0]).asi8 for p in parts]), kind="stable")
    close_at = pd.concat([p[0] for p in parts], ignore_index=True).iloc[order].reset_index(drop=True)
    return (close_at, *(np.concatenate([p[i] for p in parts])[order] for i in (1, 2, 3)))


def _scored(close_at: pd.Series, label: np.ndarray, proba: np.ndarray, forward: np.ndarray, spans: list,
            horizon: int, cost: float) -> dict[str, Any]:
    close_at = pd.Series(pd.DatetimeIndex(close_at))
    per = []
    for a, b in spans:
        rows = ((close_at > pd.Timestamp(a)) & (close_at <= pd.Timestamp(b))).to_numpy()
        per.append({"start": a.isoformat(), "end": b.isoformat(),
                    **m.signal_metrics(label[rows], proba[rows], forward[rows], horizon=horizon, cost_per_trade=cost)})
    return {"total": m.signal_metrics(label, proba, forward, horizon=horizon, cost_per_trade=cost), "periods": per}
