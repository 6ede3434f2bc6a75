"""Manual promotion of one version, through the gate (or forced, audited as forced)."""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow
from prefect.runtime import flow_run
from pydantic import Field

from alphaplus.promotion.service import PromotionService
from flows.hooks import trigger_rollback_on_failure
from flows.parameters import GateSettings
from tasks.promotion import publish_decision


@flow(
    name="promote",
    description="Promote one version of a slot through the gate, or force it (audited).",
    on_failure=[trigger_rollback_on_failure],
)
async def promote_version(
    model_name: Annotated[str, Field(min_length=1, max_length=200)],
    version: Annotated[int, Field(ge=1)],
    reason: Annotated[str, Field(max_length=2000)] = "",
    force: bool = False,
    canary: bool = False,
    gate: GateSettings = GateSettings(),
    on_behalf_of: Annotated[str | None, Field(max_length=200)] = None,
) -> dict[str, Any]:
    """Gate and promote (or force) a version; returns the decision.

    Args:
        model_name: Model of the version to promote.
        version: Version number to promote (see `alphaplus versions list`).
        reason: Why, recorded in the audit log.
        force: Skip the gate; the promotion is recorded as forced.
        canary: On a passed gate, start a canary instead of promoting to production.
        gate: Overrides of the promotion gate for this run; empty fields keep the configured settings.
        on_behalf_of: Person the run acts for, recorded in the audit log beside the database login.
    """
    run_id = str(flow_run.id) if flow_run.id else None
    service = await PromotionService.open()
    if force:
        return await service.force_promote(
            model_name, version, reason=reason, on_behalf_of=on_behalf_of, flow_run_id=run_id
        )
    outcome, lineage = await service.promote_with_gate(
        model_name, version, canary=canary, gate=gate.overrides(),
        on_behalf_of=on_behalf_of, flow_run_id=run_id,
    )
    publish_decision(outcome, lineage)
    return {"decision": outcome.decision.outcome, "reasons": list(outcome.decision.reasons),
            "champion_version": outcome.champion_version, "challenger_version": version}
