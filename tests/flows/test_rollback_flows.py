"""Rollback flows end to end: real Prefect (test harness) and PostgreSQL; the failure hook too."""

from __future__ import annotations

import pytest

from alphaplus.core.entities import Slot
from prefect import flow
from prefect.runtime import flow_run

from tests.db.conftest import make_lineage

pytestmark = pytest.mark.prefect


async def two_served_versions(registry, model_name):
    versions = []
    for _ in range(2):
        reg = await registry.register_model_version(make_lineage(model_name), model={"w": model_name + str(_)},
                                                    validation_metrics={"f1": 0.6})
        versions.append(reg.version)
        await registry.promote(model_name, reg.version.version, reason="test promotion")
    return versions


async def test_the_rollback_flow_restores_the_previous_version_and_records_the_run(flow_env, model_name):
    from alphaplus.registry.service import Registry
    from alphaplus.rollback.service import RollbackService
    from flows.assess_rollbacks import assess_rollbacks
    from flows.rollback import rollback

    registry = await Registry.open(flow_env)
    v1, v2 = await two_served_versions(registry, model_name)
    plan = await rollback(model_name, "trending", "BTCUSDT", reason="bad fills", dry_run=True)
    assert (plan["outcome"], plan["to_version"]) == ("dry_run", v1.version)
    done = await rollback(model_name, "trending", "BTCUSDT", reason="bad fills")
    assert (done["outcome"], done["from_version"], done["to_version"]) == ("executed", v2.version, v1.version)
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == v1.version
    [event] = await (await RollbackService.open(flow_env)).list_events(model_name=model_name)
    assert event.rollback_type == "manual" and event.flow_run_id and event.rollback_reason == "bad fills"

    rows = await assess_rollbacks(model_name=model_name, dry_run=True)
    assert [(r["version"], r["outcome"]) for r in rows] == [(v1.version, "no_new_data")]


async def test_a_failed_run_that_promoted_is_rolled_back_by_its_failure_hook(flow_env, model_name):
    from alphaplus.registry.service import Registry
    from alphaplus.rollback.service import RollbackService
    from flows.hooks import trigger_rollback_on_failure

    registry = await Registry.open(flow_env)
    _, v2 = await two_served_versions(registry, model_name)
    v3 = (await registry.register_model_version(make_lineage(model_name), model={"w": "v3" + model_name})).version

    @flow(on_failure=[trigger_rollback_on_failure])
    async def promote_then_fail() -> None:
        reg = await Registry.open()
        await reg.promote(model_name, v3.version, reason="retrained", flow_run_id=str(flow_run.id))
        raise RuntimeError("post-promotion step failed")

    state = await promote_then_fail(return_state=True)
    assert state.is_failed()
    production = await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))
    assert production.version != v3.version
    assert (await registry.get_version(model_name, v3.version)).status == "failed"
    # The run's own move is undone: back to what served before it.
    assert production.version == v2.version
    events = await (await RollbackService.open(flow_env)).list_events(model_name=model_name)
    assert [(e.rollback_type, e.outcome, e.from_version, e.to_version) for e in events] == [
        ("on_failure", "executed", v3.version, v2.version)
    ]
    # The hook's own move back to v2 carries the failed run's id; undoing that run again leaves it be.
    from flows.rollback import rollback

    [again] = await rollback(failed_flow_run_id=str(state.state_details.flow_run_id), rollback_type="on_failure")
    assert (again["outcome"], again["event_id"]) == ("already_undone", events[0].id)
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == v2.version


async def test_the_rollback_flow_undoes_the_production_moves_of_a_failed_run_and_only_those(flow_env, model_name):
    from alphaplus.registry.service import Registry
    from flows.rollback import rollback

    registry = await Registry.open(flow_env)
    _, v2 = await two_served_versions(registry, model_name)
    v3 = (await registry.register_model_version(make_lineage(model_name), model={"w": "v3" + model_name})).version
    await registry.promote(model_name, v3.version, reason="retrained", flow_run_id="run-that-failed")
    results = await rollback(failed_flow_run_id="run-that-failed", rollback_type="on_failure",
                             reason="retrain run failed")
    assert [(r["outcome"], r["from_version"], r["to_version"]) for r in results] == [
        ("executed", v3.version, v2.version)
    ]
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == v2.version
    # Run again (as the automation and the failure hook both may): nothing of that run still stands,
    # and the result names the rollback that undid it.
    [again] = await rollback(failed_flow_run_id="run-that-failed", rollback_type="on_failure")
    assert (again["outcome"], again["event_id"]) == ("already_undone", results[0]["event_id"])
    assert await rollback(failed_flow_run_id="a-run-that-moved-nothing") == []


async def test_the_failure_hook_leaves_a_deployed_retrain_run_to_the_automation_and_undoes_nothing(
    flow_env, model_name
):
    from types import SimpleNamespace
    from uuid import uuid4

    from alphaplus.registry.service import Registry
    from flows.hooks import trigger_rollback_on_failure

    registry = await Registry.open(flow_env)
    _, v2 = await two_served_versions(registry, model_name)
    v3 = (await registry.register_model_version(make_lineage(model_name), model={"w": "v3" + model_name})).version
    run_id = uuid4()
    await registry.promote(model_name, v3.version, reason="retrained", flow_run_id=str(run_id))

    deployed_run = SimpleNamespace(id=run_id, name="deployed-run", deployment_id=uuid4())
    await trigger_rollback_on_failure(SimpleNamespace(name="retrain"), deployed_run, SimpleNamespace(message="x"))
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == v3.version

    cli_run = SimpleNamespace(id=run_id, name="cli-run", deployment_id=None)
    await trigger_rollback_on_failure(SimpleNamespace(name="retrain"), cli_run, SimpleNamespace(message="x"))
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == v2.version


