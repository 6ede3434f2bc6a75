"""Rollback service on a real PostgreSQL: assessment over live windows against the holdout baseline,
audited rollback, market shift, safety."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from alphaplus.core.entities import Slot
from alphaplus.core.errors import InvalidInput, ModelNotFound, NoProductionVersion, VersionNotFound
from alphaplus.rollback.results import RollbackRequest
from alphaplus.rollback.service import RollbackService, SlotFilter, UnsafeRollbackTarget
from db.pool import get_pool
from tests.db.conftest import make_lineage
from tests.db.live_windows import HOLDOUT, HOUR, LOOK, write_window


@pytest.fixture
async def service(settings):
    return await RollbackService.open(settings)


@pytest.fixture
async def pool(settings):
    return await get_pool(settings.database_url, settings)


@pytest.fixture
def register(registry):
    """Register a staging version of a slot whose holdout outcomes were recorded at training."""

    async def go(model_name: str, *, regime: str = "trending", symbol: str = "BTCUSDT"):
        lineage = make_lineage(model_name, regime=regime, symbol=symbol)
        reg = await registry.register_model_version(
            lineage, model={"weights": lineage.lineage_key}, training_metrics={"holdout": HOLDOUT},
            validation_metrics={"accuracy": 0.7},
        )
        return reg.version

    return go


async def served_in_turn(register, registry, model_name, count=2, **slot):
    """``count`` versions of one slot promoted in turn: the last is production, the others rollback_candidate."""
    versions = [await register(model_name, **slot) for _ in range(count)]
    for v in versions:
        await registry.promote(model_name, v.version, reason="test promotion")
    return versions


async def events(pool, model_name):
    return await pool.fetch(
        "SELECT * FROM rollback_events WHERE model_name = $1 ORDER BY event_time, id", model_name
    )


def future() -> datetime:
    # Windows must end after the pointer moved (real clock); the tests then drive ``now`` forward.
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)


async def test_a_lost_edge_is_rolled_back_once_to_the_previous_version_which_never_flaps_back(
    service, registry, register, model_name, pool
):
    v1, v2 = await served_in_turn(register, registry, model_name)
    flt = SlotFilter(model_name=model_name)
    t = future()

    t = await write_window(pool, v2, start=t, acc=0.60)
    [r] = await service.assess_slots(flt, now=t)
    assert r.status == "insufficient_evidence" and r.outcome == "none"  # a look, too early to test anything
    [r] = await service.assess_slots(flt, now=t + timedelta(minutes=1))
    assert r.outcome == "no_new_data"  # the same window never counts twice

    statuses = []
    for _ in range(3):
        t = await write_window(pool, v2, start=t, acc=0.30)
        [r] = await service.assess_slots(flt, now=t)
        statuses.append(r.status)
    assert statuses == ["healthy", "triggered_pending", "rollback"]
    assert r.outcome == "executed" and r.target_version == v1.version
    assert (await registry.get_production_model(v1.slot)).version == v1.version
    assert (await registry.get_version(model_name, v2.version)).status == "failed"

    [ev] = await events(pool, model_name)
    assert (ev["from_version"], ev["to_version"], ev["outcome"]) == (v2.version, v1.version, "executed")
    assert ev["rollback_type"] == "automatic" and ev["for_cause"]
    assert "performance_degradation" in ev["triggers"]
    assert "confirmed in 2 consecutive looks: roll back" in ev["rollback_reason"]
    assert (ev["n_outcomes"], ev["n_effective"]) == (4 * LOOK, pytest.approx(4 * LOOK / 7))
    assert ev["test_name"] == "balanced_accuracy_skill: two-sample z, overlap-corrected"
    assert ev["statistic"] < -2 and 0 < ev["p_value"] < 0.05
    snap = ev["metrics_snapshot"]
    assert snap["window"]["n"] == LOOK and snap["assessment"]["evidence"]["n"] == 4 * LOOK
    assert snap["candidates"]["target"] == v1.version and snap["holdout_metrics"]["n_effective"] > 0
    assert ev["confidence"] > 0.95 and ev["risk"] == "critical"
    moves = [e for e in await registry.audit_events(model_name) if e.event == "production_moved"]
    assert moves[-1].to_version == v1.version and moves[-1].reason.startswith("rollback (automatic)")

    # v1 fails as well: for the cooldown's 40 independent outcomes (480 rows) nothing moves.
    for _ in range(3):
        t = await write_window(pool, v1, start=t, acc=0.30)
        [r] = await service.assess_slots(flt, now=t)
        assert r.status == "cooldown" and r.outcome == "none"
    # After the cooldown the loss is confirmed again, but v2 (failed, barred) is never restored.
    for _ in range(2):
        t = await write_window(pool, v1, start=t, acc=0.30)
        [r] = await service.assess_slots(flt, now=t)
    assert r.status == "rollback" and r.outcome == "no_safe_candidate"
    assert (await registry.get_production_model(v1.slot)).version == v1.version
    rows = await events(pool, model_name)
    assert [e["outcome"] for e in rows] == ["executed", "no_safe_candidate"]
    assert rows[-1]["to_version"] is None
    ranking = {c["version"]: c for c in rows[-1]["metrics_snapshot"]["candidates"]["ranking"]}
    assert not ranking[v2.version]["eligible"]
    assert any("failed" in why for why in ranking[v2.version]["reasons"])
    state = await pool.fetchrow("SELECT * FROM slot_assessments WHERE model_name = $1", model_name)
    assert state["last_test"] and state["last_n"] > 0 and 0 <= state["last_p_value"] <= 1


async def both_slots_lose_their_edge(service, registry, register, model_name, pool, *, shadow_acc):
    """Trending and ranging production versions of one symbol lose their edge together, while the
    trending slot's previous version is scored in shadow at ``shadow_acc``; returns (results, old, trending)."""
    old, trending = await served_in_turn(register, registry, model_name, regime="trending")
    _, ranging = await served_in_turn(register, registry, model_name, regime="ranging")
    t = future()
    for _ in range(4):
        for v in (trending, ranging):
            await write_window(pool, v, start=t, acc=0.30)
        await write_window(pool, old, start=t, acc=shadow_acc, source="shadow")
        t += HOUR
        results = {r.slot.regime: r for r in await service.assess_slots(SlotFilter(model_name=model_name), now=t)}
    return results, old, trending


