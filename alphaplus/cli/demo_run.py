"""The end-to-end demo: two symbols, two rounds of retraining through the gate, a live market in which
one symbol's trending stretches change character so its trending champion loses its edge, outcome
resolution, assessment and an audited rollback."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from rich.console import Console

from alphaplus.cli.common import shown
from alphaplus.cli.tables import Column, table

# Seeds whose synthetic markets give the story its shape: round one's trending models beat the
# no-skill references of their window (so the gate promotes them), round two's are not worse, and the
# shifted live market then hurts them.
SYMBOLS = {"BTCUSDT": 6, "ETHUSDT": 2}
# The history has a real edge in its trending stretches (synth's "strong_trend" dynamics), large
# enough for the gate's block-bootstrap tests to see on a few hundred unseen rows (overlapping 12-bar
# labels hold ~40 independent outcomes per 500 rows); ranging and volatile stretches carry none.
HISTORY_DYNAMICS = "strong_trend"
HISTORY_BARS = 12_000
FIRST_ROUND_BARS = 6_000
# Round two is a scheduled refresh: a challenger that beats the no-skill references and is not
# significantly worse than its champion replaces it (a non-inferiority gate), instead of waiting for
# a person to review an improvement the test cannot confirm.
REFRESH_GATE = {"on_insignificant": "promote"}
LIVE_PHASES = 5
LIVE_BARS_PER_PHASE = 900
FOCUS_REGIME = "trending"
# Live, this symbol's trending stretches change character; the other symbol's market goes on as it was.
CHANGED_SYMBOL = "ETHUSDT"


def live_dynamics(symbol: str):
    """The live market of ``symbol``: the history's dynamics, except that on CHANGED_SYMBOL trending
    stretches now push against the last 12 bars' move, where a trend-follower loses its edge. One
    slot of two losing its edge is a model failure to the assessment, not a market-wide shift, so
    it rolls the slot back."""
    from dataclasses import replace

    from alphaplus.market.synth import SHIFTED_DYNAMICS, STRONG_TREND_DYNAMICS

    if symbol != CHANGED_SYMBOL:
        return HISTORY_DYNAMICS
    return replace(STRONG_TREND_DYNAMICS,  # HISTORY_DYNAMICS, with the trending state changed
                   states=(SHIFTED_DYNAMICS.states[0], *STRONG_TREND_DYNAMICS.states[1:]),
                   contrarian_lookback=SHIFTED_DYNAMICS.contrarian_lookback)


@dataclass
class DemoState:
    model_name: str
    candles: dict[str, pd.DataFrame]


async def import_history(console: Console, model_name: str) -> DemoState:
    """Synthesise and import each symbol's history."""
    from alphaplus.market.synth import synth_candles
    from db.candles import upsert_candles
    from db.pool import get_pool

    pool = await get_pool()
    candles = {}
    for symbol, seed in SYMBOLS.items():
        frame = synth_candles(HISTORY_BARS, seed=seed, start="2024-01-01", dynamics=HISTORY_DYNAMICS)
        await upsert_candles(pool, symbol=symbol, timeframe="1h", frame=frame)
        candles[symbol] = frame
        console.print(f"  {symbol}: {len(frame)} hourly candles imported")
    return DemoState(model_name, candles)


async def retrain_round(
    console: Console, state: DemoState, *, end: datetime | None, label: str, gate: dict | None = None
) -> None:
    """One run of the retrain flow over every slot of both symbols."""
    from alphaplus.cli.pipeline_cmd import print_slot_tracebacks, show_results
    from alphaplus.core.errors import RunFailed
    from flows.parameters import GateSettings
    from flows.retrain import retrain

    console.rule(f"retraining: {label}")
    started = time.perf_counter()
    try:
        results = await retrain(symbols=list(SYMBOLS), regime="all", model_name=state.model_name, end=end,
                                gate=GateSettings(**(gate or {})))
    except RunFailed as e:  # the other slots' results stand
        console.print(f"  [yellow]{shown(e, 2000)}[/yellow]")
        print_slot_tracebacks(e.results)
        results = e.results
    show_results(results, as_json=False)
    console.print(f"  ({time.perf_counter() - started:.1f} s)")


async def live_phase(engine, state: DemoState, phase: int, console: Console) -> dict[str, int]:
    """Trade one stretch of the live market: each bar close scored for every symbol at once
    (predict_many on the engine's streaming state), candles stored as they come."""
    from alphaplus.core.errors import NoProductionVersion
    from alphaplus.market.synth import continue_candles
    from db.candles import upsert_candles
    from db.pool import get_pool

    counts = {"predictions": 0, "no_model": 0}
    live: dict[str, pd.DataFrame] = {}
    for i, symbol in enumerate(SYMBOLS):
        history = state.candles[symbol]
        new = continue_candles(history, LIVE_BARS_PER_PHASE, seed=1000 + 10 * phase + i,
                               dynamics=live_dynamics(symbol))
        state.candles[symbol] = pd.concat([history, new], ignore_index=True)
        await upsert_candles(await get_pool(), symbol=symbol, timeframe="1h", frame=new)
        live[symbol] = new
    for bar in range(LIVE_BARS_PER_PHASE):
        batch = await engine.predict_many({symbol: new.iloc[bar] for symbol, new in live.items()})
        counts["predictions"] += len(batch.predictions)
        for error in batch.errors.values():
            if not isinstance(error, NoProductionVersion):
                raise error
            counts["no_model"] += 1
    return counts


