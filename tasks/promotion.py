"""Tasks of the promotion gate: evaluate, record the comparison, apply the decision, publish it."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from alphaplus.entities import ModelVersion, ProductionMove
from alphaplus.gate import GatePolicy
from alphaplus.pipeline import TrainingConfig
from alphaplus.promotion import GateOutcome, model_card, run_gate


@task(retries=1, retry_delay_seconds=1, cache_policy=NO_CACHE)
async def evaluate_challenger(
    challenger: ModelVersion, candles: pd.DataFrame, config: TrainingConfig, policy: GatePolicy
) -> GateOutcome:
    """Score challenger and current champion (artifacts hash-verified) on the same window; decide."""
    from alphaplus.registry import Registry

    registry = await Registry.open()
    slot = challenger.slot
    champion = await registry.get_production_model(slot.model_name, slot.regime, slot.symbol)
    return run_gate(
        slot=slot,
        challenger=challenger,
        challenger_model=await registry.load_model(challenger),
        champion=champion,
        champion_model=await registry.load_model(champion) if champion else None,
        candles=candles,
        config=config,
        policy=policy,
    )


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
async def record_comparison(outcome: GateOutcome, flow_run_id: str | None, forced: bool = False) -> int:
    """Write the model_comparison row of a decision."""
    from db.comparisons import insert_comparison
    from db.pool import get_pool
    from alphaplus.settings import get_settings

    settings = get_settings()
    d = outcome.decision
    return await insert_comparison(
        await get_pool(settings.database_url, settings),
        model_name=outcome.slot.model_name,
        regime=outcome.slot.regime,
        symbol=outcome.slot.symbol,
        challenger_version=outcome.challenger_version,
        champion_version=outcome.champion_version,
        window_start=outcome.window_start.to_pydatetime() if outcome.window_start is not None else None,
        window_end=outcome.window_end.to_pydatetime() if outcome.window_end is not None else None,
        n_samples=outcome.n_samples,
        challenger_metrics=outcome.challenger_metrics,
        champion_metrics=outcome.champion_metrics,
        metric_deltas=d.to_dict()["deltas"],
        test_name="mcnemar_exact" if d.mcnemar else None,
        statistic=float(d.mcnemar.statistic) if d.mcnemar else None,
        p_value=float(d.mcnemar.p_value) if d.mcnemar else None,
        decision="forced" if forced else d.outcome,
        reasons=list(d.reasons),
        flow_run_id=flow_run_id,
    )


@task(cache_policy=NO_CACHE)
async def apply_decision(outcome: GateOutcome, canary: bool, flow_run_id: str | None) -> ProductionMove | ModelVersion | None:
    """Promote (moving the pointer only if the champion is still the one compared), reject, or wait."""
    from alphaplus.registry import Registry

    registry = await Registry.open()
    d = outcome.decision
    name, version = outcome.slot.model_name, outcome.challenger_version
    reason = "; ".join(d.reasons)[:2000]
    if d.outcome == "promote" and canary:
        return await registry.start_canary(name, version, reason=f"gate passed, canary first: {reason}",
                                           flow_run_id=flow_run_id)
    if d.outcome == "promote":
        return await registry.promote(
            name, version, reason=f"gate passed: {reason}", expected_current=outcome.champion_version,
            flow_run_id=flow_run_id, metadata={"gate": d.to_dict()},
        )
    if d.outcome == "reject":
        return await registry.mark_failed(name, version, reason=f"gate rejected: {reason}", flow_run_id=flow_run_id)
    return None


def _artifact_key(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:100] or "model"


@task(cache_policy=NO_CACHE)
def publish_decision(outcome: GateOutcome, lineage: Any | None = None) -> None:
    """A markdown model card on the flow run and an ``alphaplus.model.<outcome>`` Prefect event."""
    from prefect.artifacts import create_markdown_artifact
    from prefect.events import emit_event

    s = outcome.slot
    create_markdown_artifact(
        key=_artifact_key(f"model-card-{s.model_name}-{s.regime}-{s.symbol}"),
        markdown=model_card(outcome, lineage),
        description=f"{s.model_name} v{outcome.challenger_version}: {outcome.decision.outcome}",
    )
    event = {"promote": "promoted", "reject": "rejected"}.get(outcome.decision.outcome, "needs_review")
    emit_event(
        event=f"alphaplus.model.{event}",
        resource={
            "prefect.resource.id": f"alphaplus.slot.{s.model_name}.{s.regime}.{s.symbol}",
            "alphaplus.model_name": s.model_name,
            "alphaplus.regime": s.regime,
            "alphaplus.symbol": s.symbol,
            "alphaplus.version": str(outcome.challenger_version),
        },
        payload=outcome.decision.to_dict(),
    )
