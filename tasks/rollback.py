"""Tasks of rollback assessment and execution: thin wrappers over the rollback service."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from alphaplus.rollback.service import RollbackService, RunUndo, SlotFilter
from tasks.retry import transient_only


async def _service() -> RollbackService:
    # Opened inside the task: a pool belongs to the event loop of the thread that runs it.
    return await RollbackService.open()


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def assess_production_slots(
    model_name: str | None, dry_run: bool, flow_run_id: str | None
) -> list[dict[str, Any]]:
    """Assess the production slots (of one model, or all) and roll back where the policy says so."""
    service = await _service()
    results = await service.assess_slots(
        SlotFilter(model_name=model_name), dry_run=dry_run, flow_run_id=flow_run_id
    )
    return [r.to_dict() for r in results]


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def roll_back_slot(
    model_name: str,
    regime: str,
    symbol: str,
    *,
    to_version: int | None,
    reason: str,
    rollback_type: str,
    expected_version: int | None,
    dry_run: bool,
    flow_run_id: str | None,
    on_behalf_of: str | None,
) -> dict[str, Any]:
    """Roll one slot back (manual or on failure); returns the outcome."""
    service = await _service()
    outcome = await service.request_rollback(
        model_name, regime, symbol, to_version=to_version, reason=reason,
        rollback_type=rollback_type,  # type: ignore[arg-type]
        expected_version=expected_version, dry_run=dry_run, flow_run_id=flow_run_id, on_behalf_of=on_behalf_of,
    )
    return outcome.to_dict()


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def undo_failed_run(
    failed_flow_run_id: str,
    *,
    reason: str,
    rollback_type: str,
    dry_run: bool,
    flow_run_id: str | None,
    on_behalf_of: str | None,
) -> RunUndo:
    """Undo the production moves of a failed flow run that still stand (from the audit log)."""
    service = await _service()
    return await service.undo_flow_run(
        failed_flow_run_id, reason=reason, rollback_type=rollback_type,  # type: ignore[arg-type]
        dry_run=dry_run, flow_run_id=flow_run_id, on_behalf_of=on_behalf_of,
    )


@task(cache_policy=NO_CACHE)
def publish_assessment_table(rows: list[dict[str, Any]], dry_run: bool) -> None:
    """Publish the assessment summary as a table artifact in the Prefect UI."""
    from prefect.artifacts import create_table_artifact

    columns = ("model_name", "regime", "symbol", "version", "status", "outcome", "target_version", "triggers",
               "severity", "degradation", "confidence", "n", "n_effective", "test", "statistic", "p_value", "summary")
    table = [{c: row.get(c) for c in columns} for row in rows]
    acted = sum(1 for r in rows if r.get("outcome") in ("executed", "no_safe_candidate", "dry_run"))
    shifted = [r for r in rows if r.get("status") == "market_shift"]
    create_table_artifact(
        table=table,
        key="rollback-assessment",
        description=f"{len(rows)} production slots assessed{' (dry run)' if dry_run else ''}; "
        f"{acted} needed a rollback; {len(shifted)} withheld for a market shift.",
    )
    if shifted:
        publish_market_shift(shifted)


def publish_market_shift(rows: list[dict[str, Any]]) -> None:
    """Raise a market shift in the Prefect UI: which slots, and why no rollback was made."""
    from prefect.artifacts import create_markdown_artifact

    lines = ["# Market shift: rollbacks withheld", "",
             "Most production slots lost their edge at once and the rollback targets did no better in "
             "shadow; retrain on recent data.", ""]
    for r in rows:
        reasons = (r.get("assessment") or {}).get("reasons") or []
        lines.append(f"- **{r['model_name']} / {r['regime']} / {r['symbol']}** v{r['version']}: "
                     + "; ".join(x for x in reasons if x.startswith(("market shift", "version "))))
    create_markdown_artifact(markdown="\n".join(lines), key="market-shift",
                             description=f"{len(rows)} slots: market shift, rollback withheld")
