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
    Quarantine,
    Registration,
    ServingPeriod,
    Slot,
    StoredArtifact,
    UsageStats,
)
from alphaplus.core.errors import ConcurrentModification, IllegalTransition, InvalidInput, QuarantinedError, VersionNotFound
from db import registry_sql as sql
from db import comparisons
from db.quarantine import quarantine
from db.errors import translated


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
        sql.SET_CONTEXT, ctx.reason or "", ctx.on_behalf_of or "", ctx.flow_run_id or "", json.dumps(dict(ctx.metadata))
    )


async def lock_slot(conn: asyncpg.Connection, slot: Slot) -> None:
    """Take the slot's transaction lock (released at commit or rollback); raises ConcurrentModification
    when another writer holds it for longer than the lock timeout."""
    # Translated here too: some callers (the rollback service) take the lock outside translated().
    try:
        with translated():
            await conn.execute(sql.LOCK_SLOT, slot.model_name, slot.regime, slot.symbol)
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
                await conn.execute(sql.ENSURE_MODEL, lineage.model_name)
                # The model row lock serialises registrations of one model: the idempotency check
                # and the version counter below see no concurrent writer.
                await conn.execute(sql.LOCK_MODEL, lineage.model_name)
                existing = await conn.fetchrow(
                    sql.FIND_BY_LINEAGE_KEY, lineage.model_name, lineage.regime, lineage.symbol, lineage.lineage_key
                )
                if existing is not None:
                    return Registration(version_from_row(existing), created=False)
                number = await conn.fetchval(sql.NEXT_VERSION, lineage.model_name)
                lineage_id = await conn.fetchval(
                    sql.INSERT_LINEAGE,
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
                    sql.INSERT_VERSION,
                    lineage.model_name, number, lineage.regime, lineage.symbol, lineage_id, artifact.path,
                    artifact.size, artifact.sha256, training_metrics, validation_metrics, version_metadata or {},
                )
                return Registration(version_from_row(row), created=True)

    # --- reads ---------------------------------------------------------------------------------

    async def get_version(self, model_name: str, version: int) -> ModelVersion:
        """One version; raises VersionNotFound."""
        with translated():
            row = await self.pool.fetchrow(sql.GET_VERSION, model_name, version)
        if row is None:
            raise VersionNotFound(f"version {version} of {model_name} does not exist")
        return version_from_row(row)

    async def get_lineage(self, model_name: str, version: int) -> Lineage:
        """The lineage of one version; raises VersionNotFound."""
        with translated():
            row = await self.pool.fetchrow(sql.GET_LINEAGE, model_name, version)
        if row is None:
            raise VersionNotFound(f"version {version} of {model_name} does not exist")
        return _lineage_from_row(row)

    async def get_production(self, slot: Slot) -> ModelVersion | None:
        """The production version of a slot, or None."""
        with translated():
            row = await self.pool.fetchrow(sql.GET_PRODUCTION, slot.model_name, slot.regime, slot.symbol)
        return version_from_row(row) if row else None

    async def all_production(self, model_name: str | None = None) -> list[ModelVersion]:
        """Every slot's production version (optionally of one model), in one query."""
        with translated():
            rows = await self.pool.fetch(sql.ALL_PRODUCTION, model_name)
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
            rows = await self.pool.fetch(sql.LIST_VERSIONS, model_name, regime, symbol, status, limit)
        return [version_from_row(r) for r in rows]

    async def production_at(self, slot: Slot, at: datetime) -> int | None:
        """The version that served ``slot`` at instant ``at`` (None: nothing served it then)."""
        with translated():
            return await self.pool.fetchval(sql.PRODUCTION_AT, slot.model_name, slot.regime, slot.symbol, at)

    async def slot_history(self, slot: Slot) -> list[ServingPeriod]:
        """What served the slot, from when to when, moved by whom and why, oldest first."""
        with translated():
            rows = await self.pool.fetch(sql.POINTER_MOVES, slot.model_name, slot.regime, slot.symbol)
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
            rows = await self.pool.fetch(sql.AUDIT, model_name, regime, symbol, version)
        return [LifecycleEvent(**dict(r)) for r in rows]

    async def quarantine_reason(self, model_name: str, version: int) -> str | None:
        """Why a version may not serve (it, an ancestor, or its training data is quarantined), or None."""
        with translated():
            return await self.pool.fetchval(sql.QUARANTINE_REASON, model_name, version)

    async def artifact_paths(self) -> set[str]:
        """Every artifact path a registered version points to."""
        with translated():
            return {r["model_artifact_path"] for r in await self.pool.fetch(sql.ARTIFACT_PATHS)}

    async def latest_version(self, model_name: str) -> int | None:
        """The latest version number of a model, or None when it is not registered."""
        with translated():
            return await self.pool.fetchval(sql.LATEST_VERSION, model_name)

    async def model_slots(self, model_name: str) -> list[Slot]:
        """Every slot a model has versions for."""
        with translated():
            rows = await self.pool.fetch(sql.MODEL_SLOTS, model_name)
        return [Slot(model_name, r["regime"], r["symbol"]) for r in rows]

    async def versions_in(self, slot: Slot, statuses: Sequence[str], limit: int) -> list[int]:
        """Versions of a slot in ``statuses``, most recently promoted (or changed) first."""
        with translated():
            rows = await self.pool.fetch(sql.SHADOW_VERSIONS, slot.model_name, slot.regime, slot.symbol,
                                         list(statuses), limit)
        return [r["version"] for r in rows]

    async def insert_comparison(self, **row: Any) -> int:
        """Append a model_comparison row (db.comparisons.insert_comparison); returns its id."""
        return await comparisons.insert_comparison(self.pool, **row)

    async def latest_gate(self, model_name: str, version: int) -> dict[str, Any] | None:
        """The latest gate decision about a version (its model_comparison row), or None."""
        return await comparisons.latest_gate(self.pool, model_name=model_name, version=version)

    async def quarantine(self, **what: Any) -> Quarantine:
        """Quarantine data or a version (db.quarantine.quarantine), refused while it serves."""
        return await quarantine(self.pool, **what)

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
        current = await conn.fetchval(sql.CURRENT_POINTER, slot.model_name, slot.regime, slot.symbol)
        if expected_current is not ... and current != expected_current:
            raise ConcurrentModification(
                f"production of {slot} is now version {current}, not {expected_current} as expected; "
                "nothing was changed"
            )
        target_row = await conn.fetchrow(sql.GET_VERSION_FOR_UPDATE, slot.model_name, to_version)
        if target_row is None:
            raise VersionNotFound(f"version {to_version} of {slot.model_name} does not exist")
        target = version_from_row(target_row)
        if target.slot != slot:
            raise InvalidInput(
                f"version {to_version} of {slot.model_name} belongs to slot {target.slot}, not {slot}"
            )
        lifecycle.check_transition(slot.model_name, to_version, target.status, lifecycle.PRODUCTION)
        why = await conn.fetchval(sql.QUARANTINE_REASON, slot.model_name, to_version)
        if why:
            raise QuarantinedError(f"version {to_version} of {slot.model_name} cannot serve production: {why}")
        if current is not None:
            await conn.execute(sql.SET_STATUS, slot.model_name, current, previous_status)
        await conn.execute(sql.SET_STATUS, slot.model_name, to_version, lifecycle.PRODUCTION)
        since = await conn.fetchval(sql.UPSERT_POINTER, slot.model_name, slot.regime, slot.symbol, to_version)
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
            current = await conn.fetchval(sql.CURRENT_POINTER, slot.model_name, slot.regime, slot.symbol)
            if current != version:
                raise ConcurrentModification(
                    f"production of {slot} is now version {current}, not {version} as expected; nothing was changed"
                )
            await conn.execute(sql.DELETE_POINTER, slot.model_name, slot.regime, slot.symbol, version)
            await conn.execute(sql.SET_STATUS, slot.model_name, version, previous_status)

    async def set_status(
        self, model_name: str, version: int, to_status: str, *, ctx: ChangeContext
    ) -> ModelVersion:
        """Move a version to a non-production status; leaving production also clears the slot's pointer."""
        if to_status == lifecycle.PRODUCTION:
            raise IllegalTransition("production is entered by promotion or rollback, which move the slot's pointer")
        with translated():
            async with self.pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(sql.GET_VERSION, model_name, version)
                if row is None:
                    raise VersionNotFound(f"version {version} of {model_name} does not exist")
                slot = version_from_row(row).slot
                await lock_slot(conn, slot)
                await set_context(conn, ctx)
                current = version_from_row(await conn.fetchrow(sql.GET_VERSION_FOR_UPDATE, model_name, version))
                lifecycle.check_transition(model_name, version, current.status, to_status)
                if current.status == lifecycle.PRODUCTION:
                    await conn.execute(sql.DELETE_POINTER, slot.model_name, slot.regime, slot.symbol, version)
                await conn.execute(sql.SET_STATUS, model_name, version, to_status)
                return version_from_row(await conn.fetchrow(sql.GET_VERSION, model_name, version))

    # --- usage ---------------------------------------------------------------------------------

    async def record_usage(self, batch: Iterable[tuple[str, int, int, int, float, datetime]]) -> None:
        """Add flushed aggregates: (model_name, version, count, errors, latency_sum_ms, last_used)."""
        rows: Sequence[tuple] = list(batch)
        if not rows:
            return
        columns = list(zip(*rows))
        with translated():
            await self.pool.execute(sql.RECORD_USAGE, *[list(c) for c in columns])
