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
    one rollback (and should both run, the second finds nothing to undo). Logs, never raises."""
    if flow.name in AUTOMATED_FLOWS and getattr(flow_run, "deployment_id", None):
        log.info("flow run %s of a deployment failed: the rollback-after-failed-retrain automation undoes "
                 "its production moves", flow_run.id)
        return
    try:
        await _undo_moves_of(flow, flow_run, state)
    except Exception:  # noqa: BLE001 - a hook must not mask the run's own failure
        log.exception("automatic rollback after the failure of flow run %s did not complete", flow_run.id)


async def _undo_moves_of(flow: Any, flow_run: Any, state: Any) -> None:
    from alphaplus.core.validation import one_line
    from alphaplus.rollback.service import RollbackService

    run_id = str(flow_run.id)
    service = await RollbackService.open()
    # The audit log, not the run's parameters, says what the run really changed: a run can fail
    # before or after its promotion step, and slots that finished their work keep their moves.
    message = (getattr(state, "message", None) or "failed").strip()
    undo = await service.undo_flow_run(
        run_id, reason=one_line(f"flow run {flow_run.name} of {flow.name} failed: {message}"),
        rollback_type="on_failure", flow_run_id=run_id,
    )
    if undo.errors:
        log.error("%s", undo.summary())
    elif undo.outcomes:
        log.warning("%s", undo.summary())
    else:
        log.info("%s", undo.summary())
