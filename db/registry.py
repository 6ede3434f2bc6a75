"""Registry repository: versions, lineage, the production pointer, quarantine, usage and audit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable, Sequence

import asyncpg

from alphaplus.core import lifecycle
from alphaplus.core.entities import (
    ChangeContext,
    LifecycleEvent,
    Lineage,
    ModelVersion,
    ProductionMove,
    Registration,
    ServingPeriod,
    Slot,
    StoredArtifact,
    UsageStats,
)
from alphaplus.core.errors import ConcurrentModification, IllegalTransition, InvalidInput, QuarantinedError, VersionNotFound
from db.errors import translated

_VERSION_COLUMNS = """
    v.model_name, v.version, v.regime, v.symbol, v.status, v.lineage_id, v.model_artifact_path,
    v.model_size_bytes, v.model_artifact_size_mb, v.model_artifact_hash, v.training_metrics,
    v.validation_metrics, v.version_metadata, v.created_at, v.updated_at, v.promoted_at, v.deprecated_at,
    v.usage_count, v.total_inferences, v.error_count, v.avg_inference_time_ms, v.last_used_timestamp,
    v.performance_metrics, v.drift_metrics, v.rollback_metrics, v.deployment_timestamp
"""

_SET_CONTEXT = """
SELECT set_config('alphaplus.reason', $1, true), set_config('alphaplus.on_behalf_of', $2, true),
       set_config('alphaplus.flow_run_id', $3, true), set_config('alphaplus.metadata', $4, true)
"""
# One lock per slot for every pointer move and status change: serialises promotions and rollbacks of
# a slot while leaving other slots free. A row lock on slot_locks (created on first use), held until
# the transaction ends, so a crash releases it. Taking it needs UPDATE on slot_locks, which readers
# lack (an advisory lock anyone could take, and hold, to block a rollback).
_LOCK_SLOT = """
INSERT INTO slot_locks AS l (model_name, regime, symbol) VALUES ($1, $2, $3)
ON CONFLICT (model_name, regime, symbol) DO UPDATE SET model_name = l.model_name
"""

_ENSURE_MODEL = "INSERT INTO ml_models (model_name) VALUES ($1) ON CONFLICT (model_name) DO NOTHING"
_LOCK_MODEL = "SELECT latest_version FROM ml_models WHERE model_name = $1 FOR UPDATE"
_NEXT_VERSION = """
UPDATE ml_models SET latest_version = latest_version + 1, updated_at = now()
WHERE model_name = $1 RETURNING latest_version
"""
_FIND_BY_LINEAGE_KEY = f"""
SELECT {_VERSION_COLUMNS} FROM model_versions v JOIN model_lineage l ON l.lineage_id = v.lineage_id
WHERE l.model_name = $1 AND l.regime = $2 AND l.symbol = $3 AND l.lineage_key = $4
"""
# The lineage names its version; the version row (inserted next, same transaction) names the lineage.
# A parent given by version alone is a version of the same model.
_INSERT_LINEAGE = """
INSERT INTO model_lineage (model_name, model_version, regime, symbol, parent_model_name, parent_model_version,
    training_data_hash, feature_set_hash, hyperparameters_hash, lineage_key, timeframe, training_data_start,
    training_data_end, n_samples, training_samples, validation_samples, n_features, feature_set,
    hyperparameters, training_config, training_environment, training_duration_seconds, lineage_metadata,
    flow_run_id)