async def test_most_slots_of_a_symbol_losing_their_edge_with_a_target_no_better_in_shadow_is_a_market_shift(
    service, registry, register, model_name, pool
):
    # The older version fails as much in shadow.
    results, old, trending = await both_slots_lose_their_edge(service, registry, register, model_name, pool,
                                                              shadow_acc=0.32)
    r = results["trending"]
    assert (r.status, r.outcome) == ("market_shift", "market_shift") and r.rollback.to_version is None
    assert "market shift: 2 of 2 tested production slots of BTCUSDT lost their edge" in " ".join(r.assessment.reasons)
    assert f"version {old.version} does no better in shadow" in " ".join(r.assessment.reasons)
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == trending.version
    rows = [e for e in await events(pool, model_name) if e["regime"] == "trending"]
    assert [e["outcome"] for e in rows] == ["market_shift"] and rows[0]["p_value"] < 0.05
    assert rows[0]["metrics_snapshot"]["withheld_target"] == old.version and not rows[0]["for_cause"]
    assert results["ranging"].status == "market_shift"
    state = await pool.fetchrow("SELECT last_status FROM slot_assessments WHERE model_name = $1 AND regime = $2",
                                model_name, "trending")
    assert state["last_status"] == "market_shift"


async def test_a_target_doing_clearly_better_in_shadow_is_restored_even_when_the_market_moved(
    service, registry, register, model_name, pool
):
    results, old, _ = await both_slots_lose_their_edge(service, registry, register, model_name, pool,
                                                       shadow_acc=0.62)
    r = results["trending"]
    assert (r.status, r.outcome, r.target_version) == ("rollback", "executed", old.version)


