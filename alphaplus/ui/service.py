"""The dashboard's reads: the queries of db/dashboard.py on a read-only pool, turned into what the
pages show (alphaplus.ui.views), and artifact verification off the event loop."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Mapping

from alphaplus.core.errors import ArtifactIntegrityError, NotFound, VersionNotFound
from alphaplus.core.settings import Settings
from alphaplus.ui import links, views

SPARK_WINDOWS = 24
SLOTS_PER_PAGE = 50
CHART_WINDOWS = 500
MAX_CHART_WINDOWS = 5_000
SHADOW_WINDOWS = 2_000
MAX_ANCESTORS = 20
# Artifacts larger than this are not hashed for a page view.
VERIFY_MAX_BYTES = 256 * 1024 * 1024
_VERIFIED_CACHE_SIZE = 4_096


@dataclass(frozen=True)
class ArtifactCheck:
    """Whether the stored artifact matches its registered size and SHA-256."""

    verified: bool | None  # None: not checked
    detail: str


def utcnow() -> datetime:
    return datetime.now(UTC)


class Dashboard:
    """Read-only access for the pages; one pool per event loop (db.pool), every transaction read-only."""

    def __init__(self, settings: Settings, database_url: str | None = None) -> None:
        self.settings = settings
        self.database_url = database_url or settings.ui_database_url
        self.page_size = settings.ui_page_size
        self._verified: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def pool(self):
        from db.dashboard import SESSION
        from db.pool import get_pool

        return await get_pool(self.database_url, self.settings, session=SESSION)

    async def overview(self, *, model_filter: str | None, page: int) -> dict[str, Any]:
        from db import dashboard

        total, rows = await dashboard.overview(await self.pool(), model_filter=model_filter, limit=SLOTS_PER_PAGE,
                                               offset=(page - 1) * SLOTS_PER_PAGE, windows=SPARK_WINDOWS)
        now = utcnow()
        pages = max(1, -(-total // SLOTS_PER_PAGE))
        return {"grids": views.model_grids(rows, now), "slots": total, "page": page, "pages": pages, "now": now}

    async def slot(self, model_name: str, regime: str, symbol: str, *, versions_page: int, comparisons_page: int,
                   windows: int) -> dict[str, Any]:
        from db import dashboard

        limit = self.page_size
        data = await dashboard.slot_page(
            await self.pool(), model_name, regime, symbol, limit=limit, versions_offset=(versions_page - 1) * limit,
            comparisons_offset=(comparisons_page - 1) * limit, chart_windows=min(windows, MAX_CHART_WINDOWS),
            shadow_windows=SHADOW_WINDOWS)
        if data is None:
            raise NotFound(f"{model_name} has no version for regime {regime!r}, symbol {symbol!r}")
        data["serving"] = views.serving_rows(data["moves"])
        data["now"] = utcnow()
        data["spans"] = views.serving_spans(data["serving"], data["now"],
                                            lambda version: links.version_path(model_name, version))
        data["points"] = views.chart_points(data["chart"])
        data["markers"] = views.chart_markers(data["serving"])
        data["shadow"] = [{"version": s["version"], **(views.pooled_quality(s) or {})} for s in data["shadow"]]
        assessment = data["assessment"] or {}
        data["market_shift"] = views.is_market_shift(assessment.get("last_status"),
                                                     (assessment.get("last_assessment") or {}).get("triggers"))
        return data

    async def version(self, model_name: str, version: int) -> dict[str, Any]:
        from db import dashboard

        data = await dashboard.version_page(await self.pool(), model_name, version, limit=self.page_size,
                                            max_depth=MAX_ANCESTORS)
        if data is None:
            raise VersionNotFound(f"version {version} of {model_name} does not exist")
        live = views.pooled_quality(data["live"])
        data["live_quality"] = live
        data["shadow_quality"] = views.pooled_quality(data["shadow"])
        gate = data["gate"] or {}
        data["metric_sets"] = views.metric_sets(data["training_metrics"] or {}, data["validation_metrics"] or {},
                                                live, gate=gate.get("metrics"))
        data["set_descriptions"] = views.SET_DESCRIPTIONS
        data["artifact_check"] = await self.verify_artifact(data["artifact_path"], data["artifact_hash"],
                                                            data["artifact_size"])
        data["reproduce"] = views.reproduce_command(model_name, version)
        data["root_reached"] = not data["ancestors"] or data["ancestors"][-1]["parent_version"] is None
        data["lineage"] = views.lineage_nodes(model_name, data)
        data["now"] = utcnow()
        return data

    async def rollbacks(self, filters: Mapping[str, Any], position: tuple[datetime, int, bool] | None):
        from db import dashboard

        rows = await dashboard.rollback_events(await self.pool(), filters, _cursor(position), self.page_size + 1)
        return _page(rows, position, self.page_size)

    async def audit(self, filters: Mapping[str, Any], position: tuple[datetime, int, bool] | None):
        from db import dashboard

        rows = await dashboard.audit_events(await self.pool(), filters, _cursor(position), self.page_size + 1)
        return _page(rows, position, self.page_size)

    async def verify_artifact(self, path: str, sha256: str, size: int) -> ArtifactCheck:
        """Hash the stored file against the registry (a match is remembered: artifacts are immutable)."""
        key = (path, sha256)
        if key in self._verified:
            return ArtifactCheck(True, "matches its registered size and SHA-256")
        if size > VERIFY_MAX_BYTES:
            return ArtifactCheck(None, f"not checked here: larger than {VERIFY_MAX_BYTES // 2**20} MB")
        from alphaplus.registry.artifacts import ArtifactStore

        store = ArtifactStore(self.settings.artifacts_dir)
        try:
            await asyncio.to_thread(store.verify, path, sha256=sha256, size=size)
        except ArtifactIntegrityError as e:
            return ArtifactCheck(False, str(e))
        except OSError as e:
            return ArtifactCheck(None, f"cannot read the artifact: {e.__class__.__name__}")
        self._verified[key] = None
        while len(self._verified) > _VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return ArtifactCheck(True, "matches its registered size and SHA-256")


def _cursor(position: tuple[datetime, int, bool] | None):
    from db.dashboard import Cursor

    return None if position is None else Cursor(*position)


def _page(rows: list[dict[str, Any]], position: tuple[datetime, int, bool] | None,
          size: int) -> tuple[list[dict[str, Any]], bool, bool]:
    """(rows of the page newest first, whether newer rows exist, whether older rows exist).

    ``rows`` holds one row more than a page when there is more in the direction read."""
    newer = position is not None and position[2]
    more = len(rows) > size
    if newer:
        rows = rows[-size:] if more else rows
        return rows, more, True
    return rows[:size], position is not None, more