VALUES ($1, $2, $3, $4, CASE WHEN $6::int IS NOT NULL THEN coalesce($5, $1) END, $6, $7, $8, $9, $10, $11, $12,
        $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
RETURNING lineage_id
"""
_INSERT_VERSION = f"""
INSERT INTO model_versions AS v (model_name, version, regime, symbol, lineage_id, model_artifact_path,
    model_size_bytes, model_artifact_hash, training_metrics, validation_metrics, version_metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING {_VERSION_COLUMNS}
"""
_GET_VERSION = f"SELECT {_VERSION_COLUMNS} FROM model_versions v WHERE v.model_name = $1 AND v.version = $2"
_GET_VERSION_FOR_UPDATE = _GET_VERSION + " FOR UPDATE"
_GET_LINEAGE = """
SELECT l.* FROM model_lineage l JOIN model_versions v ON v.lineage_id = l.lineage_id
WHERE v.model_name = $1 AND v.version = $2
"""
_GET_PRODUCTION = f"""
SELECT {_VERSION_COLUMNS} FROM production_slots p
JOIN model_versions v ON v.model_name = p.model_name AND v.version = p.version
WHERE p.model_name = $1 AND p.regime = $2 AND p.symbol = $3
"""
_ALL_PRODUCTION = f"""
SELECT {_VERSION_COLUMNS} FROM production_slots p
JOIN model_versions v ON v.model_name = p.model_name AND v.version = p.version
WHERE ($1::text IS NULL OR p.model_name = $1)
ORDER BY p.model_name, p.regime, p.symbol
"""
_CURRENT_POINTER = "SELECT version FROM production_slots WHERE model_name = $1 AND regime = $2 AND symbol = $3"
_SET_STATUS = "UPDATE model_versions SET status = $3 WHERE model_name = $1 AND version = $2"
_UPSERT_POINTER = """
INSERT INTO production_slots AS p (model_name, regime, symbol, version)
VALUES ($1, $2, $3, $4)
ON CONFLICT (model_name, regime, symbol)
DO UPDATE SET version = EXCLUDED.version, since = clock_timestamp(), moved_by = session_user
RETURNING p.since
"""
_DELETE_POINTER = """
DELETE FROM production_slots WHERE model_name = $1 AND regime = $2 AND symbol = $3 AND version = $4
"""
_LIST_VERSIONS = f"""
SELECT {_VERSION_COLUMNS} FROM model_versions v
WHERE ($1::text IS NULL OR v.model_name = $1) AND ($2::text IS NULL OR v.regime = $2)
  AND ($3::text IS NULL OR v.symbol = $3) AND ($4::text IS NULL OR v.status = $4)
ORDER BY v.model_name, v.version DESC
LIMIT $5
"""
_PRODUCTION_AT = """
SELECT to_version FROM lifecycle_audit
WHERE event = 'production_moved' AND model_name = $1 AND regime = $2 AND symbol = $3 AND ts <= $4
ORDER BY ts DESC, id DESC
LIMIT 1
"""
_POINTER_MOVES = """
SELECT ts, to_version, actor, reason FROM lifecycle_audit
WHERE event = 'production_moved' AND model_name = $1 AND regime = $2 AND symbol = $3
ORDER BY ts, id
"""
_AUDIT = """
SELECT id, ts, event, model_name, regime, symbol, version, from_status, to_status, from_version,
       to_version, actor, on_behalf_of, reason, flow_run_id, metadata
FROM lifecycle_audit
WHERE model_name = $1 AND ($2::text IS NULL OR regime = $2) AND ($3::text IS NULL OR symbol = $3)
  AND ($4::int IS NULL OR version = $4 OR to_version = $4 OR from_version = $4)
ORDER BY ts, id
"""
_QUARANTINE_REASON = "SELECT alphaplus_quarantine_reason($1, $2)"
_ARTIFACT_PATHS = "SELECT DISTINCT model_artifact_path FROM model_versions"
# Batched usage: one statement for many versions; the running mean is kept exact.
_RECORD_USAGE = """
UPDATE model_versions v SET
    usage_count = v.usage_count + u.n,
    total_inferences = v.total_inferences + u.n,
    error_count = v.error_count + u.errors,
    avg_inference_time_ms = (v.avg_inference_time_ms * v.total_inferences + u.latency_sum_ms)
                            / nullif(v.total_inferences + u.n, 0),
    last_used_timestamp = greatest(v.last_used_timestamp, u.last_used)
FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::float8[], $6::timestamptz[])
     AS u(model_name, version, n, errors, latency_sum_ms, last_used)
WHERE v.model_name = u.model_name AND v.version = u.version AND u.n > 0
"""


def version_from_row(row: asyncpg.Record) -> ModelVersion:
    """Build a ModelVersion from a row selected with the registry's version columns."""
    return ModelVersion(
        model_name=row["model_name"],
        version=row["version"],
        regime=row["regime"],
        symbol=row["symbol"],
        status=row["status"],
        lineage_id=row["lineage_id"],
        artifact=StoredArtifact(row["model_artifact_path"], row["model_size_bytes"], row["model_artifact_hash"]),
        training_metrics=row["training_metrics"],
        validation_metrics=row["validation_metrics"],
        version_metadata=row["version_metadata"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        promoted_at=row["promoted_at"],
        deprecated_at=row["deprecated_at"],
        usage=UsageStats(
            usage_count=row["usage_count"],
            total_inferences=row["total_inferences"],
            error_count=row["error_count"],
            avg_inference_time_ms=row["avg_inference_time_ms"],
            last_used_timestamp=row["last_used_timestamp"],
        ),
        model_artifact_size_mb=row["model_artifact_size_mb"],
        performance_metrics=row["performance_metrics"],
        drift_metrics=row["drift_metrics"],
        rollback_metrics=row["rollback_metrics"],
        deployment_timestamp=row["deployment_timestamp"],
    )


def _lineage_from_row(row: asyncpg.Record) -> Lineage:
    fields = {k: row[k] for k in Lineage.__dataclass_fields__ if k in row.keys()}
    return Lineage(**fields)


async def set_context(conn: asyncpg.Connection, ctx: ChangeContext) -> None:
    """Tell the audit triggers why this transaction changes things."""
    await conn.execute(
        _SET_CONTEXT, ctx.reason or "", ctx.on_behalf_of or "", ctx.flow_run_id or "", json.dumps(dict(ctx.metadata))
    )


async def lock_slot(conn: asyncpg.Connection, slot: Slot) -> None:
    """Take the slot's transaction lock (released at commit or rollback); raises ConcurrentModification
    when another writer holds it for longer than the lock timeout."""
    # Translated here too: some callers (the rollback service) take the lock outside translated().
    try:
        with translated():
            await conn.execute(_LOCK_SLOT, slot.model_name, slot.regime, slot.symbol)
    except ConcurrentModification as e:
        raise ConcurrentModification(
            f"slot {slot} is busy: another promotion or rollback held it longer than the lock timeout; "
            "nothing was changed, try again"
        ) from e


class RegistryRepository:
    """The registry over an asyncpg pool; each write is one transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- registration ------------------------------------------------------------------------

    async def register_version(
        self,
        *,
        lineage: Lineage,
        artifact: StoredArtifact,
        training_metrics: dict[str, Any],
        validation_metrics: dict[str, Any],
        version_metadata: dict[str, Any] | None = None,
        ctx: ChangeContext = ChangeContext(reason="registered"),
    ) -> Registration:
        """Register a staging version with its lineage, atomically; the same lineage returns the same version."""
        with translated():
            async with self.pool.acquire() as conn, conn.transaction():
                await set_context(conn, ctx)
                await conn.execute(_ENSURE_MODEL, lineage.model_name)
                # The model row lock serialises registrations of one model: the idempotency check
                # and the version counter below see no concurrent writer.
                await conn.execute(_LOCK_MODEL, lineage.model_name)
                existing = await conn.fetchrow(
                    _FIND_BY_LINEAGE_KEY, lineage.model_name, lineage.regime, lineage.symbol, lineage.lineage_key
                )
                if existing is not None:
                    return Registration(version_from_row(existing), created=False)
                number = await conn.fetchval(_NEXT_VERSION, lineage.model_name)
                lineage_id = await conn.fetchval(
                    _INSERT_LINEAGE,
                    lineage.model_name, number, lineage.regime, lineage.symbol, lineage.parent_model_name,
                    lineage.parent_model_version, lineage.training_data_hash, lineage.feature_set_hash,
                    lineage.hyperparameters_hash, lineage.lineage_key, lineage.timeframe,
                    lineage.training_data_start, lineage.training_data_end, lineage.n_samples,
                    lineage.training_samples, lineage.validation_samples, lineage.n_features,
                    dict(lineage.feature_set), dict(lineage.hyperparameters), dict(lineage.training_config),
                    dict(lineage.training_environment), lineage.training_duration_seconds,
                    dict(lineage.lineage_metadata), lineage.flow_run_id,
                )
                row = await conn.fetchrow(
                    _INSERT_VERSION,
                    lineage.model_name, number, lineage.regime, lineage.symbol, lineage_id, artifact.path,
                    artifact.size, artifact.sha256, training_metrics, validation_metrics, version_metadata or {},
                )
                return Registration(version_from_row(row), created=True)

    # --- reads ---------------------------------------------------------------------------------

    async def get_version(self, model_name: str, version: int) -> ModelVersion:
        """One version; raises VersionNotFound."""
        with translated():
            row = await self.pool.fetchrow(_GET_VERSION, model_name, version)
        if row is None:
            raise VersionNotFound(f"version {version} of {model_name} does not exist")
        return version_from_row(row)

    async def get_lineage(self, model_name: str, version: int) -> Lineage:
        """The lineage of one version; raises VersionNotFound."""
        with translated():
            row = await self.pool.fetchrow(_GET_LINEAGE, model_name, version)
        if row is None:
            raise VersionNotFound(f"version {version} of {model_name} does not exist")
        return _lineage_from_row(row)

    async def get_production(self, slot: Slot) -> ModelVersion | None:
        """The production version of a slot, or None."""
        with translated():
            row = await self.pool.fetchrow(_GET_PRODUCTION, slot.model_name, slot.regime, slot.symbol)
        return version_from_row(row) if row else None

    async def all_production(self, model_name: str | None = None) -> list[ModelVersion]:
        """Every slot's production version (optionally of one model), in one query."""
        with translated():
            rows = await self.pool.fetch(_ALL_PRODUCTION, model_name)
        return [version_from_row(r) for r in rows]

    async def list_versions(
        self,
        *,
        model_name: str | None = None,
        regime: str | None = None,
        symbol: str | None = None,
        status: str | None = None,
        limit: int = 1000,
    ) -> list[ModelVersion]:
        """Versions matching the filters, newest first per model."""
        if status is not None and status not in lifecycle.STATUSES:
            raise InvalidInput(f"'{status}' is not a status; statuses are {', '.join(lifecycle.STATUSES)}")
        with translated():
            rows = await self.pool.fetch(_LIST_VERSIONS, model_name, regime, symbol, status, limit)
        return [version_from_row(r) for r in rows]

    async def production_at(self, slot: Slot, at: datetime) -> int | None:
        """The version that served ``slot`` at instant ``at`` (None: nothing served it then)."""
        with translated():
            return await self.pool.fetchval(_PRODUCTION_AT, slot.model_name, slot.regime, slot.symbol, at)

    async def slot_history(self, slot: Slot) -> list[ServingPeriod]:
        """What served the slot, from when to when, moved by whom and why, oldest first."""
        with translated():
            rows = await self.pool.fetch(_POINTER_MOVES, slot.model_name, slot.regime, slot.symbol)
        periods = []
        for i, r in enumerate(rows):
            end = rows[i + 1]["ts"] if i + 1 < len(rows) else None
            periods.append(ServingPeriod(r["to_version"], r["ts"], end, r["actor"], r["reason"]))
        return periods

    async def audit_events(
        self, model_name: str, *, regime: str | None = None, symbol: str | None = None, version: int | None = None
    ) -> list[LifecycleEvent]:
        """Audit rows of a model (optionally a slot or a version), in the order they happened."""
        with translated():
            rows = await self.pool.fetch(_AUDIT, model_name, regime, symbol, version)
        return [LifecycleEvent(**dict(r)) for r in rows]

    async def quarantine_reason(self, model_name: str, version: int) -> str | None:
        """Why a version may not serve (it, an ancestor, or its training data is quarantined), or None."""
        with translated():
            return await self.pool.fetchval(_QUARANTINE_REASON, model_name, version)

    async def artifact_paths(self) -> set[str]:
        """Every artifact path a registered version points to."""
        with translated():
            return {r["model_artifact_path"] for r in await self.pool.fetch(_ARTIFACT_PATHS)}

    # --- lifecycle writes ------------------------------------------------------------------------

    async def move_production(
        self,
        slot: Slot,
        to_version: int,
        *,
        expected_current: int | None | type[Ellipsis] = ...,
        previous_status: str = lifecycle.ROLLBACK_CANDIDATE,
        ctx: ChangeContext,
        conn: asyncpg.Connection | None = None,
    ) -> ProductionMove:
        """Make ``to_version`` the slot's production version: one transaction moves the pointer,
        sets both statuses and (through triggers) writes the audit rows and the NOTIFY.

        ``expected_current``: the production version the caller decided against (None: none);
        if production changed since, nothing is changed and ConcurrentModification is raised.
        Pass ``conn`` to join a transaction the caller already holds (it must hold the slot lock).
        """
        if previous_status not in lifecycle.TRANSITIONS[lifecycle.PRODUCTION]:
            raise IllegalTransition(f"a replaced production version cannot become '{previous_status}'")
        with translated():
            if conn is not None:
                return await self._move(conn, slot, to_version, expected_current, previous_status, ctx)
            async with self.pool.acquire() as c, c.transaction():
                await lock_slot(c, slot)
                return await self._move(c, slot, to_version, expected_current, previous_status, ctx)

    async def _move(
        self,
        conn: asyncpg.Connection,
        slot: Slot,
        to_version: int,
        expected_current: int | None | type[Ellipsis],
        previous_status: str,
        ctx: ChangeContext,
    ) -> ProductionMove:
        await set_context(conn, ctx)
        current = await conn.fetchval(_CURRENT_POINTER, slot.model_name, slot.regime, slot.symbol)
        if expected_current is not ... and current != expected_current:
            raise ConcurrentModification(
                f"production of {slot} is now version {current}, not {expected_current} as expected; "
                "nothing was changed"
            )
        target_row = await conn.fetchrow(_GET_VERSION_FOR_UPDATE, slot.model_name, to_version)
        if target_row is None:
            raise VersionNotFound(f"version {to_version} of {slot.model_name} does not exist")
        target = version_from_row(target_row)
        if target.slot != slot:
            raise InvalidInput(
                f"version {to_version} of {slot.model_name} belongs to slot {target.slot}, not {slot}"
            )
        lifecycle.check_transition(slot.model_name, to_version, target.status, lifecycle.PRODUCTION)
        why = await conn.fetchval(_QUARANTINE_REASON, slot.model_name, to_version)
        if why:
            raise QuarantinedError(f"version {to_version} of {slot.model_name} cannot serve production: {why}")
        if current is not None:
            await conn.execute(_SET_STATUS, slot.model_name, current, previous_status)
        await conn.execute(_SET_STATUS, slot.model_name, to_version, lifecycle.PRODUCTION)
        since = await conn.fetchval(_UPSERT_POINTER, slot.model_name, slot.regime, slot.symbol, to_version)
        return ProductionMove(slot, current, to_version, since)

    async def clear_production(
        self, conn: asyncpg.Connection, slot: Slot, version: int, *, previous_status: str, ctx: ChangeContext
    ) -> None:
        """Take ``version`` out of production and leave the slot without a production version, in the
        caller's transaction (it holds the slot lock): the pointer row goes, the version becomes
        ``previous_status``; the triggers write the audit rows (a move to no version) and the NOTIFY."""
        if previous_status not in lifecycle.TRANSITIONS[lifecycle.PRODUCTION]:
            raise IllegalTransition(f"a replaced production version cannot become '{previous_status}'")
        with translated():
            await set_context(conn, ctx)
            current = await conn.fetchval(_CURRENT_POINTER, slot.model_name, slot.regime, slot.symbol)
            if current != version:
                raise ConcurrentModification(
                    f"production of {slot} is now version {current}, not {version} as expected; nothing was changed"
                )
            await conn.execute(_DELETE_POINTER, slot.model_name, slot.regime, slot.symbol, version)
            await conn.execute(_SET_STATUS, slot.model_name, version, previous_status)

    async def set_status(
        self, model_name: str, version: int, to_status: str, *, ctx: ChangeContext
    ) -> ModelVersion:
        """Move a version to a non-production status; leaving production also clears the slot's pointer."""
        if to_status == lifecycle.PRODUCTION:
            raise IllegalTransition("production is entered by promotion or rollback, which move the slot's pointer")
        with translated():
            async with self.pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(_GET_VERSION, model_name, version)
                if row is None:
                    raise VersionNotFound(f"version {version} of {model_name} does not exist")
                slot = version_from_row(row).slot
                await lock_slot(conn, slot)
                await set_context(conn, ctx)
                current = version_from_row(await conn.fetchrow(_GET_VERSION_FOR_UPDATE, model_name, version))
                lifecycle.check_transition(model_name, version, current.status, to_status)
                if current.status == lifecycle.PRODUCTION:
                    await conn.execute(_DELETE_POINTER, slot.model_name, slot.regime, slot.symbol, version)
                await conn.execute(_SET_STATUS, model_name, version, to_status)
                return version_from_row(await conn.fetchrow(_GET_VERSION, model_name, version))

    # --- usage ---------------------------------------------------------------------------------

    async def record_usage(self, batch: Iterable[tuple[str, int, int, int, float, datetime]]) -> None:
        """Add flushed aggregates: (model_name, version, count, errors, latency_sum_ms, last_used)."""
        rows: Sequence[tuple] = list(batch)
        if not rows:
            return
        columns = list(zip(*rows))
        with translated():
            await self.pool.execute(_RECORD_USAGE, *[list(c) for c in columns])
