"""Tasks of the promotion gate: evaluate, record the comparison, apply the decision, publish it."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from alphaplus.promotion.service import PromotionService
from alphaplus.core.entities import ModelVersion, ProductionMove
from alphaplus.promotion.gate import GatePolicy
from alphaplus.ml.pipeline import TrainingConfig
from alphaplus.promotion.comparison import GateOutcome, model_card
from tasks.retry import transient_only


@task(retries=1, retry_delay_seconds=1, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def evaluate_challenger(
    challenger: ModelVersion, candles: pd.DataFrame, config: TrainingConfig, policy: GatePolicy
) -> GateOutcome:
    """Score challenger and champion on the same window and decide."""
    return await (await PromotionService.open()).evaluate_challenger(challenger, candles, config, policy)


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def record_comparison(outcome: GateOutcome, flow_run_id: str | None) -> int:
    """Write the model_comparison row of a decision."""
    return await (await PromotionService.open()).record_comparison(outcome, flow_run_id)


@task(cache_policy=NO_CACHE)
async def apply_decision(outcome: GateOutcome, canary: bool, flow_run_id: str | None) -> ProductionMove | ModelVersion | None:
    """Promote, start a canary, reject, or leave staging for review."""
    return await (await PromotionService.open()).apply_decision(outcome, canary=canary, flow_run_id=flow_run_id)


def artifact_key(text: str) -> str:
    """A Prefect artifact key (lower-case letters, digits and dashes only) made from ``text``."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:100] or "model"


@task(cache_policy=NO_CACHE)
def publish_decision(outcome: GateOutcome, lineage: Any | None = None) -> None:
    """A markdown model card on the flow run and an ``alphaplus.model.<outcome>`` Prefect event."""
    from prefect.artifacts import create_markdown_artifact
    from prefect.events import emit_event

    s = outcome.slot
    create_markdown_artifact(
        key=artifact_key(f"model-card-{s.model_name}-{s.regime}-{s.symbol}"),
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
