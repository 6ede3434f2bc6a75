"""The hypertable code path on a real TimescaleDB (skipped where the extension is not installed)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from alphaplus.market.synth import synth_candles
from db.embedded import EmbeddedPostgres, extension_available, find_bin_dir

pytestmark = [
    pytest.mark.timescaledb,
    pytest.mark.skipif(not extension_available("timescaledb"), reason="TimescaleDB is not installed here"),
]

TIME_SERIES = {"candles", "inference_events", "model_performance_history", "rollback_events", "lifecycle_audit"}


@pytest.fixture(scope="module")
def timescale_dsn():
    # As root the server runs as another account, which must be able to reach the folder.
    root = Path(tempfile.mkdtemp(prefix="alphaplus-tsdb-"))
    root.chmod(0o755)
    cluster = EmbeddedPostgres(
        root / "pg", settings=("shared_preload_libraries=timescaledb", "timescaledb.telemetry_level=off")
    )
    try:
        yield cluster.ensure_running()
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_time_series_tables_become_hypertables_and_registry_tables_keep_their_constraints(timescale_dsn):
    from db.migrate import migrate
    from db.pool import connect
    from db.status import database_status

    conn = await connect(timescale_dsn)
    try:
        await migrate(conn)
        status = await database_status(conn)
        assert status.mode.startswith("timescaledb ")
        assert TIME_SERIES <= set(status.hypertables)
        assert "model_versions" not in status.hypertables and "production_slots" not in status.hypertables
    finally:
        await conn.close()


async def test_the_registry_and_candle_upserts_work_on_hypertables(timescale_dsn, tmp_path):
    from alphaplus.registry.service import Registry
    from alphaplus.core.settings import Settings
    from db.candles import fetch_candles, upsert_candles
    from db.pool import get_pool
    from tests.db.conftest import make_lineage

    settings = Settings(database_url=timescale_dsn, home=tmp_path)
    pool = await get_pool(timescale_dsn, settings)
    frame = synth_candles(2000, seed=3)
    assert await upsert_candles(pool, symbol="TSDB", timeframe="1h", frame=frame) == 2000
    assert await upsert_candles(pool, symbol="TSDB", timeframe="1h", frame=frame) == 2000  # upsert, no dupes
    assert len(await fetch_candles(pool, symbol="TSDB", timeframe="1h")) == 2000

    registry = await Registry.open(settings)
    a = (await registry.register_model_version(make_lineage("tsdb_model"), model={"w": 1})).version
    b = (await registry.register_model_version(make_lineage("tsdb_model"), model={"w": 2})).version
    first = await registry.promote("tsdb_model", a.version, reason="first")
    await registry.promote("tsdb_model", b.version, reason="second")
    assert await registry.production_at(a.slot, first.at) == a.version
    history = await registry.slot_history(a.slot)
    assert [p.version for p in history] == [a.version, b.version]
    await pool.close()


def test_the_binaries_used_are_the_ones_with_the_extension():
    assert extension_available("timescaledb", find_bin_dir())


async def test_an_admin_login_can_neither_drop_nor_truncate_audit_chunks(timescale_dsn, tmp_path):
    import asyncpg

    from alphaplus.core.settings import Settings
    from alphaplus.registry.service import Registry
    from tests.db.conftest import make_lineage
    from tests.db.logins import dsn_for

    registry = await Registry.open(Settings(database_url=timescale_dsn, home=tmp_path))
    await registry.register_model_version(make_lineage("tsdb_chunks"), model={"w": 3})
    owner = await asyncpg.connect(timescale_dsn)
    try:
        # A private cluster: its logins are nobody else's.
        await owner.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tsdb_admin') THEN "
                            "CREATE ROLE tsdb_admin LOGIN IN ROLE alphaplus_admin; END IF; END $$")
        chunks = [r[0] for r in await owner.fetch(
            "SELECT show_chunks(t)::text FROM unnest(ARRAY['lifecycle_audit', 'rollback_events']) t")]
        assert chunks
        admin = await asyncpg.connect(dsn_for(timescale_dsn, "tsdb_admin"))
        try:
            for statement in ["SELECT drop_chunks('lifecycle_audit', newer_than => '-infinity'::timestamptz)",
                              "SELECT drop_chunks('rollback_events', newer_than => '-infinity'::timestamptz)",
                              *(f"TRUNCATE {chunk}" for chunk in chunks)]:
                with pytest.raises(asyncpg.PostgresError):
                    await admin.execute(statement)
        finally:
            await admin.close()
        assert await owner.fetchval("SELECT count(*) FROM lifecycle_audit WHERE model_name = 'tsdb_chunks'") == 1
    finally:
        await owner.close()
