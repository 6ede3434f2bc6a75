"""Database roles on a real PostgreSQL: logins of each role made by the test, what they may and may
not do, the append-only audit log, actor attribution, and database URLs never printed with their
password."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import traceback
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest

from alphaplus.core.entities import ChangeContext, Slot
from alphaplus.core.errors import ConfigurationError, DatabaseUnavailable, PermissionDenied
from alphaplus.core.settings import Settings
from db.errors import translated
from tests.db.conftest import make_lineage
from tests.db.logins import PASSWORD, assert_one_clear_line, dsn_for
from tests.db.test_schema import insert_version

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # released when the block ends: nothing listens there


# --- reader ---------------------------------------------------------------------------------------


async def test_a_reader_resolves_production_records_usage_and_inference_events_and_hears_moves(
    registry, register, as_role, connect_as, model_name
):
    v = await register(model_name)
    await registry.promote(model_name, v.version, reason="first")
    reader = await as_role("reader")

    production = await reader.get_production_model(Slot(model_name, "trending", "BTCUSDT"))
    assert production.version == v.version
    now = datetime.now(timezone.utc)
    await reader.record_usage([(model_name, v.version, 10, 1, 25.0, now)])
    assert (await reader.usage_stats(model_name, v.version)).total_inferences == 10

    conn = await connect_as("reader")
    with translated():
        await conn.execute(
            "INSERT INTO inference_events (ts, model_name, version, regime, symbol, success, latency_ms) "
            "VALUES (now(), $1, $2, 'trending', 'BTCUSDT', true, 1.5)",
            model_name, v.version,
        )
    heard: asyncio.Queue = asyncio.Queue()
    await conn.add_listener("alphaplus_slots", lambda *args: heard.put_nowait(args[-1]))
    w = await register(model_name)
    await registry.promote(model_name, w.version, reason="second")
    payloads = []
    while not any(f'"version" : {w.version}' in p and "production_moved" in p for p in payloads):
        payloads.append(await asyncio.wait_for(heard.get(), timeout=10))


async def test_a_reader_is_refused_promotion_rollback_quarantine_and_audit_edits_with_one_clear_line(
    registry, register, as_role, connect_as, model_name
):
    a, b, c = [await register(model_name) for _ in range(3)]
    await registry.promote(model_name, a.version, reason="first")
    await registry.promote(model_name, b.version, reason="second")
    before = await registry.audit_events(model_name)
    reader = await as_role("reader")

    attempts = {
        "promote": lambda: reader.promote(model_name, c.version, reason="mine now"),
        "roll back": lambda: reader.repo.move_production(
            Slot(model_name, "trending", "BTCUSDT"), a.version, ctx=ChangeContext(reason="back")
        ),
        "take out of production": lambda: reader.demote(model_name, b.version, reason="stop"),
        "quarantine": lambda: reader.quarantine_version(model_name, b.version, reason="suspicious"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(PermissionDenied) as info:
            await attempt()
        assert_one_clear_line(info.value)

    conn = await connect_as("reader")
    for statement in (
        "UPDATE lifecycle_audit SET reason = 'edited' WHERE model_name = $1",
        "DELETE FROM lifecycle_audit WHERE model_name = $1",
        "INSERT INTO lifecycle_audit (event, model_name) VALUES ('registered', $1)",
        "SELECT alphaplus_audit('production_moved', $1, 'trending', 'BTCUSDT', 1, NULL, NULL, NULL, 1)",
        "INSERT INTO rollback_events (model_name, regime, symbol, rollback_type, rollback_reason) "
        "VALUES ($1, 'trending', 'BTCUSDT', 'manual', 'forged')",
        "UPDATE production_slots SET version = 1 WHERE model_name = $1",
        "UPDATE model_versions SET status = 'archived' WHERE model_name = $1",
    ):
        with pytest.raises(PermissionDenied) as info:
            with translated():
                await conn.execute(statement, model_name)
        assert_one_clear_line(info.value)
    with pytest.raises(PermissionDenied, match=r"^permission denied: .* on table lifecycle_audit \(see the README"):
        with translated():
            await conn.execute("DELETE FROM lifecycle_audit WHERE model_name = $1", model_name)

    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == b.version
    assert await registry.audit_events(model_name) == before
    assert await registry.quarantine_reason(model_name, b.version) is None


# --- trainer --------------------------------------------------------------------------------------


async def test_a_trainer_registers_staging_versions_but_cannot_promote_them(
    registry, as_role, connect_as, logins, model_name
):
    trainer = await as_role("trainer")
    reg = await trainer.register_model_version(make_lineage(model_name), model={"w": model_name})
    v = reg.version
    assert reg.created and v.status == "staging"
    events = await registry.audit_events(model_name)
    assert [(e.event, e.actor) for e in events] == [("registered", logins["name"]["trainer"])]

    with pytest.raises(PermissionDenied, match="needs the alphaplus_operator role") as info:
        await trainer.promote(model_name, v.version, reason="ship it")
    assert_one_clear_line(info.value)
    conn = await connect_as("trainer")
    with pytest.raises(PermissionDenied, match="alphaplus_operator"):
        with translated():
            await conn.execute("UPDATE model_versions SET status = 'production' WHERE model_name = $1", model_name)
    with pytest.raises(PermissionDenied):
        with translated():
            await conn.execute(
                "INSERT INTO production_slots (model_name, regime, symbol, version) VALUES ($1, 'trending', 'BTCUSDT', $2)",
                model_name, v.version,
            )
    assert await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT")) is None

    # Status changes that do not touch production are the trainer's to make.
    w = (await trainer.register_model_version(make_lineage(model_name), model={"w": 2})).version
    assert (await trainer.start_canary(model_name, w.version, reason="shadow it")).status == "canary"
    assert (await trainer.mark_failed(model_name, v.version, reason="bad validation")).status == "failed"

    # ... but not taking a production version out of service.
    await registry.promote(model_name, w.version, reason="operator's call")
    with pytest.raises(PermissionDenied) as info:
        await trainer.demote(model_name, w.version, reason="no")
    assert_one_clear_line(info.value)
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == w.version


async def test_a_temporary_table_cannot_divert_audit_rows(connect_as, model_name):
    conn = await connect_as("trainer")
    await conn.execute("CREATE TEMPORARY TABLE lifecycle_audit (LIKE public.lifecycle_audit INCLUDING DEFAULTS)")
    await insert_version(conn, model_name, 1)
    assert await conn.fetchval("SELECT count(*) FROM pg_temp.lifecycle_audit") == 0
    assert await conn.fetchval("SELECT count(*) FROM public.lifecycle_audit WHERE model_name = $1", model_name) == 1


# --- operator -------------------------------------------------------------------------------------


async def test_an_operator_promotes_and_rolls_back_and_the_audit_names_its_login(
    registry, register, as_role, connect_as, logins, model_name
):
    a, b = await register(model_name), await register(model_name)
    operator = await as_role("operator")
    login = logins["name"]["operator"]
    await operator.promote(model_name, a.version, reason="first", on_behalf_of="alice")
    await operator.promote(model_name, b.version, reason="challenger won", on_behalf_of="alice")
    back = await operator.promote(model_name, a.version, reason="b degraded", on_behalf_of="bob")
    assert (back.from_version, back.to_version) == (b.version, a.version)
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == a.version
    assert (await registry.get_version(model_name, b.version)).status == "rollback_candidate"

    conn = await connect_as("operator")
    with translated():
        actor = await conn.fetchval(
            "INSERT INTO rollback_events (model_name, regime, symbol, from_version, to_version, rollback_type, "
            "rollback_reason, actor, on_behalf_of) VALUES ($1, 'trending', 'BTCUSDT', $2, $3, 'manual', "
            "'b degraded', 'someone_else', 'bob') RETURNING actor",
            model_name, b.version, a.version,
        )
    assert actor == login  # claimed actors are overwritten with the database login

    moves = [e for e in await registry.audit_events(model_name) if e.event == "production_moved"]
    assert [(m.to_version, m.actor, m.on_behalf_of) for m in moves] == [
        (a.version, login, "alice"), (b.version, login, "alice"), (a.version, login, "bob"),
    ]
    history = await registry.slot_history(Slot(model_name, "trending", "BTCUSDT"))
    assert [p.actor for p in history] == [login] * 3

    await operator.quarantine_version(model_name, b.version, reason="bad fills")
    assert "bad fills" in await registry.quarantine_reason(model_name, b.version)


async def test_update_delete_and_truncate_of_the_audit_tables_fail_even_for_the_operator(
    register, connect_as, conn, model_name
):
    await register(model_name)
    operator = await connect_as("operator")
    for statement in (
        "UPDATE lifecycle_audit SET reason = 'edited' WHERE model_name = $1",
        "DELETE FROM lifecycle_audit WHERE model_name = $1",
        "UPDATE rollback_events SET rollback_reason = 'edited' WHERE model_name = $1",
        "DELETE FROM rollback_events WHERE model_name = $1",
        "DELETE FROM quarantine WHERE model_name = $1",
    ):
        with pytest.raises(PermissionDenied) as info:
            with translated():
                await operator.execute(statement, model_name)
        assert_one_clear_line(info.value)
    for table in ("lifecycle_audit", "rollback_events", "quarantine"):
        with pytest.raises(PermissionDenied):
            with translated():
                await operator.execute(f"TRUNCATE {table}")
        # Not even the superuser truncates them (inside a transaction, so a failure of the guard
        # could not wipe the shared session database either).
        with pytest.raises(PermissionDenied, match=f"{table} is append-only: TRUNCATE refused"):
            with translated():
                async with conn.transaction():
                    await conn.execute(f"TRUNCATE {table} CASCADE")
    assert await conn.fetchval("SELECT count(*) FROM lifecycle_audit WHERE model_name = $1", model_name) == 1


# --- the schema's security settings -----------------------------------------------------------------


async def test_definer_functions_pin_their_search_path_and_are_not_executable_by_public(conn):
    rows = await conn.fetch(
        """SELECT p.proname, p.prosecdef, p.proconfig, p.proowner::regrole::text AS owner,
                  has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec
           FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace
             AND (p.proname LIKE 'alphaplus%' OR p.prorettype = 'trigger'::regtype)"""
    )
    by_name = {r["proname"]: r for r in rows}
    for name in ("alphaplus_audit", "alphaplus_notify", "model_versions_audit", "production_slots_audit",
                 "quarantine_audit"):
        assert by_name[name]["prosecdef"], name
    for r in rows:
        if r["prosecdef"]:
            path = next(c for c in r["proconfig"] or [] if c.startswith("search_path="))
            assert path.startswith("search_path=pg_catalog,") and path.endswith(", pg_temp"), (r["proname"], path)
            assert r["owner"] == "alphaplus_owner", r["proname"]
            assert not r["public_exec"], r["proname"]


async def test_a_login_in_no_alphaplus_role_cannot_connect(database_url):
    from db.pool import connect

    name = f"ap_test_nobody_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE ROLE "{name}" LOGIN')
    try:
        with pytest.raises(DatabaseUnavailable, match="permission denied for database"):
            await connect(dsn_for(database_url, name))
    finally:
        await admin.execute(f'DROP ROLE "{name}"')
        await admin.close()


# --- secrets ----------------------------------------------------------------------------------------


async def test_a_password_url_to_a_closed_port_gives_a_database_unavailable_without_the_password():
    from db.pool import connect, get_pool

    url = dsn_for(f"postgresql://x@127.0.0.1:{closed_port()}/alphaplus", "someone", PASSWORD)
    for attempt in (connect(url), get_pool(url)):
        with pytest.raises(DatabaseUnavailable) as info:
            await attempt
        rendered = "".join(traceback.format_exception(info.value))
        assert "cannot connect to postgresql://someone:***@127.0.0.1" in str(info.value)
        for leaked in (PASSWORD, quote(PASSWORD, safe=""), "s3cret"):
            assert leaked not in rendered


async def test_a_password_url_that_the_server_refuses_is_masked(logins, database_url):
    from db.pool import connect

    parts = urlsplit(logins["dsn"]["reader_with_password"])
    url = urlunsplit(parts._replace(path="/no_such_database_here"))
    with pytest.raises(DatabaseUnavailable, match="does not exist") as info:
        await connect(url)
    assert "s3cret" not in "".join(traceback.format_exception(info.value))


async def test_a_password_login_works_and_its_settings_never_show_the_password(as_role, logins, model_name):
    from alphaplus.registry.service import Registry

    settings = Settings(database_url=logins["dsn"]["reader_with_password"])
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings)
    reader = await Registry.open(settings)
    assert await reader.get_production_model(Slot(model_name, "trending", "BTCUSDT")) is None
    with pytest.raises(PermissionDenied) as info:
        await reader.quarantine_training_data("xxh3_128:" + "0" * 32, reason="no right")
    assert "s3cret" not in str(info.value)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPLUS_DATABASE")}
    return subprocess.run(
        [sys.executable, "-m", "alphaplus", *args], cwd=ROOT, env={**base, **env},
        capture_output=True, text=True, timeout=120,
    )


def test_cli_db_status_with_a_password_url_to_a_closed_port_prints_one_line_without_it():
    url = dsn_for(f"postgresql://x@127.0.0.1:{closed_port()}/alphaplus", "someone", PASSWORD)
    result = run_cli("db", "status", env={"ALPHAPLUS_DATABASE_URL": url})
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot connect to postgresql://someone:***@127.0.0.1:")
    for leaked in (PASSWORD, quote(PASSWORD, safe=""), "s3cret"):
        assert leaked not in result.stdout + result.stderr


def test_cli_reads_the_database_url_from_a_file_and_masks_it(logins, tmp_path):
    secret = tmp_path / "database_url"
    secret.write_text(logins["dsn"]["reader_with_password"] + "\n")
    result = run_cli("db", "status", "--json", env={"ALPHAPLUS_DATABASE_URL_FILE": str(secret)})
    assert result.returncode == 0, result.stderr
    assert "0005_roles.sql" in result.stdout
    assert ":***@" in result.stdout
    assert "s3cret" not in result.stdout + result.stderr


def test_database_url_sources_are_exclusive_and_a_missing_file_is_one_clear_error(tmp_path):
    from db.pool import resolve_dsn

    with pytest.raises(ConfigurationError, match="set only one of"):
        resolve_dsn(Settings(database_url="postgresql://a@h/d", database_url_file=tmp_path / "u"))
    with pytest.raises(ConfigurationError, match="cannot read the database URL from .*missing.*FileNotFoundError"):
        resolve_dsn(Settings(database_url=None, database_url_file=tmp_path / "missing"))
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigurationError, match="is empty"):
        resolve_dsn(Settings(database_url=None, database_url_file=tmp_path / "empty"))


@pytest.mark.prefect
async def test_the_database_url_can_come_from_a_prefect_secret_block(prefect_harness, logins):
    from prefect.blocks.system import Secret

    from db.pool import connect, resolve_dsn

    block = f"alphaplus-db-{uuid.uuid4().hex[:8]}"
    await Secret(value=logins["dsn"]["reader_with_password"]).save(block)
    dsn = resolve_dsn(Settings(database_url=None, database_secret_block=block))
    assert dsn == logins["dsn"]["reader_with_password"]
    c = await connect(dsn)
    try:
        assert await c.fetchval("SELECT session_user") == logins["name"]["reader"]
    finally:
        await c.close()
    with pytest.raises(ConfigurationError, match="Prefect Secret block 'no-such-block'"):
        resolve_dsn(Settings(database_url=None, database_secret_block="no-such-block"))



async def test_cli_promote_by_a_trainer_login_ends_in_one_permission_denied_line(logins, register, model_name):
    v = await register(model_name)
    result = await asyncio.to_thread(
        run_cli, "promote", model_name, str(v.version), "--regime", "trending", "--symbol", "BTCUSDT",
        "--force", "--reason", "ship it", env={"ALPHAPLUS_DATABASE_URL": logins["dsn"]["trainer"]},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: permission denied: "), lines[0]
    assert "alphaplus_operator" in lines[0]


async def test_the_rollback_service_assesses_and_rolls_back_as_an_operator_and_refuses_a_reader(
    registry, register, logins, settings, model_name
):
    from alphaplus.core.errors import PermissionDenied
    from alphaplus.rollback.service import RollbackService

    a, b = await register(model_name), await register(model_name)
    await registry.promote(model_name, a.version, reason="first")
    await registry.promote(model_name, b.version, reason="second")
    operator = await RollbackService.open(Settings(database_url=logins["dsn"]["operator"], home=settings.home))
    results = await operator.assess_slots([Slot(model_name, "trending", "BTCUSDT")])
    assert [r.error for r in results] == [None]
    done = await operator.request_rollback(model_name, "trending", "BTCUSDT", to_version=None,
                                           reason="bad fills", rollback_type="manual")
    assert (done.outcome, done.from_version, done.to_version) == ("executed", b.version, a.version)
    [event] = await operator.list_events(model_name=model_name)
    assert event.actor == logins["name"]["operator"]

    reader = await RollbackService.open(Settings(database_url=logins["dsn"]["reader"], home=settings.home))
    with pytest.raises(PermissionDenied) as refused:
        await reader.request_rollback(model_name, "trending", "BTCUSDT", to_version=b.version,
                                      reason="not allowed", rollback_type="manual")
    assert_one_clear_line(refused.value)
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == a.version
