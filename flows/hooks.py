"""Flow-run state hooks: a failed retrain or promotion run that moved production has its moves undone."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# Flows whose deployed runs the prefect.yaml automation ``rollback-after-failed-retrain`` undoes (a test
# keeps this equal to the automation's match); their other runs, and every run of other flows, are
# undone by this hook.
AUTOMATED_FLOWS = frozenset({"retrain"})


async def trigger_rollback_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_failure`` hook: undo the production moves of a failed run, in this process. A deployed run
    of a flow the prefect.yaml automation covers is left to that automation, so one failure leads to
    one rollback. Logs, never raises."""
    if flow.name in AUTOMATED_FLOWS and getattr(flow_run, "deployment_id", None):
        log.info("flow run %s of a deployment failed: the rollback-after-failed-retrain automation undoes "
                 "its production moves", flow_run.id)
        return
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
    # before or after its promotion step, and slots that finished their work keep their moves.
    moves = await service.moves_by_flow_run(run_id)
    if not moves:
        log.info("failed flow run %s left no production move to undo", run_id)
        return
    message = (getattr(state, "message", None) or "failed").strip()
    for move in moves:
        try:
            outcome = await service.request_rollback(
                move.slot.model_name, move.slot.regime, move.slot.symbol, to_version=move.from_version,
                reason=one_line(f"flow run {flow_run.name} of {flow.name} failed after moving production: {message}"),
                rollback_type="on_failure", expected_version=move.to_version, flow_run_id=run_id,
            )
            log.warning("failed run %s moved %s: rollback %s (%s -> %s)", run_id, move.slot, outcome.outcome,
                        outcome.from_version, outcome.to_version)
        except Exception:  # noqa: BLE001 - one slot's trouble must not stop the others
            log.exception("rollback of %s after the failure of run %s did not complete", move.slot, run_id)
