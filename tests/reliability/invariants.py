"""Checks of the registry invariants of one model, read straight from the database (no product code):
version numbers, lineage, one production version per slot, pointer == statuses, and a replay of the
append-only audit log that must agree with the final state."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import asyncpg


@dataclass
class ModelState:
    """What the checks read, for further assertions by the caller."""

    versions: list[int]
    audit_counts: Counter = field(default_factory=Counter)
    moves: int = 0
    pointer: dict[tuple[str, str], int] = field(default_factory=dict)
    statuses: dict[int, str] = field(default_factory=dict)
    rollback_outcomes: Counter = field(default_factory=Counter)


async def check_model(conn: asyncpg.Connection, model_name: str) -> ModelState:
    """Assert every registry invariant for ``model_name`` in one snapshot; return what was read."""
    # One snapshot for all reads: a transaction committing between two of them (say, one whose
    # client was killed after sending COMMIT) would otherwise look like a broken invariant.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _check_model(conn, model_name)


async def _check_model(conn: asyncpg.Connection, model_name: str) -> ModelState:
    rows = await conn.fetch(
        "SELECT version, regime, symbol, status FROM model_versions WHERE model_name = $1 ORDER BY version",
        model_name,
    )
    versions = [r["version"] for r in rows]
    assert versions == list(range(1, len(versions) + 1)), f"version numbers have gaps or repeats: {versions}"
    latest = await conn.fetchval("SELECT latest_version FROM ml_models WHERE model_name = $1", model_name)
    assert (latest or 0) == len(versions), f"the counter says {latest}, {len(versions)} versions exist"

    no_lineage = await conn.fetchval(
        "SELECT count(*) FROM model_versions v LEFT JOIN model_lineage l ON l.lineage_id = v.lineage_id "
        "WHERE v.model_name = $1 AND l.lineage_id IS NULL", model_name)
    assert no_lineage == 0, f"{no_lineage} versions have no lineage"
    half = await conn.fetchval(
        "SELECT count(*) FROM model_lineage l LEFT JOIN model_versions v ON v.lineage_id = l.lineage_id "
        "WHERE l.model_name = $1 AND v.id IS NULL", model_name)
    assert half == 0, f"{half} lineage rows have no version (a half-registered version)"

    statuses = {r["version"]: r["status"] for r in rows}
    slot_of = {r["version"]: (r["regime"], r["symbol"]) for r in rows}
    production: dict[tuple[str, str], list[int]] = defaultdict(list)
    for v, s in statuses.items():
        if s == "production":
            production[slot_of[v]].append(v)
    pointer = {(r["regime"], r["symbol"]): r["version"] for r in await conn.fetch(
        "SELECT regime, symbol, version FROM production_slots WHERE model_name = $1", model_name)}
    for slot, vs in production.items():
        assert len(vs) == 1, f"slot {slot} has {len(vs)} production versions: {vs}"
    assert {s: vs[0] for s, vs in production.items()} == pointer, (
        f"pointer {pointer} disagrees with production statuses {dict(production)}")

    audit = await conn.fetch(
        "SELECT id, ts, event, regime, symbol, version, from_status, to_status, from_version, to_version "
        "FROM lifecycle_audit WHERE model_name = $1 ORDER BY ts, id", model_name)
    counts = Counter(a["event"] for a in audit)
    assert counts["registered"] == len(versions), f"{counts['registered']} registrations audited, {len(versions)} exist"

    # Replay pointer moves per slot: each move starts where the previous one ended.
    replayed_pointer: dict[tuple[str, str], int | None] = defaultdict(lambda: None)
    # Replay statuses: each change starts from the status the log last gave the version, and at no
    # point does a slot have two production versions.
    replayed_status: dict[int, str] = {}
    in_production: dict[tuple[str, str], set[int]] = defaultdict(set)
    moves = 0
    for a in audit:
        slot = (a["regime"], a["symbol"])
        if a["event"] == "production_moved":
            moves += 1
            assert a["from_version"] == replayed_pointer[slot], (
                f"audit row {a['id']}: a move from {a['from_version']} but the log left the pointer of {slot} "
                f"at {replayed_pointer[slot]}")
            replayed_pointer[slot] = a["to_version"]
        elif a["event"] == "registered":
            assert a["version"] not in replayed_status, f"version {a['version']} registered twice"
            assert a["to_status"] == "staging"
            replayed_status[a["version"]] = "staging"
        elif a["event"] == "status_changed":
            v = a["version"]
            assert replayed_status.get(v) == a["from_status"], (
                f"audit row {a['id']}: version {v} changed from {a['from_status']} but the log had it "
                f"{replayed_status.get(v)}")
            replayed_status[v] = a["to_status"]
            if a["from_status"] == "production":
                in_production[slot].discard(v)
            if a["to_status"] == "production":
                in_production[slot].add(v)
            assert len(in_production[slot]) <= 1, (
                f"audit row {a['id']}: slot {slot} had versions {sorted(in_production[slot])} in production at once")
    assert {s: v for s, v in replayed_pointer.items() if v is not None} == pointer, (
        f"the audit log ends with pointers {dict(replayed_pointer)}, the table holds {pointer}")
    assert replayed_status == statuses, "the audit log's statuses differ from the stored ones"

    outcomes = Counter(r["outcome"] for r in await conn.fetch(
        "SELECT outcome FROM rollback_events WHERE model_name = $1", model_name))
    return ModelState(versions, counts, moves, pointer, statuses, outcomes)
