"""A whole replay for the CLI and the flow: read the live registry's candles (read only), replay, build
the report, write it (JSON and HTML, all or nothing)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from alphaplus.core.errors import InvalidInput
from alphaplus.core.settings import Settings, get_settings
from alphaplus.replay.plan import ReplayPlan, known_candles
from alphaplus.replay.policies import ReplayPolicy, configured_policy, load_policy_file
from alphaplus.replay.runner import Progress, ReplayRun, run_replay


def policies_for(policy_file: Path | None, settings: Settings | None = None) -> list[ReplayPolicy]:
    """The policies to replay: those of the file, else the configured ones."""
    from alphaplus.rollback.service import policy_from_settings

    settings = settings or get_settings()
    base = policy_from_settings(settings)
    if policy_file is None:
        return [configured_policy(settings, base)]
    return load_policy_file(policy_file, settings, base)


async def load_source(plan: ReplayPlan, settings: Settings | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Each symbol's candles before ``plan.end`` and its calendar, from the live registry (read only)."""
    from db.candles import fetch_candles
    from db.instruments import calendar_of
    from db.pool import get_pool

    pool = await get_pool(settings=settings)
    source, calendars = {}, {}
    for symbol in plan.symbols:
        frame = await fetch_candles(pool, symbol=symbol, timeframe=plan.timeframe, end=plan.end)
        if frame.empty:
            raise InvalidInput(f"no {plan.timeframe} candles of {symbol} before {plan.end:%Y-%m-%d %H:%M}; "
                               "import some (alphaplus data import / data synth) or check --timeframe")
        if known_candles(frame, plan.start, plan.bar).empty:
            raise InvalidInput(f"no {plan.timeframe} candles of {symbol} before --from {plan.start:%Y-%m-%d %H:%M}: "
                               f"its first bar is at {frame['ts'].iloc[0]:%Y-%m-%d %H:%M}; the first retraining needs "
                               "history before --from")
        source[symbol] = frame
        calendars[symbol] = await calendar_of(pool, symbol)
    return source, calendars


async def replay(plan: ReplayPlan, policies: Sequence[ReplayPolicy], *, keep: bool = False,
                 progress: Progress | None = None, settings: Settings | None = None) -> tuple[ReplayRun, dict[str, Any]]:
    """Replay ``plan`` over the live registry's candles for every policy; (run, report document)."""
    from alphaplus.replay.report import build_report

    source, calendars = await load_source(plan, settings)
    run = await run_replay(plan, source, policies, live=settings, keep=keep, calendars=calendars, progress=progress)
    return run, build_report(run, source)


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``replay.json`` and ``replay.html`` into ``out_dir`` (created if missing); both or neither."""
    from alphaplus.replay.html import render_html

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInput(f"--out {out_dir} is a file; give a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {"replay.json": json.dumps(report, indent=1, default=str), "replay.html": render_html(report)}
    staged = []
    try:
        for name, text in texts.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            staged.append((Path(tmp), out_dir / name))
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return out_dir / "replay.json", out_dir / "replay.html"


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per series over all slots: hit rate, MCC, net return, and the decisions of policies."""
    rows = []
    for name in report["series"]:
        total = report["overall"][name]["total"]
        row = {"series": name, "bars": total["bars"], "answered": total["answered"], "hit_rate": total["hit_rate"],
               "mcc": total["mcc"], "net_return": total["net_return"], "trades": total["trades"]}
        if name.startswith("policy:"):
            policy = name.split(":", 1)[1]
            kinds = [d["kind"] for d in report["decisions"] if d["policy"] == policy]
            row.update(promotions=kinds.count("promote"), rollbacks=kinds.count("rollback"),
                       rejections=kinds.count("reject"))
        rows.append(row)
    return rows
