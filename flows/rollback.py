"""Rollback of one slot, by hand from the UI or CLI, or of what a failed retrain/promotion run moved."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import Field

from alphaplus.core.errors import InvalidInput, RunFailed
from alphaplus.core.validation import one_line
from alphaplus.rollback.service import NoSafeCandidate
from tasks.rollback import roll_back_slot, undo_failed_run


@flow(name="rollback", description="Roll a slot back to its safest previous version (or a chosen one), audited.")
async def rollback(
    model_name: Annotated[str | None, Field(min_length=1, max_length=200)] = None,
    regime: Annotated[str | None, Field(min_length=1, max_length=64)] = None,
    symbol: Annotated[str | None, Field(min_length=1, max_length=64)] = None,
    to_version: Annotated[int | None, Field(ge=1)] = None,
    reason: Annotated[str, Field(min_length=1, max_length=2000)] = "manual rollback",
    rollback_type: Literal["manual", "on_failure"] = "manual",
    dry_run: bool = False,
    expected_version: Annotated[int | None, Field(ge=1)] = None,
    on_behalf_of: Annotated[str | None, Field(max_length=200)] = None,
    failed_flow_run_id: Annotated[str | None, Field(max_length=64)] = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Roll the slot back; fails when no version is safe to restore (that attempt is still recorded).

    With ``failed_flow_run_id``, every production move that run made and that still stands is undone
    (each only if the run's version still serves: a later change is left alone): back to the version
    that served before, or to no production version when the run installed the slot's first. A run
    that moved nothing, or whose moves were already undone (by its failure hook), changes nothing and
    the result says which rollback events undid it.

    Args:
        model_name: Model of the slot to roll back (with regime and symbol).
        regime: Regime of the slot, e.g. trending.
        symbol: Symbol of the slot, e.g. BTCUSDT.
        to_version: Version to restore; empty: the safest previous version.
        reason: Why, recorded in the audit log and the rollback event.
        rollback_type: manual for a person's decision; on_failure when undoing a failed run.
        dry_run: Show the plan, change nothing.
        expected_version: Roll back only if this version still serves the slot.
        on_behalf_of: Person the run acts for, recorded beside the database login.
        failed_flow_run_id: Undo the production moves of this failed flow run instead of one slot.
    """
    run_id = str(flow_run.id) if flow_run.id else None
    log = get_run_logger()
    # The automation renders the failed run's message into the reason: several lines, any length.
    reason = one_line(reason)
    if failed_flow_run_id:
        undo = await undo_failed_run(failed_flow_run_id, reason=reason, rollback_type=rollback_type, dry_run=dry_run,
                                     flow_run_id=run_id, on_behalf_of=on_behalf_of)
        if undo.errors:
            raise RunFailed(undo.summary(), results=undo.to_dicts())
        log.info("%s", undo.summary())
        return undo.to_dicts()
    if not (model_name and regime and symbol):
        raise InvalidInput("give model_name, regime and symbol of the slot, or failed_flow_run_id")
    outcome = await roll_back_slot(
        model_name, regime, symbol, to_version=to_version, reason=reason, rollback_type=rollback_type,
        expected_version=expected_version, dry_run=dry_run, flow_run_id=run_id, on_behalf_of=on_behalf_of,
    )
    log.info(
        "%s: version %s -> %s (%s)", outcome["outcome"], outcome["from_version"], outcome["to_version"],
        outcome["choice"]["reason"] if outcome["choice"] else outcome["reason"],
    )
    if outcome["outcome"] == "no_safe_candidate":
        raise NoSafeCandidate(f"no version of ({model_name}, {regime}, {symbol}) is safe to restore: "
                              f"{outcome['choice']['reason']}")
    return outcome
