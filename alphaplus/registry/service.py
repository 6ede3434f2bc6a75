"""The registry facade: what pipelines, operators and the inference engine call.

It joins the database repository (db/) with the artifact store; the database guarantees the
invariants, this layer validates inputs early and gives errors a person can act on.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from alphaplus.core import lifecycle
from alphaplus.registry.artifacts import ArtifactStore
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
from alphaplus.core.errors import InvalidInput
from alphaplus.core.settings import Settings, get_settings


def validate_name(kind: str, value: str, *, max_length: int) -> str:
    """Reject names the schema would refuse, before any transaction starts."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{kind} must be a non-empty string")
    if len(value) > max_length:
        raise InvalidInput(f"{kind} is {len(value)} characters long; the limit is {max_length}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput(f"{kind} {value[:40]!r} contains control characters")
    return value


def validate_slot(slot: Slot) -> Slot:
    validate_name("model name", slot.model_name, max_length=200)
    validate_name("regime", slot.regime, max_length=64)
    validate_name("symbol", slot.symbol, max_length=64)
    return slot


class Registry:
    """Model registry: lineage, versions, lifecycle, production slots, audit, artifacts, usage."""

    def __init__(self, repository: Any, artifacts: ArtifactStore) -> None:
        self.repo = repository
        self.artifacts = artifacts

    @classmethod
    async def open(cls, settings: Settings | None = None) -> "Registry":
        """A registry on this event loop's pool for the configured database."""
        from db.pool import get_pool
        from db.registry import RegistryRepository

        settings = settings or get_settings()
        pool = await get_pool(settings=settings)
        return cls(RegistryRepository(pool), ArtifactStore(settings.artifacts_dir))

    # --- registration ------------------------------------------------------------------------

    async def register_model_version(
        self,
        lineage: Lineage,
        *,
        model: Any = None,
        artifact: StoredArtifact | None = None,
        training_metrics: dict[str, Any] | None = None,
        validation_metrics: dict[str, Any] | None = None,
        version_metadata: dict[str, Any] | None = None,
        ctx: ChangeContext | None = None,
    ) -> Registration:
        """Store the model (or take a stored artifact) and register it as staging; idempotent by lineage."""
        validate_slot(lineage.slot)
        if (model is None) == (artifact is None):
            raise InvalidInput("give either the fitted model or an already stored artifact")
        # Serialising, hashing and fsyncing the artifact is blocking work: off the event loop, so
        # concurrent registrations (and anything else on the loop) overlap with it.
        if artifact is None:
            artifact = await asyncio.to_thread(self.artifacts.save, model)
        else:
            await asyncio.to_thread(self.artifacts.verify, artifact.path, sha256=artifact.sha256, size=artifact.size)
        return await self.repo.register_version(
            lineage=lineage,
            artifact=artifact,
            training_metrics=training_metrics or {},
            validation_metrics=validation_metrics or {},
            version_metadata=version_metadata,
            ctx=ctx or ChangeContext(reason="registered", flow_run_id=lineage.flow_run_id),
        )

    # --- reads -------------------------------------------------------------------------------

    async def get_version(self, model_name: str, version: int) -> ModelVersion:
        return await self.repo.get_version(model_name, version)

    async def get_lineage(self, model_name: str, version: int) -> Lineage:
        return await self.repo.get_lineage(model_name, version)

    async def get_production_model(self, model_name: str, regime: str, symbol: str) -> ModelVersion | None:
        """The version serving the slot now, or None."""
        return await self.repo.get_production(Slot(model_name, regime, symbol))

    async def list_versions(self, **filters: Any) -> list[ModelVersion]:
        return await self.repo.list_versions(**filters)

    async def slot_history(self, slot: Slot) -> list[ServingPeriod]:
        return await self.repo.slot_history(slot)

    async def production_at(self, slot: Slot, at: datetime) -> int | None:
        return await self.repo.production_at(slot, at)

    async def audit_events(self, model_name: str, **filters: Any) -> list[LifecycleEvent]:
        return await self.repo.audit_events(model_name, **filters)

    async def usage_stats(self, model_name: str, version: int) -> UsageStats:
        return (await self.repo.get_version(model_name, version)).usage

    async def load_model(self, version: ModelVersion) -> Any:
        """The fitted model of a version, loaded only after its hash is verified."""
        return await asyncio.to_thread(self.artifacts.load, version.artifact)

    # --- lifecycle ---------------------------------------------------------------------------

    async def promote(
        self,
        model_name: str,
        version: int,
        *,
        reason: str,
        expected_current: int | None | type[Ellipsis] = ...,
        on_behalf_of: str | None = None,
        flow_run_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ProductionMove:
        """Make a version its slot's production; the previous one becomes rollback_candidate."""
        target = await self.repo.get_version(model_name, version)
        ctx = ChangeContext(reason or "promoted", on_behalf_of, flow_run_id, metadata or {})
        return await self.repo.move_production(target.slot, version, expected_current=expected_current, ctx=ctx)

    async def _set(self, model_name: str, version: int, status: str, reason: str, **ctx: Any) -> ModelVersion:
        return await self.repo.set_status(model_name, version, status, ctx=ChangeContext(reason, **ctx))

    async def demote(self, model_name: str, version: int, *, reason: str, **ctx: Any) -> ModelVersion:
        """Take a production version out of service, keeping it eligible as a rollback target."""
        return await self._set(model_name, version, lifecycle.ROLLBACK_CANDIDATE, reason, **ctx)

    async def archive(self, model_name: str, version: int, *, reason: str, **ctx: Any) -> ModelVersion:
        return await self._set(model_name, version, lifecycle.ARCHIVED, reason, **ctx)

    async def mark_rollback_candidate(self, model_name: str, version: int, *, reason: str, **ctx: Any) -> ModelVersion:
        return await self._set(model_name, version, lifecycle.ROLLBACK_CANDIDATE, reason, **ctx)

    async def mark_failed(self, model_name: str, version: int, *, reason: str, **ctx: Any) -> ModelVersion:
        return await self._set(model_name, version, lifecycle.FAILED, reason, **ctx)

    async def start_canary(self, model_name: str, version: int, *, reason: str, **ctx: Any) -> ModelVersion:
        return await self._set(model_name, version, lifecycle.CANARY, reason, **ctx)

    async def quarantine_training_data(self, training_data_hash: str, *, reason: str) -> None:
        await self.repo.quarantine_training_data(training_data_hash, reason=reason)

    async def quarantine_version(self, model_name: str, version: int, *, reason: str) -> None:
        await self.repo.quarantine_version(model_name, version, reason=reason)

    async def quarantine_reason(self, model_name: str, version: int) -> str | None:
        return await self.repo.quarantine_reason(model_name, version)

    async def record_usage(self, batch: list[tuple[str, int, int, int, float, datetime]]) -> None:
        await self.repo.record_usage(batch)
