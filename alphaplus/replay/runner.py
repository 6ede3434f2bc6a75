"""The replay loop: a simulated clock walked through history over a scratch registry.

At each bar close every lane's inference engine answers for the bar through its streaming path
(``predict_many``); at each assessment time matured outcomes are resolved and every lane assessed
(rolling back where its policy says); at each retrain time every slot is trained once on the candles
known then and gated in every lane. Candles enter the scratch database only once closed, and each step
is handed only the candles known at its instant, so no step can see a later one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from alphaplus.core.settings import Settings
from alphaplus.ml.pipeline import TrainingConfig
from alphaplus.ml.features import DEFAULT_FEATURE_SPEC
from alphaplus.replay.plan import ReplayPlan, TimeMap, known_candles, timeline
from alphaplus.replay.policies import ReplayPolicy
from alphaplus.replay.steps import Decision, Fit, Lane, assess_lane, resolve_outcomes, retrain_symbol

# (steps done, steps in all, simulated time, kind of the step just done: bars, assess or retrain)
Progress = Callable[[int, int, datetime, str], None]


def real_now() -> datetime:
    """The wall clock (the database's and the engine's stamps are real times)."""
    return datetime.now(timezone.utc)


@dataclass
class ServedBar:
    """One bar a lane answered for (version None: no production model, or an error)."""

    symbol: str
    bar_ts: datetime
    version: int | None
    regime: str | None
    probability: float | None
    error: str | None = None


@dataclass
class ReplayRun:
    """Everything a replay did: fits (shared), and per policy its decisions and served answers."""

    plan: ReplayPlan
    policies: list[ReplayPolicy]
    fits: list[Fit] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    served: dict[str, list[ServedBar]] = field(default_factory=dict)
    scratch_database: str | None = None


def lanes_for(plan: ReplayPlan, policies: Sequence[ReplayPolicy]) -> list[Lane]:
    """One model name per policy in the scratch registry (the plan's model name when only one)."""
    if len(policies) == 1:
        return [Lane(policies[0], plan.model_name)]
    return [Lane(p, f"{plan.model_name}.{p.name}") for p in policies]


async def _open_engine(registry: Any, pool: Any, scratch: Any, lane: Lane, plan: ReplayPlan) -> Any:
    from alphaplus.inference.engine import InferenceEngine
    from alphaplus.inference.recorder import InferenceRecorder
    from db.inference import event_writer

    recorder = InferenceRecorder.from_settings(event_writer(pool), scratch.settings)
    engine = InferenceEngine(registry, recorder, dsn=scratch.dsn, settings=scratch.settings,
                             model_name=lane.model_name)
    await engine.start()
    return engine


async def run_replay(
    plan: ReplayPlan,
    source: Mapping[str, pd.DataFrame],
    policies: Sequence[ReplayPolicy],
    *,
    live: Settings | None = None,
    keep: bool = False,
    calendars: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> ReplayRun:
    """Replay ``plan`` over ``source`` (each symbol's candles, canonical frames) for every policy."""
    from alphaplus.registry.service import Registry
    from alphaplus.replay.scratch import scratch_database
    from alphaplus.rollback.service import RollbackService
    from alphaplus.registry.artifacts import ArtifactStore
    from db.candles import upsert_candles
    from db.instruments import set_calendar
    from db.pool import get_pool
    from tasks.data import fetch_candles

    run = ReplayRun(plan, list(policies))
    lanes = lanes_for(plan, policies)
    config = TrainingConfig(horizon=plan.horizon, feature_spec=DEFAULT_FEATURE_SPEC)
    calendars = dict(calendars or {})
    events = list(timeline(plan, dict(source)))
    async with scratch_database(live, keep=keep) as scratch:
        run.scratch_database = scratch.name
        pool = await get_pool(settings=scratch.settings)
        registry = await Registry.open(scratch.settings)
        artifact_root = ArtifactStore(scratch.settings.artifacts_dir).location
        stored = {s: 0 for s in source}

        async def sync_candles(now: datetime) -> None:
            """Store the candles closed by ``now`` that are not stored yet."""
            for symbol, frame in source.items():
                known = known_candles(frame, now, plan.bar)
                if len(known) > stored[symbol]:
                    await upsert_candles(pool, symbol=symbol, timeframe=plan.timeframe, frame=known.iloc[stored[symbol]:])
                    stored[symbol] = len(known)

        for symbol, calendar in calendars.items():
            if calendar != "24/7":
                await set_calendar(pool, symbol=symbol, calendar=calendar)
        await sync_candles(plan.start)
        services = {lane.policy.name: RollbackService(pool, ArtifactStore(scratch.settings.artifacts_dir),
                                                      lane.policy.rollback) for lane in lanes}
        engines: dict[str, Any] = {}
        try:
            for lane in lanes:
                engines[lane.policy.name] = await _open_engine(registry, pool, scratch, lane, plan)
            for engine in engines.values():
                for symbol, frame in source.items():
                    engine.warm_up(symbol, known_candles(frame, plan.start, plan.bar).tail(engine.history_bars))
            for lane in lanes:
                run.served[lane.policy.name] = []
            clock = TimeMap()
            resolved_to = real_now()
            for i, (now, kind, payload) in enumerate(events):
                clock.mark(now, real_now())
                if kind == "bars":
                    await _serve(engines, lanes, payload, run)
                elif kind == "assess":
                    await sync_candles(now)
                    for engine in engines.values():
                        await engine.recorder.flush()
                    # Predictions of bars closed by the cut have matured by now (horizon bars later).
                    cut = clock.real_after(now - plan.bar * plan.horizon, resolved_to)
                    if cut > resolved_to:
                        await resolve_outcomes(window_end=cut)
                        resolved_to = cut
                    for lane in lanes:
                        run.decisions += await assess_lane(services[lane.policy.name], lane, now)
                        engines[lane.policy.name].versions.invalidate_all()
                else:
                    await sync_candles(now)
                    for symbol in source:
                        # As the retrain flow does: the symbol's candles from the database, which holds
                        # exactly those closed by now.
                        candles = await fetch_candles.fn(symbol, plan.timeframe, None, now)
                        fits, decisions = await retrain_symbol(
                            registry, now=now, symbol=symbol, candles=candles, regimes=plan.regimes, lanes=lanes,
                            config=config, hyperparameters=plan.hyperparameters, timeframe=plan.timeframe,
                            artifact_root=artifact_root,
                            calendar=calendars.get(symbol, "24/7") if plan.validate else None)
                        run.fits += fits
                        run.decisions += decisions
                    for engine in engines.values():
                        engine.versions.invalidate_all()
                if progress is not None:
                    progress(i + 1, len(events), now, kind)
        finally:
            for engine in engines.values():
                await engine.close()
    return run


async def _serve(engines: Mapping[str, Any], lanes: Sequence[Lane], bars: Mapping[str, Any], run: ReplayRun) -> None:
    """Every lane's engine answers for the bars closing now (one predict_many per lane)."""
    batch = {s: {"ts": r.ts, "open": r.open, "high": r.high, "low": r.low, "close": r.close, "volume": r.volume}
             for s, r in bars.items()}
    for lane in lanes:
        answers = await engines[lane.policy.name].predict_many(batch)
        served = run.served[lane.policy.name]
        for symbol, row in bars.items():
            p = answers.predictions.get(symbol)
            bar_ts = row.ts.to_pydatetime()
            if p is not None:
                served.append(ServedBar(symbol, bar_ts, p.version, p.regime, p.probability))
            else:
                error = answers.errors.get(symbol)
                served.append(ServedBar(symbol, bar_ts, None, None, None,
                                        None if error is None else type(error).__name__))