async def test_concurrent_assessments_of_a_slot_roll_back_at_most_once(service, registry, register, model_name, pool):
    await served_in_turn(register, registry, model_name, count=3)
    v3 = await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))
    t = future()
    t = await write_window(pool, v3, start=t, acc=0.60)
    flt = SlotFilter(model_name=model_name)
    await service.assess_slots(flt, now=t)
    for _ in range(2):
        t = await write_window(pool, v3, start=t, acc=0.30)
        await service.assess_slots(flt, now=t)
    t = await write_window(pool, v3, start=t, acc=0.30)

    runs = await asyncio.gather(*(service.assess_slots(flt, now=t) for _ in range(6)))
    manual = await asyncio.gather(*(
        service.execute_rollback(RollbackRequest(v3.slot, assessed_version=v3.version, reason="operator"))
        for _ in range(3)
    ))
    outcomes = [r.outcome for [r] in runs] + [m.outcome for m in manual]
    assert outcomes.count("executed") == 1, outcomes
    # The others saw production already moved (aborted, or nothing new to assess) or lost the race
    # to store the slot's state (superseded).
    assert set(outcomes) <= {"executed", "aborted", "superseded", "no_new_data"}
    assert [e["outcome"] for e in await events(pool, model_name)] == ["executed"]
    statuses = [v.status for v in await registry.list_versions(model_name=model_name)]
    assert statuses.count("production") == 1


async def test_failed_quarantined_and_tampered_versions_are_never_chosen(
    service, registry, register, model_name, settings, pool
):
    v1, v2, v3, v4, v5 = await served_in_turn(register, registry, model_name, count=5)
    await registry.quarantine_version(model_name, v2.version, reason="bad labels")
    path = settings.artifacts_dir / v3.artifact.path
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    await registry.mark_failed(model_name, v4.version, reason="broken")

    plan = await service.execute_rollback(RollbackRequest(v5.slot, assessed_version=v5.version, reason="check",
                                                          dry_run=True))
    assert plan.outcome == "dry_run" and plan.to_version == v1.version
    why = {r.version: " ".join(r.reasons) for r in plan.choice.ranking}
    assert "quarantined" in why[v2.version]
    assert "did not verify" in why[v3.version]
    assert "failed" in why[v4.version]

    for version, words in ((v2.version, "quarantined"), (v3.version, "did not verify"), (v4.version, "failed")):
        with pytest.raises(UnsafeRollbackTarget, match=words):
            await service.request_rollback(model_name, "trending", "BTCUSDT", to_version=version, reason="try")
    done = await service.request_rollback(model_name, "trending", "BTCUSDT", reason="bad fills")
    assert (done.outcome, done.from_version, done.to_version) == ("executed", v5.version, v1.version)


async def test_no_safe_candidate_is_recorded_and_production_is_left_as_is(
    service, registry, register, model_name, pool
):
    v1, v2 = await served_in_turn(register, registry, model_name)
    await registry.mark_failed(model_name, v1.version, reason="broken")
    out = await service.request_rollback(model_name, "trending", "BTCUSDT", reason="operator")
    assert out.outcome == "no_safe_candidate" and out.to_version is None
    [ev] = await events(pool, model_name)
    assert (ev["outcome"], ev["from_version"], ev["to_version"], ev["rollback_type"]) == (
        "no_safe_candidate", v2.version, None, "manual")
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == v2.version


async def test_dry_runs_change_nothing(service, registry, register, model_name, pool):
    v1, v2 = await served_in_turn(register, registry, model_name)
    t = future()
    t = await write_window(pool, v2, start=t, acc=0.60)
    for _ in range(3):
        t = await write_window(pool, v2, start=t, acc=0.30)
    audit_before = len(await registry.audit_events(model_name))
    # One pooled look can prove the loss but not the streak; a manual dry run shows the plan.
    [r] = await service.assess_slots(SlotFilter(model_name=model_name), now=t, dry_run=True)
    assert r.outcome == "none" and r.status == "triggered_pending"
    plan = await service.request_rollback(model_name, "trending", "BTCUSDT", reason="what if", dry_run=True)
    assert (plan.outcome, plan.to_version) == ("dry_run", v1.version)
    assert await events(pool, model_name) == []
    assert await pool.fetchval("SELECT count(*) FROM slot_assessments WHERE model_name = $1", model_name) == 0
    assert len(await registry.audit_events(model_name)) == audit_before
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == v2.version