async def test_the_assess_flow_raises_a_market_shift_instead_of_rolling_back(flow_env, model_name):
    from datetime import UTC, datetime, timedelta

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from alphaplus.registry.service import Registry
    from db.pool import get_pool
    from flows.assess_rollbacks import assess_rollbacks
    from tests.db.live_windows import HOLDOUT, HOUR, write_window

    registry = await Registry.open(flow_env)
    served = {}
    for regime in ("trending", "ranging"):
        for _ in range(2):
            reg = await registry.register_model_version(
                make_lineage(model_name, regime=regime), model={"w": f"{model_name}{regime}{_}"},
                training_metrics={"holdout": HOLDOUT})
            await registry.promote(model_name, reg.version.version, reason="test promotion")
            served.setdefault(regime, []).append(reg.version)
    pool = await get_pool(settings=flow_env)
    t = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    for _ in range(4):
        for regime in ("trending", "ranging"):
            await write_window(pool, served[regime][1], start=t, acc=0.30)
        await write_window(pool, served["trending"][0], start=t, acc=0.30, source="shadow")
        t += HOUR
        rows = await assess_rollbacks(model_name=model_name)
    assert {r["regime"]: r["outcome"] for r in rows} == {"trending": "market_shift", "ranging": "market_shift"}
    production = await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))
    assert production.version == served["trending"][1].version
    async with get_client() as client:
        [artifact] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["market-shift"])), limit=1, sort="CREATED_DESC")
    assert "Market shift: rollbacks withheld" in artifact.data and f"{model_name} / trending" in artifact.data


async def _rollbacks_table(model_name, capsys) -> str:
    import asyncio

    from alphaplus.cli.main import main

    capsys.readouterr()
    assert await asyncio.to_thread(main, ["rollbacks", "list", "--model", model_name]) == 0
    return capsys.readouterr().out


async def test_a_failed_retrain_run_that_installed_a_slots_first_version_leaves_the_slot_as_before_once(
    flow_env, model_name, capsys
):
    from alphaplus.registry.service import Registry
    from alphaplus.rollback.service import RollbackService
    from flows.hooks import trigger_rollback_on_failure
    from flows.rollback import rollback

    registry = await Registry.open(flow_env)
    v1 = (await registry.register_model_version(make_lineage(model_name), model={"w": "first" + model_name})).version

    @flow(name="retrain", on_failure=[trigger_rollback_on_failure])
    async def promote_the_first_version_then_fail() -> None:
        reg = await Registry.open()
        await reg.promote(model_name, v1.version, reason="retrained", flow_run_id=str(flow_run.id))
        raise RuntimeError("post-promotion step failed")

    state = await promote_the_first_version_then_fail(return_state=True)
    assert state.is_failed()
    failed_run = str(state.state_details.flow_run_id)
    # The failure hook restored the slot's state before the run: no production version.
    assert await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT")) is None
    assert (await registry.get_version(model_name, v1.version)).status == "failed"
    service = await RollbackService.open(flow_env)
    [event] = await service.list_events(model_name=model_name)
    assert (event.rollback_type, event.outcome, event.from_version, event.to_version) == (
        "on_failure", "executed", v1.version, None)
    assert event.rollback_reason.startswith("slot left without a production version")

    # The automation's run for the same failure comes second: it completes, changes nothing, and says
    # which rollback did the work.
    second = await rollback(failed_flow_run_id=failed_run, rollback_type="on_failure", reason="retrain failed",
                            return_state=True)
    assert second.is_completed()
    [entry] = await second.result()
    assert (entry["outcome"], entry["event_id"]) == ("already_undone", event.id)
    assert f"rollback event #{event.id}" in entry["reason"] and "no production version" in entry["reason"]
    assert [e.id for e in await service.list_events(model_name=model_name)] == [event.id]

    table = await _rollbacks_table(model_name, capsys)
    # One event: executed, from version 1 to none (no production version).
    rows = [line for line in table.splitlines() if "executed" in line]
    assert len(rows) == 1 and "none" in rows[0] and f" {v1.version} " in rows[0]


async def test_the_automation_alone_undoes_a_first_version_and_a_repeat_is_a_no_op(flow_env, model_name):
    from alphaplus.registry.service import Registry
    from alphaplus.rollback.service import RollbackService
    from flows.rollback import rollback

    registry = await Registry.open(flow_env)
    v1 = (await registry.register_model_version(make_lineage(model_name), model={"w": "one" + model_name})).version
    await registry.promote(model_name, v1.version, reason="retrained", flow_run_id="deployed-run-that-failed")
    [done] = await rollback(failed_flow_run_id="deployed-run-that-failed", rollback_type="on_failure",
                            reason="retrain failed")
    assert (done["outcome"], done["from_version"], done["to_version"]) == ("executed", v1.version, None)
    assert await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT")) is None
    [again] = await rollback(failed_flow_run_id="deployed-run-that-failed", rollback_type="on_failure")
    assert (again["outcome"], again["event_id"]) == ("already_undone", done["event_id"])
    # The failure hook's path (the service) agrees: nothing left, the earlier event named.
    undo = await (await RollbackService.open(flow_env)).undo_flow_run("deployed-run-that-failed", reason="x")
    assert undo.outcomes == () and "already undone" in undo.summary()
    assert len(await (await RollbackService.open(flow_env)).list_events(model_name=model_name)) == 1
