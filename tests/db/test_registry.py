"""The registry on a real PostgreSQL: versions, lifecycle, production pointer, audit, quarantine."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from alphaplus.core.entities import ChangeContext, Slot
from alphaplus.core.errors import (
    ArtifactIntegrityError,
    ConcurrentModification,
    IllegalTransition,
    InvalidInput,
    QuarantinedError,
    VersionNotFound,
)
from tests.db.conftest import make_lineage

WORKER = Path(__file__).with_name("register_worker.py")


async def test_eight_processes_registering_fifty_versions_each_get_400_gap_free_numbers(
    database_url, settings, model_name, registry
):
    env = {**os.environ, "ALPHAPLUS_DATABASE_URL": database_url, "ALPHAPLUS_HOME": str(settings.home),
           "PYTHONPATH": str(WORKER.parents[2])}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), model_name, "50", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(8)
    ]
    outputs = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [e.decode()[-500:] for _, e in outputs]
    numbers = sorted(int(n) for out, _ in outputs for n in out.split())
    assert numbers == list(range(1, 401))
    stored = await registry.list_versions(model_name=model_name, limit=1000)
    assert sorted(v.version for v in stored) == list(range(1, 401))


async def test_registering_the_same_lineage_twice_returns_the_existing_version(registry, model_name):
    lineage = make_lineage(model_name)
    first = await registry.register_model_version(lineage, model={"w": 1})
    again = await registry.register_model_version(lineage, model={"w": 1})
    assert first.created and not again.created
    assert again.version.version == first.version.version
    assert len(await registry.list_versions(model_name=model_name)) == 1


async def test_twenty_concurrent_promotions_leave_exactly_one_production_version(registry, register, model_name):
    versions = [await register(model_name) for _ in range(20)]
    slot = versions[0].slot
    results = await asyncio.gather(
        *(registry.promote(model_name, v.version, reason=f"race {v.version}") for v in versions),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    statuses = [v.status for v in await registry.list_versions(model_name=model_name)]
    assert statuses.count("production") == 1
    assert statuses.count("rollback_candidate") == 19
    production = await registry.get_production_model(slot)
    # Replaying the audit log's pointer moves in order gives the same final state.
    history = await registry.slot_history(slot)
    assert len(history) == 20
    assert history[-1].version == production.version and history[-1].end is None
    moves = [e for e in await registry.audit_events(model_name) if e.event == "production_moved"]
    replay = None
    for move in moves:
        assert move.from_version == replay
        replay = move.to_version
    assert replay == production.version


async def test_a_promotion_decided_against_a_stale_champion_is_refused(registry, register, model_name):
    a, b, c = [await register(model_name) for _ in range(3)]
    await registry.promote(model_name, a.version, reason="first")
    await registry.promote(model_name, b.version, reason="challenger b", expected_current=a.version)
    with pytest.raises(ConcurrentModification, match="nothing was changed"):
        await registry.promote(model_name, c.version, reason="challenger c", expected_current=a.version)
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == b.version
    assert (await registry.get_version(model_name, c.version)).status == "staging"


async def test_an_illegal_transition_changes_nothing_and_raises_the_domain_error(registry, register, model_name):
    v = await register(model_name)
    await registry.mark_failed(model_name, v.version, reason="bad validation")
    before = await registry.audit_events(model_name)
    with pytest.raises(IllegalTransition, match="is 'failed'; only .* versions can become 'production'"):
        await registry.promote(model_name, v.version, reason="try anyway")
    assert (await registry.get_version(model_name, v.version)).status == "failed"
    assert await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT")) is None
    assert await registry.audit_events(model_name) == before


async def test_production_at_answers_before_between_and_after_promotions(registry, register, model_name):
    a, b = await register(model_name), await register(model_name)
    slot = a.slot
    first = await registry.promote(model_name, a.version, reason="first")
    second = await registry.promote(model_name, b.version, reason="second")
    tiny = timedelta(microseconds=1)
    assert await registry.production_at(slot, first.at - tiny) is None
    assert await registry.production_at(slot, first.at) == a.version
    assert await registry.production_at(slot, second.at - tiny) == a.version
    assert await registry.production_at(slot, second.at + timedelta(days=1)) == b.version
    demoted = await registry.demote(model_name, b.version, reason="retire")
    assert demoted.status == "rollback_candidate"
    assert await registry.production_at(slot, demoted.updated_at + tiny) is None


async def test_slots_are_independent(registry, register, model_name):
    a = await register(model_name, regime="trending")
    b = await register(model_name, regime="ranging")
    await registry.promote(model_name, a.version, reason="t")
    await registry.promote(model_name, b.version, reason="r")
    assert (await registry.get_version(model_name, a.version)).status == "production"
    assert (await registry.get_version(model_name, b.version)).status == "production"


async def test_a_tampered_or_truncated_artifact_is_refused_on_load(registry, register, model_name):
    v = await register(model_name)
    assert await registry.load_model(v) == {"weights": (await registry.get_lineage(model_name, v.version)).lineage_key}
    file = registry.artifacts.resolve(v.artifact.path)
    original = file.read_bytes()
    file.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(ArtifactIntegrityError, match="does not match its registered SHA-256"):
        await registry.load_model(v)
    file.write_bytes(original[:10])
    with pytest.raises(ArtifactIntegrityError, match="bytes"):
        await registry.load_model(v)
    file.unlink()
    with pytest.raises(ArtifactIntegrityError, match="missing"):
        await registry.load_model(v)


POISONED = "xxh3_128:" + "0badda7a" * 4


async def test_a_quarantined_lineage_blocks_promotion_of_its_descendants(registry, register, model_name):
    parent = await register(model_name, data_hash=POISONED)
    await registry.promote(model_name, parent.version, reason="first")
    child = await register(model_name, parent_model_version=parent.version)
    sibling = await register(model_name, data_hash=POISONED)
    unrelated = await register(model_name)
    await registry.promote(model_name, unrelated.version, reason="clean")
    await registry.quarantine_training_data(POISONED, reason="exchange sent bad prints")
    for v in (parent, child, sibling):
        with pytest.raises(QuarantinedError, match="exchange sent bad prints"):
            await registry.promote(model_name, v.version, reason="try")
    assert await registry.quarantine_reason(model_name, child.version) is not None
    assert await registry.quarantine_reason(model_name, unrelated.version) is None


async def test_usage_is_accumulated_from_batches(registry, register, model_name):
    v = await register(model_name)
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    await registry.record_usage([(model_name, v.version, 10, 1, 20.0, now)])
    await registry.record_usage([(model_name, v.version, 30, 2, 30.0, now)])
    usage = await registry.usage_stats(model_name, v.version)
    assert (usage.total_inferences, usage.error_count) == (40, 3)
    assert usage.avg_inference_time_ms == pytest.approx(50.0 / 40)
    assert usage.last_used_timestamp == now


async def test_unknown_versions_raise_version_not_found(registry, model_name):
    with pytest.raises(VersionNotFound, match=f"version 9 of {model_name} does not exist"):
        await registry.get_version(model_name, 9)


async def test_promotion_to_a_version_of_another_slot_is_refused(registry, register, model_name):
    v = await register(model_name, regime="ranging")
    with pytest.raises(InvalidInput, match="belongs to slot"):
        await registry.repo.move_production(Slot(model_name, "trending", "BTCUSDT"), v.version,
                                            ctx=ChangeContext(reason="x"))


async def test_two_gated_promotions_racing_for_one_slot_let_exactly_one_win(registry, register, model_name):
    champion, a, b = [await register(model_name) for _ in range(3)]
    await registry.promote(model_name, champion.version, reason="first")
    results = await asyncio.gather(
        registry.promote(model_name, a.version, reason="a", expected_current=champion.version),
        registry.promote(model_name, b.version, reason="b", expected_current=champion.version),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ConcurrentModification)
    assert "nothing was changed" in str(errors[0])
    statuses = {v.version: v.status for v in await registry.list_versions(model_name=model_name)}
    assert sorted(statuses.values()) == ["production", "rollback_candidate", "staging"]