async def resolve_and_assess(console: Console, state: DemoState):
    """Resolve every matured outcome so far into performance history, then assess every slot."""
    from alphaplus.monitoring.service import OutcomeService
    from alphaplus.rollback.service import RollbackService

    records = await (await OutcomeService.open()).resolve_outcomes(model_name=state.model_name)
    service = await RollbackService.open()
    results = await service.assess_all(now=datetime.now(UTC))
    return records, [r for r in results if r.slot.model_name == state.model_name]


def phase_table(phase: int, records, results, width: int):
    live = {(r.regime, r.symbol, r.version): r for r in records if r.source == "live"}
    rows = []
    for r in sorted(results, key=lambda r: (r.slot.symbol, r.slot.regime)):
        rec = live.get((r.slot.regime, r.slot.symbol, r.production_version))
        acc = f"{rec.metrics.accuracy:.3f} ({rec.metrics.n_samples})" if rec and rec.metrics.accuracy is not None else "–"
        rows.append((f"{r.slot.symbol}/{r.slot.regime}", f"v{r.production_version}", acc, _verdict(r)))
    return table([Column(h) for h in ("slot", "serving", "live accuracy (n)", "assessment")], rows, width=width,
                 wide=True, title=f"live phase {phase}")


def _verdict(r) -> str:
    """The assessment in a few words, with the evidence it rests on."""
    from alphaplus.cli.rollback_cmd import evidence_text

    out = r.rollback
    if out is not None and out.outcome == "executed":
        what = f"ROLLED BACK v{out.from_version} -> v{out.to_version}"
    elif out is not None and out.outcome == "no_safe_candidate":
        what = f"loss of edge, no safe version to restore: v{out.from_version} stays"
    elif r.status == "market_shift":
        what = "MARKET SHIFT: rollback withheld, retrain"
    else:
        what = r.status
    evidence = evidence_text(r.to_row())
    return f"{what} ({evidence})" if evidence else what


async def print_timeline(console: Console, state: DemoState) -> None:
    """The slot timeline and the rollback events: what served when, and why it changed."""
    from alphaplus.core.entities import Slot
    from alphaplus.registry.service import Registry
    from alphaplus.rollback.service import RollbackService

    registry = await Registry.open()
    for symbol in SYMBOLS:
        slot = Slot(state.model_name, FOCUS_REGIME, symbol)
        rows = [(f"v{p.version}" if p.version else "none", f"{p.start:%Y-%m-%d %H:%M:%S}",
                 f"{p.end:%H:%M:%S}" if p.end else "now", p.actor, p.reason) for p in await registry.slot_history(slot)]
        console.print(table([Column(h) for h in ("version", "from", "to", "moved by", "reason")], rows,
                            width=console.width, wide=True, title=f"timeline of {slot}"))
    service = await RollbackService.open()
    for e in await service.list_events(model_name=state.model_name):
        target = f"v{e.to_version}" if e.to_version is not None else "nothing restored"
        evidence = "" if e.n_outcomes is None else (
            f"\n  evidence: {e.test_name}, statistic {e.statistic:.2f}, p {e.p_value:.2g}, on {e.n_outcomes} "
            f"outcomes (~{e.n_effective:.0f} independent)")
        console.print(
            f"[bold]rollback event[/bold] {e.event_time:%Y-%m-%d %H:%M:%S} {e.symbol}/{e.regime}: "
            f"v{e.from_version} -> {target} ({e.rollback_type}, {e.outcome}, by {e.actor})\n"
            f"  triggers: {', '.join(e.triggers) or '-'}; skill drop: {_pct(e.degradation)}; "
            f"confidence: {_pct(e.confidence)}; risk: {e.risk}{evidence}\n  reason: {shown(e.rollback_reason, 2000)}"
        )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


async def run_demo(console: Console, model_name: str) -> None:
    """The whole story; every step goes through the same code paths users run."""
    from alphaplus.inference.engine import InferenceEngine

    console.rule("market data")
    state = await import_history(console, model_name)
    cut = state.candles["BTCUSDT"]["ts"].iloc[FIRST_ROUND_BARS].to_pydatetime()
    await retrain_round(console, state, end=cut, label=f"round 1 (history up to {cut:%Y-%m-%d})")
    # Explicit ends keep a re-run of the demo from training on an earlier run's live candles.
    history_end = state.candles["BTCUSDT"]["ts"].iloc[-1].to_pydatetime() + timedelta(hours=1)
    await retrain_round(console, state, end=history_end, label="round 2 (all history, non-inferiority gate)",
                        gate=REFRESH_GATE)

    console.rule(f"live trading ({CHANGED_SYMBOL}'s trending stretches now reverse)")
    engine = await InferenceEngine.open(model_name=model_name, shadow=True)
    try:
        for symbol, history in state.candles.items():
            engine.warm_up(symbol, history)  # each symbol's state, seeded once; every live bar then costs O(1)
        for phase in range(1, LIVE_PHASES + 1):
            counts = await live_phase(engine, state, phase, console)
            await engine.recorder.flush()
            records, results = await resolve_and_assess(console, state)
            console.print(phase_table(phase, records, results, console.width))
            console.print(f"  {counts['predictions']} predictions, {counts['no_model']} bars without a model")
    finally:
        await engine.close()

    console.rule("what happened")
    await print_timeline(console, state)
