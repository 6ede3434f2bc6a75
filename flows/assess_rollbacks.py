"""Scheduled assessment of production slots, rolling back those whose live quality degraded."""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import Field

from tasks.rollback import assess_production_slots, publish_assessment_table


@flow(name="assess-rollbacks", description="Assess every production slot (or one model's) and roll back where needed.")
async def assess_rollbacks(
    model_name: Annotated[str | None, Field(max_length=200)] = None,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Assess production slots; one slot's failure is reported in its row and does not stop the others.

    Args:
        model_name: Assess only this model's slots; empty: every production slot.
        dry_run: Decide and report, change nothing.
    """
    logger = get_run_logger()
    run_id = str(flow_run.id) if flow_run.id else None
    rows = await assess_production_slots(model_name or None, dry_run, run_id)
    publish_assessment_table(rows, dry_run)
    for row in rows:
        if row["outcome"] in ("executed", "no_safe_candidate", "market_shift", "error"):
            logger.warning(
                "%s/%s/%s v%s: %s (%s)", row["model_name"], row["regime"], row["symbol"], row["version"],
                row["outcome"], row["summary"],
            )
    return rows
