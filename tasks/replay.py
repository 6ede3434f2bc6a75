"""Tasks of the replay flow: the replay itself (one long step over a scratch database) and its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from alphaplus.replay.plan import ReplayPlan
from alphaplus.replay.policies import ReplayPolicy


@task(cache_policy=NO_CACHE)
async def replay_history(plan: ReplayPlan, policies: list[ReplayPolicy], keep: bool) -> dict[str, Any]:
    """Replay the plan over the registry's candles in a scratch database; the report document."""
    from prefect import get_run_logger

    from alphaplus.replay.service import replay

    log = get_run_logger()
    last = [0]

    def progress(done: int, total: int, now: Any, kind: str) -> None:
        step = total // 10 or 1
        if done // step > last[0] or done == total:
            last[0] = done // step
            log.info("replayed %d/%d steps (simulated time %s)", done, total, f"{now:%Y-%m-%d %H:%M}")

    _, report = await replay(plan, policies, keep=keep, progress=progress)
    return report


@task(cache_policy=NO_CACHE)
def write_replay_report(report: dict[str, Any], out_dir: str) -> list[str]:
    """Write replay.json and replay.html into ``out_dir``."""
    from alphaplus.replay.service import write_report

    return [str(p) for p in write_report(report, Path(out_dir))]


@task(cache_policy=NO_CACHE)
async def publish_replay_report(report: dict[str, Any]) -> None:
    """The replay's summary as a markdown artifact and its per-series totals as a table artifact."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from alphaplus.replay.service import summary_rows

    rows = summary_rows(report)
    plan = report["plan"]
    lines = [f"# Lifecycle replay: {', '.join(plan['symbols'])}, {plan['start'][:10]} to {plan['end'][:10]}", "",
             "| series | answered / bars | hit rate | MCC | net return | promotions | rollbacks |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        hit = "–" if r["hit_rate"] is None else f"{r['hit_rate']:.1%}"
        mcc = "–" if r["mcc"] is None else f"{r['mcc']:+.3f}"
        lines.append(f"| {r['series']} | {r['answered']}/{r['bars']} | {hit} | {mcc} | {r['net_return']:+.2%} | "
                     f"{r.get('promotions', '')} | {r.get('rollbacks', '')} |")
    lines += ["", "## Promotions and rollbacks", "", "| simulated time | policy | slot | decision | production | why |",
              "| --- | --- | --- | --- | --- | --- |"]
    for d in report["decisions"]:
        if d["kind"] in ("promote", "rollback", "no_safe_candidate", "market_shift"):
            why = "; ".join(d["reasons"])[:300].replace("|", "\\|").replace("\n", " ")
            move = f"v{d['from_version'] or '-'} → v{d['to_version'] or '-'}"
            lines.append(f"| {d['at'][:16]} | {d['policy']} | {d['symbol']}/{d['regime']} | {d['kind']} | {move} | {why} |")
    await create_markdown_artifact(key="replay-report", markdown="\n".join(lines),
                                   description=f"lifecycle replay of {', '.join(plan['symbols'])}")
    await create_table_artifact(key="replay-series", table=rows, description="served signal per series")
