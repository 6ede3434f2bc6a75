"""A lifecycle replay of one symbol: 5,000 hourly bars replayed (after 1,000 bars of first history),
weekly retraining of its three regime slots, daily assessment, the configured policies.

    .venv/bin/python -m benchmarks.bench_replay [--quick]

Measured: the whole replay's wall time (scratch database created, migrated and dropped included;
target: minutes on 2 cores), the report's build time, and per step: the mean retraining (three slots
trained, registered and gated) and the mean bar served through the inference engine.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from typing import Any

from benchmarks.common import bench_settings, prefect_environment, private_database, row

HISTORY_BARS = 1_000
REPLAY_BARS = 5_000
QUICK_REPLAY_BARS = 1_000


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Run the benchmark; one row per measure."""
    prefect_environment()
    return asyncio.run(_measure(QUICK_REPLAY_BARS if quick else REPLAY_BARS))


async def _measure(replay_bars: int) -> list[dict[str, Any]]:
    from alphaplus.market.synth import synth_candles
    from alphaplus.replay.plan import ReplayPlan
    from alphaplus.replay.policies import configured_policy
    from alphaplus.replay.report import build_report
    from alphaplus.replay.runner import run_replay
    from alphaplus.rollback.service import policy_from_settings

    frame = synth_candles(HISTORY_BARS + replay_bars, seed=11, dynamics="strong_trend")
    plan = ReplayPlan(("BENCHUSDT",), frame["ts"].iloc[HISTORY_BARS].to_pydatetime(),
                      frame["ts"].iloc[-1].to_pydatetime() + timedelta(hours=1),
                      retrain_every=timedelta(days=7), assess_every=timedelta(days=1))
    steps: dict[str, list[float]] = {"bars": [], "retrain": [], "assess": []}
    async with private_database("alphaplus_bench_replay") as dsn:
        settings = bench_settings(dsn, tempfile.mkdtemp(prefix="alphaplus-bench-replay-"))
        policies = [configured_policy(settings, policy_from_settings(settings))]
        last = [time.perf_counter()]

        def progress(done: int, total: int, now: Any, kind: str) -> None:
            t = time.perf_counter()
            steps[kind].append(t - last[0])
            last[0] = t

        started = time.perf_counter()
        run = await run_replay(plan, {"BENCHUSDT": frame}, policies, live=settings, progress=progress)
        total = time.perf_counter() - started
        t = time.perf_counter()
        report = build_report(run, {"BENCHUSDT": frame})
        report_seconds = time.perf_counter() - t
    decisions = len(report["decisions"])
    mean = {k: (sum(v) / len(v) if v else None) for k, v in steps.items()}
    return [
        row(f"replay, 1 symbol x 3 regimes, {replay_bars:,} hourly bars, weekly retraining", round(total, 1), "s",
            target="<= 600", note=f"{len(run.fits)} fits, {decisions} decisions, {len(steps['retrain'])} retrainings"),
        row("  per retraining (3 slots: fit, register, gate)", _ms(mean["retrain"]), "ms"),
        row("  per daily assessment (resolve outcomes, assess, roll back)", _ms(mean["assess"]), "ms"),
        row("  per bar served (inference engine, streaming path)", _ms(mean["bars"]), "ms"),
        row("build the report (baselines, per-period metrics)", round(report_seconds, 2), "s"),
    ]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 2)


def main(argv: list[str] | None = None) -> None:
    """Print the benchmark's rows."""
    rows = run(quick="--quick" in (argv or []))
    for r in rows:
        print(f"{r['measure']:<75} {r['value']!s:>10} {r['unit']:<3} {r.get('note', '')}")


if __name__ == "__main__":
    main(sys.argv[1:])
