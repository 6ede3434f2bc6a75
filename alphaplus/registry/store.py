"""What the registry needs from its database: one Protocol, the store a Registry is built from.

``db.registry.RegistryRepository`` is the PostgreSQL implementation; the registry service knows only
this shape, so a test or another backend supplies any object with these methods.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Protocol, Sequence

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
)
from alphaplus.core.records import UsageRow


class RegistryStore(Protocol):
    async def register_version(
        self, *, lineage: Lineage, artifact: StoredArtifact, training_metrics: dict[str, Any],
        validation_metrics: dict[str, Any], version_metadata: dict[str, Any] | None = None,
        ctx: ChangeContext = ...,
    ) -> Registration: ...

    async def get_version(self, model_name: str, version: int) -> ModelVersion: ...

    async def get_lineage(self, model_name: str, version: int) -> Lineage: ...

    async def get_production(self, slot: Slot) -> ModelVersion | None: ...

    async def list_versions(self, **filters: Any) -> list[ModelVersion]: ...

    async def production_at(self, slot: Slot, at: datetime) -> int | None: ...

    async def slot_history(self, slot: Slot) -> list[ServingPeriod]: ...

    async def audit_events(self, model_name: str, **filters: Any) -> list[LifecycleEvent]: ...

    async def quarantine_reason(self, model_name: str, version: int) -> str | None: ...

    async def artifact_paths(self) -> set[str]: ...

    async def latest_version(self, model_name: str) -> int | None: ...

    async def model_slots(self, model_name: str) -> list[Slot]: ...

    async def versions_in(self, slot: Slot, statuses: Sequence[str], limit: int) -> list[int]: ...

    async def insert_comparison(self, **row: Any) -> int: ...

    async def latest_gate(self, model_name: str, version: int) -> dict[str, Any] | None: ...

    async def quarantine(self, **what: Any) -> Quarantine: ...

    async def move_production(
        self, slot: Slot, to_version: int, *, expected_current: int | None | type[Ellipsis] = ...,
        previous_status: str = ..., ctx: ChangeContext, conn: Any = None,
    ) -> ProductionMove: ...

    async def set_status(self, model_name: str, version: int, to_status: str, *, ctx: ChangeContext) -> ModelVersion: ...

    async def record_usage(self, batch: Iterable[UsageRow]) -> None: ...
