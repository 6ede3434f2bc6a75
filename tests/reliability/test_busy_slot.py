"""A slot held by a stuck writer: promotions and rollbacks that wait longer than the lock timeout fail
with a domain error (one line on the command line), and change nothing."""

from __future__ import annotations

import asyncpg
import pytest

from alphaplus.core.entities import Slot
from alphaplus.core.errors import ConcurrentModification
from alphaplus.core.settings import Settings
from tests.db.conftest import make_lineage
from tests.reliability.invariants import check_model

pytestmark = pytest.mark.reliability

async def test_a_rollback_or_promotion_of_a_slot_locked_past_the_lock_timeout_fails_cleanly_and_changes_nothing(
    settings, registry, model_name, conn
):
    from alphaplus.registry.service import Registry
    from alphaplus.rollback.service import RollbackService, policy_from_settings
    from db.pool import init_connection, server_settings
    from db.registry import RegistryRepository, lock_slot

    for i in range(3):
        await registry.register_model_version(make_lineage(model_name), model={"w": i})
    await registry.promote(model_name, 1, reason="first")
    await registry.promote(model_name, 2, reason="second")
    impatient = Settings(database_url=settings.database_url, home=settings.home, lock_timeout_ms=200)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2, init=init_connection,
                                     server_settings=server_settings(impatient))
    holder = await asyncpg.connect(settings.database_url)
    try:
        async with holder.transaction():
            await lock_slot(holder, Slot(model_name, "trending", "BTCUSDT"))
            service = RollbackService(pool, registry.artifacts, policy_from_settings(impatient))
            with pytest.raises(ConcurrentModification, match="busy"):
                await service.request_rollback(model_name, "trending", "BTCUSDT", reason="stuck slot")
            with pytest.raises(ConcurrentModification, match="busy"):
                await Registry(RegistryRepository(pool), registry.artifacts).promote(model_name, 3, reason="stuck")
    finally:
        await holder.close()
        await pool.close()
    state = await check_model(conn, model_name)
    assert state.pointer == {("trending", "BTCUSDT"): 2}
    assert sum(state.rollback_outcomes.values()) == 0
    # Once the slot is free again, the same rollback goes through.
    out = await RollbackService(registry.repo.pool, registry.artifacts, policy_from_settings(settings)) \
        .request_rollback(model_name, "trending", "BTCUSDT", reason="slot free again")
    assert out.outcome == "executed" and out.to_version == 1
