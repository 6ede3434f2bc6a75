"""Rollback of one slot, by hand from the UI or CLI, or triggered by a failed retrain/promotion run."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import Field

from alphaplus.rollback import NoSafeCandidate
from tasks.rollback import roll_back_slot


@flow(name="rollback", description="Roll a slot back to its safest previous version (or a chosen one), audited.")
async def rollback(
    model_name: Annotated[str, Field(min_length=1, max_length=200)],
    regime: Annotated[str, Field(min_length=1, max_length=64)],
    symbol: Annotated[str, Field(min_length=1, max_length=64)],
    to_version: Annotated[int | None, Field(ge=1, description="Version to restore; empty: the safest.")] = None,
    reason: Annotated[
        str, Field(min_length=1, max_length=2000, description="Recorded in the audit.")
    ] = "manual rollback",
    rollback_type: Literal["manual", "on_failure"] = "manual",
    dry_run: Annotated[bool, Field(description="Show the plan, change nothing.")] = False,
    expected_version: Annotated[
        int | None, Field(ge=1, description="Roll back only if this version still serves the slot.")
    ] = None,
    on_behalf_of: Annotated[str | None, Field(max_length=200, description="Person the run acts for.")] = None,
) -> dict[str, Any]:
    """Roll the slot back; fails when no version is safe to restore (that attempt is still recorded)."""
    run_id = str(flow_run.id) if flow_run.id else None
    outcome = await roll_back_slot(
        model_name, regime, symbol, to_version=to_version, reason=reason, rollback_type=rollback_type,
        expected_version=expected_version, dry_run=dry_run, flow_run_id=run_id, on_behalf_of=on_behalf_of,
    )
    get_run_logger().info(
        "%s: version %s -> %s (%s)", outcome["outcome"], outcome["from_version"], outcome["to_version"],
        outcome["choice"]["reason"] if outcome["choice"] else outcome["reason"],
    )
    if outcome["outcome"] == "no_safe_candidate":
        raise NoSafeCandidate(f"no version of ({model_name}, {regime}, {symbol}) is safe to restore: "
                              f"{outcome['choice']['reason']}")
    return outcome
