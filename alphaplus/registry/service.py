"""The registry facade: what pipelines, operators and the inference engine call.

It joins the database repository (db/) with the artifact store; the database guarantees the
invariants, this layer validates inputs early and gives errors a person can act on.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Mapping

from alphaplus.core import lifecycle
from alphaplus.registry.artifacts import ArtifactStore
from alphaplus.registry.store import RegistryStore
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
from alphaplus.core.records import UsageRow
from alphaplus.core.errors import InvalidInput, ModelNotFound, NotFound, VersionNotFound
from alphaplus.core.settings import Settings, get_settings
from alphaplus.core.validation import (
    check_document,
    check_hash,
    check_model_name,
    check_on_behalf_of,
    check_reason,
    check_slot_names,
    check_text,
    check_version_number,
)


def validate_slot(slot: Slot) -> Slot:
    """The slot, if its three names follow the naming rule (alphaplus.core.validation)."""
    check_slot_names(slot.model_name, slot.regime, slot.symbol)
    return slot


def change_context(
    reason: str, on_behalf_of: str | None = None, flow_run_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> ChangeContext:
    """The audit context of a change, checked before any transaction starts."""
    return ChangeContext(
        check_reason(reason), check_on_behalf_of(on_behalf_of),
        None if flow_run_id is None else check_text("flow run id", flow_run_id, max_length=200),
        check_document("audit metadata", metadata),
    )


def validate_lineage(lineage: Lineage) -> None:
    """Names, hashes and JSON documents of a lineage about to be registered."""
    validate_slot(lineage.slot)
    check_hash(lineage.training_data_hash)
    check_hash(lineage.feature_set_hash, "feature-set hash")
    check_hash(lineage.hyperparameters_hash, "hyperparameters hash")
    check_hash(lineage.lineage_key, "lineage key")
    if lineage.parent_model_name is not None:
        check_model_name(lineage.parent_model_name)
    if lineage.parent_model_version is not None:
        check_version_number(lineage.parent_model_version)
    for kind in ("feature_set", "hyperparameters", "training_config", "training_environment", "lineage_metadata"):
        check_document(kind.replace("_", " "), getattr(lineage, kind))


class Registry:
    """Model registry: lineage, versions, lifecycle, production slots, audit, artifacts, usage."""

    def __init__(self, repository: RegistryStore, artifacts: ArtifactStore, settings: Settings | None = None) -> None:
        self.repo = repository
        self.artifacts = artifacts
        # Where candles are read from for the gate and reproduction (the configured candle source).
        self.settings = settings or get_settings()

    @classmethod
    async def open(cls, settings: Settings | None = None) -> "Registry":
        """A registry on this event loop's pool for the configured database."""
        from db.pool import get_pool
        from db.registry import RegistryRepository

        settings = settings or get_settings()
        pool = await get_pool(settings=settings)
        return cls(RegistryRepository(pool), ArtifactStore(settings.artifacts_dir), settings)

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
        validate_lineage(lineage)
        for kind, document in (("training metrics", training_metrics), ("validation metrics", validation_metrics),
                               ("version metadata", version_metadata)):
            check_document(kind, document)
        ctx = ctx or change_context("registered", flow_run_id=lineage.flow_run_id)
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
            ctx=ctx,
        )

    # --- reads -------------------------------------------------------------------------------

    async def get_version(self, model_name: str, version: int) -> ModelVersion:
        return await self.repo.get_version(model_name, version)

    async def get_lineage(self, model_name: str, version: int) -> Lineage:
        return await self.repo.get_lineage(model_name, version)

    async def get_production_model(self, slot: Slot) -> ModelVersion | None:
        """The version serving the slot now, or None."""
        return await self.repo.get_production(slot)

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

    async def record_comparison(self, **row: Any) -> int:
        """Record a gate decision (or a forced promotion) as a model_comparison row; returns its id."""
        return await self.repo.insert_comparison(**row)

    async def latest_gate(self, model_name: str, version: int) -> dict[str, Any] | None:
        """The latest gate decision about a version, or None."""
        return await self.repo.latest_gate(model_name, version)

    async def artifact_paths(self) -> set[str]:
        """Every artifact path a registered version points to."""
        return await self.repo.artifact_paths()

    async def versions_in(self, slot: Slot, statuses: tuple[str, ...], limit: int) -> list[int]:
        """Versions of a slot in ``statuses``, most recently promoted (or changed) first."""
        return await self.repo.versions_in(slot, statuses, limit)

    # --- what an operator names: each check fails with one line saying what exists instead ----------

    async def require_model(self, model_name: str) -> int:
        """The latest version number of a registered model; raises ModelNotFound otherwise."""
        latest = await self.repo.latest_version(model_name)
        if latest is None:
            raise ModelNotFound(f"model {model_name!r} is not registered; `alphaplus models list` shows the models")
        return latest

    async def require_version(self, model_name: str, version: int) -> None:
        """Raise ModelNotFound or VersionNotFound (naming the latest version) unless the version exists."""
        latest = await self.require_model(model_name)
        if version > latest:
            raise VersionNotFound(f"version {version} of {model_name} does not exist; the latest is {latest}")

    async def require_slot(self, slot: Slot) -> None:
        """Raise unless the model is registered and has versions for the slot's regime and symbol."""
        await self.require_model(slot.model_name)
        slots = await self.repo.model_slots(slot.model_name)
        if slot not in slots:
            known = ", ".join(f"{s.regime}/{s.symbol}" for s in slots) or "none"
            raise NotFound(f"{slot.model_name} has no version for regime {slot.regime!r}, symbol {slot.symbol!r}; "
                           f"its slots are: {known}")

    async def artifact_bytes(self, version: ModelVersion) -> bytes:
        """The stored artifact of a version, verified against its recorded size and hash."""
        a = version.artifact
        return await asyncio.to_thread(self.artifacts.verify, a.path, sha256=a.sha256, size=a.size)

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
        ctx = change_context(reason or "promoted", on_behalf_of, flow_run_id, metadata)
        target = await self.repo.get_version(model_name, version)
        return await self.repo.move_production(target.slot, version, expected_current=expected_current, ctx=ctx)

    async def _set(self, model_name: str, version: int, status: str, reason: str, **ctx: Any) -> ModelVersion:
        return await self.repo.set_status(model_name, version, status, ctx=change_context(reason, **ctx))

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

    async def quarantine_training_data(self, training_data_hash: str, *, reason: str) -> Quarantine:
        """Quarantine training data: no version trained on it, or descending from one, may serve.
        Refused (nothing written) while such a version serves production: roll it back first, or use
        ``alphaplus.rollback.quarantine`` to do both at once. Quarantining again changes nothing."""
        return await self.repo.quarantine(training_data_hash=check_hash(training_data_hash),
                                          reason=check_reason(reason))

    async def quarantine_version(self, model_name: str, version: int, *, reason: str) -> Quarantine:
        """Quarantine a version and its descendants; refused while one of them serves (see above)."""
        return await self.repo.quarantine(model_name=check_model_name(model_name),
                                          version=check_version_number(version), reason=check_reason(reason))

    async def quarantine_reason(self, model_name: str, version: int) -> str | None:
        return await self.repo.quarantine_reason(model_name, version)

    async def record_usage(self, batch: list[UsageRow]) -> None:
        await self.repo.record_usage(batch)
