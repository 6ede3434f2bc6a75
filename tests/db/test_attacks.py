"""Moves that once succeeded with one of the project's own logins, each performed again as the role that
made it and expected to be refused (README: Security, the threat model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alphaplus.core.entities import Slot
from alphaplus.core.errors import AlphaPlusError, InvalidInput, PermissionDenied, QuarantinedError
from db.errors import translated
from tests.db.conftest import make_lineage

APPEND_ONLY = ("lifecycle_audit", "rollback_events", "quarantine", "model_lineage", "model_comparison",
               "model_performance_history")


async def refused(conn, statement: str, *args, error: type[AlphaPlusError] = AlphaPlusError) -> AlphaPlusError:
    """Run ``statement`` in its own transaction and return the domain error it must end in."""
    with pytest.raises(error) as info:
        with translated():
            async with conn.transaction():
                await conn.execute(statement, *args)
    return info.value


async def two_versions_one_serving(registry, register, model_name):
    a, b = await register(model_name), await register(model_name)
    await registry.promote(model_name, a.version, reason="first")
    await registry.promote(model_name, b.version, reason="second")
    return a, b


# --- 1. admin -> cluster superuser ------------------------------------------------------------------------


async def test_an_admin_can_neither_replace_a_trigger_function_nor_plant_code_a_superuser_would_run(
    connect_as, conn
):
    admin = await connect_as("admin")
    for statement in (
        "CREATE OR REPLACE FUNCTION production_consistency_check() RETURNS trigger LANGUAGE plpgsql "
        "AS $$BEGIN EXECUTE 'ALTER ROLE alphaplus_admin CREATEDB'; RETURN NULL; END$$",
        "CREATE FUNCTION public.now_plus() RETURNS timestamptz LANGUAGE sql AS 'SELECT now()'",
        "CREATE TRIGGER planted BEFORE UPDATE ON production_slots FOR EACH ROW EXECUTE FUNCTION refuse_change()",
        "ALTER FUNCTION model_versions_guard() OWNER TO alphaplus_admin",
        "SET ROLE alphaplus_owner",
        "SELECT alphaplus_hand_over_to_owner()",
    ):
        await refused(admin, statement, error=PermissionDenied)
    # Nobody who logs in owns anything in the schema: every table and function is alphaplus_owner's ...
    owners = await conn.fetch(
        """SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class
           WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' AND relname <> 'schema_migrations'
           UNION SELECT DISTINCT pg_get_userbyid(proowner) FROM pg_proc
           WHERE pronamespace = current_schema()::regnamespace""")
    assert {r["owner"] for r in owners} == {"alphaplus_owner"}
    # ... a role that cannot log in and that no login can act as.
    assert not await conn.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'alphaplus_owner'")
    assert not await conn.fetchval(
        """WITH RECURSIVE m AS (SELECT member FROM pg_auth_members WHERE roleid = 'alphaplus_owner'::regrole
                                UNION SELECT a.member FROM pg_auth_members a JOIN m ON a.roleid = m.member)
           SELECT count(*) FROM m JOIN pg_roles r ON r.oid = m.member WHERE r.rolcanlogin""")


async def test_day_to_day_work_as_a_superuser_is_refused_unless_allowed(settings, database_url, logins):
    from alphaplus.core.settings import Settings
    from alphaplus.registry.service import Registry

    # A DSN of its own (the session's pool was opened with the check allowed).
    dsn = database_url + "?application_name=superuser_check"
    with pytest.raises(PermissionDenied, match="is a superuser, and day-to-day commands refuse it"):
        await Registry.open(Settings(database_url=dsn, home=settings.home, superuser_login="refuse"))
    operator = await Registry.open(Settings(database_url=logins["dsn"]["operator"] + "?application_name=check",
                                            home=settings.home, superuser_login="refuse"))
    assert await operator.list_versions(limit=1) is not None


# --- 3. admin forges audit rows -----------------------------------------------------------------------------


async def test_an_admin_cannot_insert_an_audit_row_nor_grant_itself_the_right(connect_as, conn, model_name):
    admin = await connect_as("admin")
    await refused(admin, "INSERT INTO lifecycle_audit (ts, event, model_name, reason) "
                         "VALUES ('2001-01-01', 'production_moved', $1, 'approved by CAB')", model_name,
                  error=PermissionDenied)
    await admin.execute("GRANT INSERT ON lifecycle_audit TO alphaplus_admin")  # a warning: it owns nothing
    await refused(admin, "ALTER TABLE lifecycle_audit DISABLE TRIGGER lifecycle_audit_append_only",
                  error=PermissionDenied)
    await refused(admin, "SELECT alphaplus_audit('production_moved', $1, 'trending', 'BTCUSDT', 1, NULL, NULL, "
                         "NULL, 1)", model_name, error=PermissionDenied)
    assert not await conn.fetchval("SELECT has_table_privilege('alphaplus_admin', 'lifecycle_audit', 'INSERT')")
    assert await conn.fetchval("SELECT count(*) FROM lifecycle_audit WHERE model_name = $1", model_name) == 0


# --- 4. admin erases the audit log without DDL --------------------------------------------------------------


async def test_an_admin_can_truncate_no_table_and_rewrite_no_record(connect_as, conn, register, model_name):
    await register(model_name)
    admin = await connect_as("admin")
    for table in APPEND_ONLY + ("model_versions", "production_slots", "ml_models"):
        await refused(admin, f"TRUNCATE {table} CASCADE", error=PermissionDenied)
    for table in APPEND_ONLY:
        await refused(admin, f"DELETE FROM {table}", error=PermissionDenied)
    tables = await conn.fetch("SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
                              "AND relkind = 'r'")
    for t in tables:
        for right in ("TRUNCATE", "TRIGGER", "REFERENCES"):
            assert not await conn.fetchval("SELECT has_table_privilege('alphaplus_admin', $1, $2)",
                                           t["relname"], right), (t["relname"], right)
    assert await conn.fetchval("SELECT count(*) FROM lifecycle_audit WHERE model_name = $1", model_name) == 1


# --- 5. operator forges the production timeline -------------------------------------------------------------


async def test_an_operator_cannot_backdate_a_pointer_move_or_claim_another_actor(
    registry, register, connect_as, logins, model_name
):
    a, b = await two_versions_one_serving(registry, register, model_name)
    operator = await connect_as("operator")
    before = datetime.now(UTC)
    async with operator.transaction():
        await operator.execute("UPDATE model_versions SET status = 'rollback_candidate' WHERE model_name = $1 "
                               "AND version = $2", model_name, b.version)
        await operator.execute("UPDATE model_versions SET status = 'production' WHERE model_name = $1 "
                               "AND version = $2", model_name, a.version)
        await operator.execute("UPDATE production_slots SET version = $2, since = '2001-01-01', moved_by = 'alice' "
                               "WHERE model_name = $1", model_name, a.version)
    since, moved_by = await operator.fetchrow("SELECT since, moved_by FROM production_slots WHERE model_name = $1",
                                              model_name)
    assert since >= before and moved_by == logins["name"]["operator"]
    slot = Slot(model_name, "trending", "BTCUSDT")
    assert await registry.production_at(slot, datetime.now(UTC)) == a.version
    assert (await registry.slot_history(slot))[-1].start == since
    # A move to the same version changes nothing about the stint.
    await operator.execute("UPDATE production_slots SET since = now() + interval '1 day', moved_by = 'bob' "
                           "WHERE model_name = $1", model_name)
    assert await operator.fetchrow("SELECT since, moved_by FROM production_slots WHERE model_name = $1",
                                   model_name) == (since, moved_by)
    await refused(operator, "INSERT INTO rollback_events (event_time, model_name, regime, symbol, rollback_type, "
                            "rollback_reason) VALUES ('2001-01-01', $1, 'trending', 'BTCUSDT', 'manual', 'old')",
                  model_name, error=InvalidInput)
    await operator.execute(
        "INSERT INTO model_comparison (model_name, regime, symbol, challenger_version, n_samples, decision, "
        "created_by, created_at) VALUES ($1, 'trending', 'BTCUSDT', $2, 0, 'forced', 'alice', '2001-01-01')",
        model_name, a.version)
    row = await operator.fetchrow("SELECT created_by, created_at FROM model_comparison WHERE model_name = $1",
                                  model_name)
    assert row["created_by"] == logins["name"]["operator"] and row["created_at"] >= before


# --- 6. reader forces or blocks a rollback ------------------------------------------------------------------


async def test_a_reader_can_neither_record_live_windows_nor_hold_a_slot(
    registry, register, connect_as, logins, model_name
):
    a, b = await two_versions_one_serving(registry, register, model_name)
    reader = await connect_as("reader")
    await refused(reader, "INSERT INTO model_performance_history (ts, window_start, model_name, version, regime, "
                          "symbol, n_samples, n_correct, accuracy, error_rate, max_psi) VALUES (now(), now() - "
                          "interval '1 hour', $1, $2, 'trending', 'BTCUSDT', 500, 50, 0.1, 0.9, 0.95)",
                  model_name, b.version, error=PermissionDenied)
    await refused(reader, "INSERT INTO slot_locks VALUES ($1, 'trending', 'BTCUSDT')", model_name,
                  error=PermissionDenied)
    await refused(reader, "SELECT 1 FROM slot_locks FOR KEY SHARE", error=PermissionDenied)
    # The advisory lock a reader could once hold no longer guards anything: the promotion goes through.
    async with reader.transaction():
        await reader.execute("SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || 'trending' || "
                             "chr(31) || 'BTCUSDT', 0))", model_name)
        move = await registry.promote(model_name, a.version, reason="not blocked")
    assert move.to_version == a.version
    # Outcome resolution is the resolver's, and its rows name it.
    resolver = await connect_as("resolver")
    await resolver.execute("INSERT INTO model_performance_history (ts, model_name, version, regime, symbol, "
                           "n_samples, recorded_by) VALUES (now(), $1, $2, 'trending', 'BTCUSDT', 10, 'someone')",
                           model_name, a.version)
    assert await resolver.fetchval("SELECT recorded_by FROM model_performance_history WHERE model_name = $1",
                                   model_name) == logins["name"]["resolver"]
    await refused(resolver, "DELETE FROM model_performance_history WHERE model_name = $1", model_name)


# --- 7 and 8. registered metrics, metadata and lineage are immutable, the admin included -----------------------


@pytest.mark.parametrize("role", ["trainer", "admin"])
async def test_nobody_rewrites_a_registered_versions_metrics_metadata_or_lineage(
    registry, register, connect_as, role, model_name
):
    a, b = await two_versions_one_serving(registry, register, model_name)
    login = await connect_as(role)
    for column in ("validation_metrics", "training_metrics", "version_metadata"):
        await refused(login, f"UPDATE model_versions SET {column} = '{{\"f1\": 0.99}}' WHERE model_name = $1 "
                             "AND version = $2", model_name, b.version)
    await refused(login, "UPDATE model_lineage SET training_data_hash = 'xxh3_128:' || repeat('0', 32) "
                         "WHERE model_name = $1", model_name)
    await refused(login, "DELETE FROM model_lineage WHERE model_name = $1", model_name)
    assert (await registry.get_version(model_name, b.version)).validation_metrics == {"f1": 0.6}


async def test_an_admin_cannot_lift_a_quarantine_by_rewriting_lineage(registry, register, connect_as, model_name):
    data_hash = "xxh3_128:" + "bad0" * 8
    v = await register(model_name, data_hash=data_hash)
    await registry.quarantine_training_data(data_hash, reason="bad prints")
    admin = await connect_as("admin")
    await refused(admin, "UPDATE model_lineage SET training_data_hash = 'xxh3_128:' || repeat('1', 32) "
                         "WHERE model_name = $1", model_name, error=PermissionDenied)
    with pytest.raises(QuarantinedError, match="bad prints"):
        await registry.promote(model_name, v.version, reason="escape")


# --- 9. quarantine of a serving version ---------------------------------------------------------------------


async def test_quarantining_a_serving_version_is_refused_or_rolls_the_slot_back_audited(
    registry, register, connect_as, settings, logins, model_name
):
    from alphaplus.core.errors import QuarantineOfServingVersion
    from alphaplus.rollback.quarantine import quarantine_and_roll_back
    from alphaplus.rollback.service import RollbackService

    a, b = await two_versions_one_serving(registry, register, model_name)
    operator = await connect_as("operator")
    await refused(operator, "INSERT INTO quarantine (kind, model_name, version, reason) "
                            "VALUES ('version', $1, $2, 'raw SQL')", model_name, b.version, error=QuarantinedError)
    with pytest.raises(QuarantineOfServingVersion, match="nothing was quarantined: version 2 serves"):
        await registry.quarantine_version(model_name, b.version, reason="look-ahead bug")
    assert await registry.quarantine_reason(model_name, b.version) is None

    from alphaplus.core.settings import Settings

    service = await RollbackService.open(Settings(database_url=logins["dsn"]["operator"], home=settings.home))
    record, rollbacks = await quarantine_and_roll_back(service, model_name=model_name, version=b.version,
                                                       reason="look-ahead bug", on_behalf_of="alice")
    assert record.created and [(r.from_version, r.to_version) for r in rollbacks] == [(b.version, a.version)]
    assert (await registry.get_production_model(Slot(model_name, "trending", "BTCUSDT"))).version == a.version
    events = await registry.audit_events(model_name)
    assert [e.event for e in events if e.event in ("quarantined", "production_moved")][-2:] == \
        ["quarantined", "production_moved"]
    [event] = await service.list_events(model_name=model_name)
    assert event.rollback_reason == "quarantine: look-ahead bug" and event.on_behalf_of == "alice"


# --- 11. unvalidated input stored forever ---------------------------------------------------------------------


@pytest.mark.parametrize("bad_hash", ["x" * 100_000, "xxh3_128:\u202e" + "0" * 32, "\x1b[2J\nxxh3_128:00"])
async def test_an_operator_cannot_quarantine_a_hash_that_is_not_one(as_role, connect_as, bad_hash):
    operator = await as_role("operator")
    with pytest.raises(InvalidInput, match="is not a hash") as info:
        await operator.quarantine_training_data(bad_hash, reason="x")
    assert len(str(info.value)) < 400
    raw = await connect_as("operator")
    await refused(raw, "INSERT INTO quarantine (kind, training_data_hash, reason) VALUES ('training_data', $1, 'x')",
                  bad_hash, error=InvalidInput)


async def test_a_trainer_cannot_store_a_megabyte_reason_or_five_megabytes_of_metadata(connect_as, model_name):
    trainer = await connect_as("trainer")
    for key, value in (("alphaplus.reason", "r" * 1_000_000), ("alphaplus.metadata", '{"x": "' + "m" * 5_000_000 + '"}'),
                       ("alphaplus.reason", "ok\x1b[2J\nreally")):
        with pytest.raises(InvalidInput):
            with translated():
                async with trainer.transaction():
                    await trainer.execute("SELECT set_config($1, $2, true)", key, value)
                    await trainer.execute(
                        "INSERT INTO ml_models (model_name) VALUES ($1) ON CONFLICT DO NOTHING", model_name)
                    lineage = make_lineage(model_name)
                    await trainer.execute(
                        "INSERT INTO model_lineage (model_name, model_version, regime, symbol, training_data_hash, "
                        "feature_set_hash, hyperparameters_hash, lineage_key) VALUES ($1, 1, 'trending', 'BTCUSDT', "
                        "$2, $3, $4, $5)", model_name, lineage.training_data_hash, lineage.feature_set_hash,
                        lineage.hyperparameters_hash, lineage.lineage_key)
                    await trainer.execute(
                        "INSERT INTO model_versions (model_name, version, regime, symbol, lineage_id, "
                        "model_artifact_path, model_size_bytes, model_artifact_hash) SELECT $1, 1, 'trending', "
                        "'BTCUSDT', lineage_id, 'aa/x.joblib', 1, repeat('a', 64) FROM model_lineage "
                        "WHERE model_name = $1", model_name)
    assert await trainer.fetchval("SELECT count(*) FROM lifecycle_audit WHERE model_name = $1", model_name) == 0


# --- 14. a repeated quarantine is audited once ----------------------------------------------------------------


async def test_quarantining_a_version_five_times_writes_one_audit_row_and_keeps_the_first_reason(
    registry, register, model_name
):
    v = await register(model_name)
    records = [await registry.quarantine_version(model_name, v.version, reason=f"reason {i}") for i in range(5)]
    assert [r.created for r in records] == [True, False, False, False, False]
    assert {r.reason for r in records} == {"reason 0"}
    audited = [e for e in await registry.audit_events(model_name) if e.event == "quarantined"]
    assert [e.reason for e in audited] == ["reason 0"]
    assert datetime.now(UTC) - records[0].created_at < timedelta(hours=1)


async def test_the_database_holds_the_same_name_and_text_rules_as_the_code(conn):
    from alphaplus.core.validation import check_name, check_text

    def accepted(check, *args) -> bool:
        try:
            check(*args)
            return True
        except InvalidInput:
            return False

    for name in ("BTCUSDT", "^GSPC", "ES=F", "cme:6e.h25", "7203.T", "a" * 64, "a" * 65, "BTC/USDT", "-rf", ".x",
                 "a b", "模型", "\u202eX", "x\ny", "[/bold]"):
        assert accepted(check_name, "symbol", name) == await conn.fetchval("SELECT alphaplus_valid_name($1, 64)",
                                                                           name), name
    for text in ("plain reason", "ümlaut, 模型 and émoji 🚀 are fine", "r" * 2000, "r" * 2001, "tab\there",
                 "esc\x1b[2J", "rtl\u202eoverride", "zero\u200bwidth", "line\u2028separator", "del\x7f", "c1\x85"):
        assert accepted(check_text, "reason", text) == await conn.fetchval("SELECT alphaplus_valid_text($1, 2000)",
                                                                           text), repr(text)
