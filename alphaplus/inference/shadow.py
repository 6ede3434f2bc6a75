"""Shadow scoring: a slot's canaries and rollback candidates score the bars production answers, from the
same feature rows and through the same Booster path, recorded and never returned.

It runs as a task after the caller has its answer (best effort: when too many batches wait, new ones are
skipped and counted), so it adds nothing to the caller's latency but the scheduling of that task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from alphaplus.core.errors import AlphaPlusError, InvalidInput
from alphaplus.inference.events import error_event, prediction_event
from alphaplus.inference.models import ModelCache, ServedModel, score_rows
from alphaplus.inference.recorder import InferenceRecorder
from alphaplus.inference.versions import ServingVersions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowBatch:
    """Rows production answered: their outputs, and per row the slot, bar and production version."""

    ts: datetime
    outputs: np.ndarray
    rows: list[int]
    regimes: list[str]
    symbols: list[str]
    bar_times: list[datetime]
    production: list[int]


class ShadowScoring:
    """Scores shadow versions of the slots a batch touched, off the caller's path."""

    def __init__(self, versions: ServingVersions, models: ModelCache, recorder: InferenceRecorder, *,
                 max_pending: int) -> None:
        self._versions = versions
        self._models = models
        self._recorder = recorder
        self._max_pending = max_pending
        self._tasks: set[asyncio.Task] = set()
        self.counts = dict(shadow_scored=0, shadow_skipped=0)

    def schedule(self, batch: ShadowBatch) -> None:
        if len(self._tasks) >= self._max_pending:
            # Shadow scoring is best effort: under load it yields to serving.
            self.counts["shadow_skipped"] += len(batch.rows)
            return
        task = asyncio.get_running_loop().create_task(self._score(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _score(self, batch: ShadowBatch) -> None:
        started = time.perf_counter()
        model_name = self._versions.model_name
        entries: list[tuple[int, ServedModel]] = []
        slots: list[int] = []  # position in the batch of each entry
        for k, (regime, symbol) in enumerate(zip(batch.regimes, batch.symbols)):
            try:
                versions = await self._versions.shadows(regime, symbol)
            except AlphaPlusError as e:
                log.warning("shadow versions of %s/%s/%s not looked up: %s", model_name, regime, symbol, e)
                continue
            for version in versions:
                if version.version == batch.production[k]:
                    continue
                try:
                    entries.append((batch.rows[k], await self._models.get(version)))
                    slots.append(k)
                except Exception as e:  # noqa: BLE001 - a shadow failure is recorded, never raised
                    self._failed(batch, k, version.version, started, e)
        if not entries:
            return
        probabilities, vectors = score_rows(batch.outputs, entries)
        latency_ms = (time.perf_counter() - started) * 1000.0
        for (_, served), k, probability, vector in zip(entries, slots, probabilities.tolist(), vectors):
            if np.isnan(probability):
                self._failed(batch, k, served.version.version, started,
                             InvalidInput("the bar's features are incomplete"))
                continue
            self._recorder.record(prediction_event(
                batch.ts, batch.bar_times[k], model_name, served.version.version, batch.regimes[k], batch.symbols[k],
                True, latency_ms, probability, vector))
            self.counts["shadow_scored"] += 1

    def _failed(self, batch: ShadowBatch, k: int, version: int, started: float, error: BaseException) -> None:
        self._recorder.record(error_event(
            ts=batch.ts, bar_ts=batch.bar_times[k], model_name=self._versions.model_name, version=version,
            regime=batch.regimes[k], symbol=batch.symbols[k], shadow=True,
            latency_ms=(time.perf_counter() - started) * 1000.0, error=error))
        log.warning("shadow scoring of version %d of %s failed: %s", version, self._versions.model_name, error)
