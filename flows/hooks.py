"""Flow-run state hooks: a failed retrain or promotion run that moved production triggers a rollback."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

ROLLBACK_DEPLOYMENT = "rollback/rollback"


async def trigger_rollback_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_failure`` hook: roll back every slot whose production pointer the failed run moved and that
    still serves what the run installed. Uses the rollback deployment when one exists (so the rollback
    is its own run in the UI), else the rollback service in this process. Logs, never raises."""
    try:
        await _roll_back_moves_of(flow, flow_run, state)
    except Exception:  # noqa: BLE001 - a hook must not mask the run's own failure
        log.exception("automatic rollback after the failure of flow run %s did not complete", flow_run.id)


async def _roll_back_moves_of(flow: Any, flow_run: Any, state: Any) -> None:
    from alphaplus.core.validation import one_line
    from alphaplus.rollback.service import RollbackService

    run_id = str(flow_run.id)
    service = await RollbackService.open()
    # The audit log, not the run's parameters, says what the run really changed: a run can fail
    # before or after its promotion step.
    moves = await service.moves_by_flow_run(run_id)
    if not moves:
        log.info("failed flow run %s moved no production pointer: nothing to roll back", run_id)
        return
    message = (getattr(state, "message", None) or "failed").strip()
    use_deployment = await _deployment_exists()
    for move in moves:
        params = {
            "model_name": move.slot.model_name, "regime": move.slot.regime, "symbol": move.slot.symbol,
            "to_version": move.from_version,
            "reason": one_line(f"flow run {flow_run.name} of {flow.name} failed after moving production: {message}"),
            "rollback_type": "on_failure",
            # Only undo the run's own move: if something else changed production since, leave it.
            "expected_version": move.to_version,
        }
        try:
            if use_deployment:
                from prefect.deployments import arun_deployment

                run = await arun_deployment(ROLLBACK_DEPLOYMENT, parameters=params, timeout=0, as_subflow=False)
                log.warning("failed run %s moved %s: rollback run %s requested", run_id, move.slot, run.id)
                continue
            params.pop("expected_version")
            outcome = await service.request_rollback(
                **params, expected_version=move.to_version, flow_run_id=run_id
            )
            log.warning("failed run %s moved %s: rollback %s (%s -> %s)", run_id, move.slot, outcome.outcome,
                        outcome.from_version, outcome.to_version)
        except Exception:  # noqa: BLE001 - one slot's trouble must not stop the others
            log.exception("rollback of %s after the failure of run %s did not complete", move.slot, run_id)


async def _deployment_exists() -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        async with get_client() as client:
            await client.read_deployment_by_name(ROLLBACK_DEPLOYMENT)
        return True
    except ObjectNotFound:
        return False
    except Exception:  # noqa: BLE001 - no reachable API: fall back to rolling back in-process
        log.info("Prefect API unreachable; rolling back in-process", exc_info=True)
        return False
