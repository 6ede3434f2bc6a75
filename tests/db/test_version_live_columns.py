"""performance_metrics, drift_metrics, rollback_metrics and deployment_timestamp of model_versions: kept
true by the database, in the transaction of the write they reflect, under every role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from alphaplus.core.errors import PermissionDenied
from alphaplus.rollback.service import RollbackService, SlotFilter
from db.errors import translated
from db.pool import get_pool
from tests.db.live_windows import HOLDOUT

HOUR = timedelta(hours=1)
LIVE_COLUMNS = "performance_metrics, drift_metrics, rollback_metrics, deployment_timestamp"


async def write_window(executor, v, *, start, acc=0.6, n=500, source="live", psi=None):
    """One resolved window of ``v`` (F1 == accuracy), with per-feature PSI when ``psi`` is given."""
    n_correct = round(acc * n)
    fp = fn = (n - n_correct) // 2
    tp = max(1, round(acc * (fp + fn) / (2 * (1 - acc))))
    drift = {name: {"value": value, "n": n, "n_missing": 0} for name, value in (psi or {}).items()}
    worst = max(psi.items(), key=lambda item: item[1]) if psi else (None, None)
    await executor.execute(
        """INSERT INTO model_performance_history (ts, window_start, model_name, version, regime, symbol, source,
               n_samples, n_correct, accuracy, f1, total_inferences, error_count, error_rate, drift_metrics,
               max_psi, metrics)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, 0.0, $13, $14, $15)""",
        start + HOUR, start, v.model_name, v.version, v.regime, v.symbol, source, n, n_correct, n_correct / n, acc, n,
        drift, worst[1], {"true_positives": tp, "false_positives": fp, "false_negatives": fn,
                          "max_psi_feature": worst[0]})
    return start + HOUR


async def live_columns(executor, model_name: str) -> dict[int, asyncpg.Record]:
    rows = await executor.fetch(
        f"SELECT version, {LIVE_COLUMNS} FROM model_versions WHERE model_name = $1", model_name)
    return {r["version"]: r for r in rows}


async def test_windows_assessments_rollbacks_and_moves_are_reflected_on_the_version_rows(
    settings, registry, register, model_name
):
    pool = await get_pool(settings.database_url, settings)
    service = await RollbackService.open(settings)
    v1, v2 = [await register(model_name, training_metrics={"holdout": HOLDOUT}) for _ in range(2)]
    assert set((await live_columns(pool, model_name))[1].values()) == {1, None}  # nothing yet

    for v in (v1, v2):
        await registry.promote(model_name, v.version, reason="in turn")
    audit = {e.to_version: e.ts for e in await registry.audit_events(model_name) if e.event == "production_moved"}
    cols = await live_columns(pool, model_name)
    assert (cols[1]["deployment_timestamp"], cols[2]["deployment_timestamp"]) == (audit[1], audit[2])

    t = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    t = await write_window(pool, v2, start=t, acc=0.6, psi={"ret_1": 0.05, "vol": 0.12})
    await write_window(pool, v2, start=t + 5 * HOUR, source="shadow", acc=0.1)  # not live: ignored
    [r] = await service.assess_slots(SlotFilter(model_name=model_name), now=t)
    assert r.status == "healthy"
    cols = await live_columns(pool, model_name)
    perf, drift, assessed = cols[2]["performance_metrics"], cols[2]["drift_metrics"], cols[2]["rollback_metrics"]
    assert datetime.fromisoformat(perf["window_end"]) == t and perf["accuracy"] == 0.6 and perf["n_samples"] == 500
    assert drift["psi"] == {"ret_1": 0.05, "vol": 0.12} and drift["max_psi_feature"] == "vol"
    assert (assessed["source"], assessed["status"], assessed["triggers"]) == ("assessment", "healthy", [])
    assert assessed["confidence"] == r.assessment.confidence and assessed["risk"] == r.assessment.risk
    assert cols[1]["performance_metrics"] is None and cols[1]["rollback_metrics"] is None

    for _ in range(3):  # until the loss of edge is confirmed
        t = await write_window(pool, v2, start=t, acc=0.4)
        [r] = await service.assess_slots(SlotFilter(model_name=model_name), now=t)
        if r.outcome == "executed":
            break
    assert r.outcome == "executed" and r.target_version == 1
    cols = await live_columns(pool, model_name)
    [event] = await pool.fetch("SELECT * FROM rollback_events WHERE model_name = $1", model_name)
    rolled = cols[2]["rollback_metrics"]
    assert (rolled["source"], rolled["triggers"], rolled["severity"]) == (
        "rollback_event", list(event["triggers"]), event["risk"])
    assert (rolled["degradation"], rolled["confidence"]) == (event["degradation"], event["confidence"])
    assert rolled["risk"] == r.assessment.risk and rolled["rollback"]["to_version"] == 1
    assert datetime.fromisoformat(cols[2]["performance_metrics"]["window_end"]) == t
    assert cols[2]["drift_metrics"]["psi"] == {}  # the latest window measured no drift
    since = await pool.fetchval("SELECT since FROM production_slots WHERE model_name = $1", model_name)
    assert cols[1]["deployment_timestamp"] == since > cols[2]["deployment_timestamp"] == audit[2]

    # A window resolved late (older than the stored one) does not replace it.
    await write_window(pool, v2, start=t - 10 * HOUR, acc=0.9)
    assert (await live_columns(pool, model_name))[2]["performance_metrics"] == cols[2]["performance_metrics"]


async def test_a_failed_write_leaves_the_version_columns_as_they_were(settings, registry, register, model_name):
    pool = await get_pool(settings.database_url, settings)
    v = await register(model_name)
    t = datetime.now(UTC).replace(microsecond=0)
    await write_window(pool, v, start=t, acc=0.6)
    before = await live_columns(pool, model_name)
    with pytest.raises(ZeroDivisionError):
        async with pool.acquire() as conn, conn.transaction():
            await write_window(conn, v, start=t + HOUR, acc=0.2)
            assert (await live_columns(conn, model_name))[1]["performance_metrics"]["accuracy"] == 0.2
            raise ZeroDivisionError  # the writer fails after the history row: both go
    assert await live_columns(pool, model_name) == before


async def test_the_roles_that_write_history_and_moves_update_the_columns_but_nobody_writes_them_directly(
    registry, register, as_role, connect_as, model_name
):
    v = await register(model_name)
    reader = await connect_as("reader")
    resolver = await connect_as("resolver")
    t = datetime.now(UTC).replace(microsecond=0)
    await write_window(resolver, v, start=t, acc=0.55)  # the resolver's INSERT carries the update with it
    assert (await live_columns(reader, model_name))[1]["performance_metrics"]["accuracy"] == 0.55

    operator = await as_role("operator")
    await operator.promote(model_name, v.version, reason="operator promotes")
    assert (await live_columns(reader, model_name))[1]["deployment_timestamp"] is not None

    for role in ("reader", "trainer", "operator"):
        conn = await connect_as(role)
        for column in ("performance_metrics", "drift_metrics", "rollback_metrics"):
            with pytest.raises(PermissionDenied):
                with translated():
                    await conn.execute(f"UPDATE model_versions SET {column} = '{{}}' WHERE model_name = $1",
                                       model_name)
        with pytest.raises(PermissionDenied):
            with translated():
                await conn.execute("UPDATE model_versions SET deployment_timestamp = now() WHERE model_name = $1",
                                   model_name)
    # Registered metadata is immutable (0011): nobody, the trainer included, may rewrite it.
    trainer = await connect_as("trainer")
    with pytest.raises(PermissionDenied):
        with translated():
            await trainer.execute(
                """UPDATE model_versions SET version_metadata = version_metadata || '{"note": "x"}'
                   WHERE model_name = $1""", model_name)
    assert "note" not in (await registry.get_version(model_name, 1)).version_metadata