async def test_small_windows_accumulate_until_they_hold_enough_evidence(service, registry, register, model_name, pool):
    _, v2 = await served_in_turn(register, registry, model_name)
    t = future()
    flt = SlotFilter(model_name=model_name)
    t = await write_window(pool, v2, start=t, n=100)
    [r] = await service.assess_slots(flt, now=t)
    assert r.status == "insufficient_evidence" and "a look needs 120" in r.assessment.reasons[0]
    assert await pool.fetchval("SELECT count(*) FROM slot_assessments WHERE model_name = $1", model_name) == 0
    t = await write_window(pool, v2, start=t, n=100)
    [r] = await service.assess_slots(flt, now=t)  # 200 outcomes and calls: a look and an error check
    assert r.status == "healthy" and r.assessment.look and r.assessment.tests[-1].n == 200
    state = await pool.fetchrow("SELECT * FROM slot_assessments WHERE model_name = $1", model_name)
    assert state["last_window_end"] == t and state["last_status"] == "healthy" and state["last_n"] == 200


async def test_a_promotion_starts_a_fresh_streak(service, registry, register, model_name, pool):
    _, v2 = await served_in_turn(register, registry, model_name)
    flt = SlotFilter(model_name=model_name)
    t = future()
    t = await write_window(pool, v2, start=t, n=3 * LOOK, acc=0.30)
    [r] = await service.assess_slots(flt, now=t)
    assert r.assessment.consecutive_count == 1
    v3 = await register(model_name)
    await registry.promote(model_name, v3.version, reason="retrained")
    t = future() + 6 * HOUR
    t = await write_window(pool, v3, start=t, acc=0.30)
    [r] = await service.assess_slots(flt, now=t)
    assert r.production_version == v3.version and r.assessment.consecutive_count == 0
    assert r.status == "insufficient_evidence"  # v2's looks are not v3's evidence


async def test_user_mistakes_raise_domain_errors(service, registry, register, model_name):
    with pytest.raises(ModelNotFound):
        await service.request_rollback(model_name, "trending", "BTCUSDT", reason="x")
    v1, v2 = await served_in_turn(register, registry, model_name)
    with pytest.raises(NoProductionVersion):
        await service.request_rollback(model_name, "ranging", "BTCUSDT", reason="x")
    with pytest.raises(VersionNotFound):
        await service.request_rollback(model_name, "trending", "BTCUSDT", to_version=99, reason="x")
    with pytest.raises(UnsafeRollbackTarget, match="production version now"):
        await service.request_rollback(model_name, "trending", "BTCUSDT", to_version=v2.version, reason="x")
    other = await register(model_name, symbol="ETHUSDT")
    with pytest.raises(InvalidInput, match="belongs to slot"):
        await service.request_rollback(model_name, "trending", "BTCUSDT", to_version=other.version, reason="x")
    out = await service.request_rollback(model_name, "trending", "BTCUSDT", reason="x", expected_version=v1.version)
    assert out.outcome == "aborted"
    assert Slot(model_name, "trending", "BTCUSDT") == out.slot


async def test_one_slot_with_broken_state_does_not_stop_the_others(service, registry, register, model_name, pool):
    await served_in_turn(register, registry, model_name)
    _, eth = await served_in_turn(register, registry, model_name, symbol="ETHUSDT")
    await pool.execute(
        "INSERT INTO slot_assessments (model_name, regime, symbol, history, revision) VALUES ($1, $2, $3, $4, 1)",
        model_name, "trending", "BTCUSDT", {"consecutive_count": "many"},
    )
    t = future()
    for v in (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT")), eth):
        await write_window(pool, v, start=t, n=4 * LOOK)
    run = await service.assess_slots(SlotFilter(model_name=model_name), now=t + HOUR)
    results = {r.slot.symbol: r for r in run}
    assert results["BTCUSDT"].outcome == "error" and "malformed" in results["BTCUSDT"].error
    assert results["ETHUSDT"].status == "healthy"
