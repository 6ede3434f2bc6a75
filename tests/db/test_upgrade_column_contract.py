"""Upgrading a filled database from 0008 to the column contract: every row kept, the documented columns
filled from what was stored, every invariant still enforced."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from alphaplus.core.errors import MigrationError
from db.migrate import load_migrations, migrate
from db.pool import connect
from tests.db import head_0008 as head
from tests.db.column_contract import contract_violations

RENAMED = {
    "model_versions": {"model_path": "model_artifact_path", "model_hash": "model_artifact_hash",
                       "metadata": "version_metadata"},
    "model_lineage": {"environment": "training_environment", "parent_version": "parent_model_version"},
}
ISSUE_MISSING = {
    "model_versions": {"model_artifact_path", "model_artifact_size_mb", "model_artifact_hash", "performance_metrics",
                       "drift_metrics", "rollback_metrics", "deployment_timestamp", "version_metadata"},
    "model_lineage": {"model_version", "parent_model_name", "parent_model_version", "training_environment",
                      "training_samples", "validation_samples", "lineage_metadata"},
}


@pytest.fixture
async def at_0008(make_database, tmp_path):
    """A connection to a new database migrated to 0008 and filled for model 'upgraded'."""
    conn = await connect(await make_database())
    await head.migrate_to_head_0008(conn, tmp_path / "released")
    await head.fill(conn, "upgraded")
    yield conn
    await conn.close()


def _as_before(table: str, row: dict, before_keys: set[str]) -> dict:
    names = {new: old for old, new in RENAMED.get(table, {}).items()}
    return {names.get(k, k): v for k, v in row.items() if names.get(k, k) in before_keys}


async def test_the_contract_check_finds_the_fifteen_missing_columns_at_0008(at_0008):
    problems = await contract_violations(at_0008)
    assert sorted(problems) == sorted(
        f"{table}.{column} does not exist" for table, columns in ISSUE_MISSING.items() for column in columns)


async def test_upgrading_a_filled_database_keeps_every_row_and_honours_the_contract(at_0008):
    conn = at_0008
    before = await head.snapshot(conn)
    quarantined_before = await conn.fetchval("SELECT alphaplus_quarantine_reason('upgraded', 3)")
    applied = await migrate(conn)
    assert applied == [m.name for m in load_migrations() if m.name > head.HEAD]
    assert await contract_violations(conn) == []

    after = await head.snapshot(conn)
    assert set(before) <= set(after)  # later migrations may add tables (slot_locks), never drop one
    for table, rows in before.items():
        keys = set(rows[0]) if rows else set()
        kept = sorted((_as_before(table, r, keys) for r in after[table]), key=lambda d: json.dumps(d, sort_keys=True))
        assert kept == rows, table
    assert await conn.fetchval("SELECT alphaplus_quarantine_reason('upgraded', 3)") == quarantined_before
    assert quarantined_before.startswith("training data")


async def test_the_upgrade_fills_the_lineage_columns_from_what_was_recorded(at_0008):
    await migrate(at_0008)
    rows = await at_0008.fetch(
        """SELECT v.version, l.model_version, l.parent_model_name, l.parent_model_version, l.training_samples,
                  l.validation_samples, l.n_samples, l.lineage_metadata, l.training_environment
           FROM model_versions v JOIN model_lineage l ON l.lineage_id = v.lineage_id
           WHERE v.model_name = 'upgraded' ORDER BY v.version""")
    got = {r["version"]: (r["model_version"], r["parent_model_name"], r["parent_model_version"],
                          r["training_samples"], r["validation_samples"], r["n_samples"], r["lineage_metadata"])
           for r in rows}
    assert got == {
        1: (1, None, None, 600, 200, 1000, {}),
        2: (2, "upgraded", 1, 640, 210, 1000, {}),
        3: (3, "upgraded", 2, None, None, 1000, {}),  # split sizes were never recorded: unknown
        4: (4, None, None, None, None, 1000, {}),  # unreadable split sizes: unknown, not guessed
    }
    assert rows[0]["training_environment"]["packages"] == {"lightgbm": "4.5.0"}


async def test_the_upgrade_fills_the_version_columns_from_history_assessments_rollbacks_and_moves(at_0008):
    conn = at_0008
    await migrate(conn)
    rows = {r["version"]: r for r in await conn.fetch(
        """SELECT version, model_artifact_path, model_artifact_size_mb, model_artifact_hash, version_metadata,
                  performance_metrics, drift_metrics, rollback_metrics, deployment_timestamp
           FROM model_versions WHERE model_name = 'upgraded'""")}
    assert {v: (r["model_artifact_path"], r["model_artifact_size_mb"]) for v, r in rows.items()} == {
        1: ("ab/01.joblib", Decimal("2.38")), 2: ("ab/02.joblib", Decimal("2.48")),
        3: ("ab/03.joblib", Decimal("0.00")), 4: ("ab/04.joblib", Decimal("50.00"))}
    assert rows[2]["model_artifact_hash"] == "2" * 64 and rows[3]["version_metadata"]["feature_names"] == ["ret_1", "vol"]

    # performance and drift: the latest live window (hour 4-5), not the one resolved later, nor shadow
    # or validation rows
    perf, drift = rows[1]["performance_metrics"], rows[1]["drift_metrics"]
    assert datetime.fromisoformat(perf["window_end"]) == head.T0 + timedelta(hours=5)
    assert (perf["accuracy"], perf["n_samples"], perf["n_correct"], perf["error_count"]) == (0.59, 500, 295, 5)
    assert perf["metrics"]["true_positives"] == 120 and perf["latency_p95_ms"] == 3.0
    assert drift["psi"] == {"ret_1": 0.31, "vol": None}
    assert (drift["max_psi"], drift["max_psi_feature"]) == (0.31, "ret_1")
    assert drift["features"]["vol"]["reason"] == "too few values"
    assert rows[2]["drift_metrics"]["psi"] == {"ret_1": 0.02}
    assert rows[3]["performance_metrics"] is None and rows[3]["drift_metrics"] is None

    # rollback: v1 from its stored assessment, v2 from the event that rolled it back; v4's slot state
    # after a rollback holds no assessment of v4 itself
    r1, r2 = rows[1]["rollback_metrics"], rows[2]["rollback_metrics"]
    assert (r1["source"], r1["status"], r1["triggers"], r1["confidence"], r1["degradation"], r1["risk"]) == (
        "assessment", "healthy", [], 0.12, 0.01, 0.0)
    assert (r2["source"], r2["triggers"], r2["degradation"], r2["confidence"], r2["risk"], r2["severity"]) == (
        "rollback_event", ["performance"], 0.21, 0.97, 0.91, "high")
    assert (r2["rollback"]["to_version"], r2["rollback"]["outcome"]) == (1, "executed")
    assert rows[3]["rollback_metrics"] is None and rows[4]["rollback_metrics"] is None

    # deployment: the last move of the pointer to the version (its audit row's time)
    moves = {r["to_version"]: r["ts"] for r in await conn.fetch(
        """SELECT to_version, max(ts) AS ts FROM lifecycle_audit
           WHERE model_name = 'upgraded' AND event = 'production_moved' GROUP BY to_version""")}
    since = await conn.fetchval(
        "SELECT since FROM production_slots WHERE model_name = 'upgraded' AND regime = $1", head.SLOT[0])
    assert {v: r["deployment_timestamp"] for v, r in rows.items()} == {1: moves[1], 2: moves[2], 3: None, 4: moves[4]}
    assert moves[1] == since


async def test_after_the_upgrade_new_writes_keep_the_version_columns_true(at_0008):
    conn = at_0008
    await migrate(conn)
    latest = lambda: conn.fetchval(  # noqa: E731
        "SELECT performance_metrics ->> 'accuracy' FROM model_versions WHERE model_name = 'upgraded' AND version = 1")
    await head._history(conn, "upgraded", 1, head.SLOT, "live", 3, 0.1, {}, None, None)  # older: ignored
    await head._history(conn, "upgraded", 1, head.SLOT, "shadow", 8, 0.2, {}, None, None)  # shadow: ignored
    assert await latest() == "0.59"
    await head._history(conn, "upgraded", 1, head.SLOT, "live", 7, 0.7, {"vol": {"value": 0.5}}, 0.5, "vol")
    assert await latest() == "0.7"
    assert await conn.fetchval(
        "SELECT drift_metrics -> 'psi' FROM model_versions WHERE model_name = 'upgraded' AND version = 1"
    ) == {"vol": 0.5}
    # the renamed artifact columns stay immutable
    with pytest.raises(asyncpg.PostgresError, match="immutable"):
        await conn.execute("UPDATE model_versions SET model_artifact_path = 'cd/x' WHERE model_name = 'upgraded'")


async def test_an_orphan_lineage_row_stops_the_upgrade_with_one_clear_message_and_changes_nothing(at_0008):
    conn = at_0008
    await conn.execute(
        """INSERT INTO model_lineage (model_name, regime, symbol, training_data_hash, feature_set_hash,
               hyperparameters_hash, lineage_key) VALUES ('upgraded', 'trending', 'BTCUSDT', 'd', 'f', 'h', 'orphan')""")
    with pytest.raises(MigrationError, match="1 model_lineage rows belong to no version"):
        await migrate(conn)
    assert await conn.fetchval("SELECT max(name) FROM schema_migrations") == head.HEAD
    assert await conn.fetchval(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'model_versions' AND column_name = 'model_path'"
    ) == 1
