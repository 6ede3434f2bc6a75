"""What undoing a failed run touches: only slots whose own work in that run did not finish well."""

from __future__ import annotations

from alphaplus.core.entities import Slot
from tests.db.conftest import make_lineage


async def test_a_failed_runs_moves_exclude_slots_whose_training_job_in_that_run_succeeded(
    registry, model_name, settings
):
    from alphaplus.rollback.service import RollbackService
    from db.pool import get_pool
    from db.training_jobs import finish_job, start_job

    pool = await get_pool(settings.database_url, settings)
    run_id = f"run-{model_name}"
    for symbol, outcome in (("AAAUSDT", "succeeded"), ("BBBUSDT", "failed")):
        reg = await registry.register_model_version(make_lineage(model_name, symbol=symbol), model={"w": symbol})
        job = await start_job(pool, model_name=model_name, regime="trending", symbol=symbol, timeframe="1h",
                              flow_run_id=run_id)
        await registry.promote(model_name, reg.version.version, reason="retrained", flow_run_id=run_id)
        await finish_job(pool, job, status=outcome, error=None if outcome == "succeeded" else "boom")

    moves = await (await RollbackService.open(settings)).moves_by_flow_run(run_id)
    assert [m.slot for m in moves] == [Slot(model_name, "trending", "BBBUSDT")]
