"""The inference engine: classify the regime of the latest bar, serve that slot's production model,
record the prediction; promotions and rollbacks made elsewhere are picked up through LISTEN/NOTIFY.

Caching: a slot's production version is looked up once and kept until a notification on
'alphaplus_slots' names the slot (or the listener reconnects, when everything is dropped because
notifications may have been missed). Artifacts are content-addressed and verified on first load,
so a loaded model is kept per (model_name, version). While the listener is down the last known
versions keep serving: a trading process should not stop because the registry is unreachable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from alphaplus.core import lifecycle
from alphaplus.core.entities import ModelVersion
from alphaplus.core.errors import AlphaPlusError, DatabaseUnavailable, InvalidInput, NoProductionVersion
from alphaplus.ml.features import build_features
from alphaplus.inference.events import error_event
from alphaplus.inference.recorder import InferenceRecorder, first_of
from alphaplus.ml.regimes import DEFAULT_RULE, RegimeRule, classify_regimes
from alphaplus.core.settings import Settings, get_settings
from alphaplus.ml.training import TrainedModel

log = logging.getLogger(__name__)

UTC = timezone.utc
# Same rule as alphaplus.ml.metrics: class 1 when its probability is above one half.
DECISION_THRESHOLD = 0.5
SHADOW_STATUSES = (lifecycle.CANARY, lifecycle.ROLLBACK_CANDIDATE)

# Listener upkeep: a silent TCP connection is only known dead when used, so it is pinged.
LISTEN_KEEPALIVE_SECONDS = 5.0
LISTEN_PING_TIMEOUT_SECONDS = 2.0
# Reconnect backoff; capped low because a missed promotion is served late until reconnection.
RECONNECT_FIRST_DELAY_SECONDS = 0.05
RECONNECT_MAX_DELAY_SECONDS = 1.0


@dataclass(frozen=True)
class Prediction:
    """One answer of the engine: class, probability of class 1, and what produced it."""

    prediction: int
    probability: float
    version: int
    regime: str
    symbol: str
    bar_ts: datetime
    latency_ms: float


@dataclass(frozen=True)
class EngineStats:
    """Counters of an engine since it started."""

    predictions: int
    failures: int
    production_lookups: int
    cache_hits: int
    invalidations: int
    listener_connects: int
    shadow_scored: int
    shadow_skipped: int


class InferenceEngine:
    """Serves ``model_name``'s production version of each (regime, symbol) slot; one per event loop."""

    def __init__(
        self,
        registry: Any,
        recorder: InferenceRecorder,
        *,
        dsn: str,
        settings: Settings | None = None,
        model_name: str | None = None,
        shadow: bool = False,
        shadow_limit: int = 2,
        max_pending_shadow: int = 64,
        regime_rule: RegimeRule = DEFAULT_RULE,
        max_cached_models: int = 32,
        keepalive_seconds: float = LISTEN_KEEPALIVE_SECONDS,
    ) -> None:
        self.settings = settings or get_settings()
        self.model_name = model_name or self.settings.default_model_name
        self.registry = registry
        self.recorder = recorder
        self._dsn = dsn
        self._shadow = shadow
        self._shadow_limit = shadow_limit
        self._max_pending_shadow = max_pending_shadow
        self._rule = regime_rule
        # Enough history for the last bar's regime to equal the one computed over all the bars.
        self._regime_bars = regime_rule.vol_lookback + regime_rule.window + 1
        self._max_models = max_cached_models
        self._keepalive = keepalive_seconds
        self._production: dict[tuple[str, str], ModelVersion | None] = {}
        self._shadows: dict[tuple[str, str], tuple[ModelVersion, ...]] = {}
        self._models: OrderedDict[tuple[str, int], TrainedModel] = OrderedDict()
        self._loading: dict[tuple[str, int], asyncio.Future] = {}
        # Bumped by every invalidation: a lookup that started before it must not fill the cache.
        self._generation = 0
        self._listener: Any = None
        self._lost = asyncio.Event()
        self._closing = asyncio.Event()
        self._listen_task: asyncio.Task | None = None
        self._shadow_tasks: set[asyncio.Task] = set()
        self._n = dict(predictions=0, failures=0, production_lookups=0, cache_hits=0, invalidations=0,
                       listener_connects=0, shadow_scored=0, shadow_skipped=0)

    # --- construction ------------------------------------------------------------------------

    @classmethod
    async def open(
        cls, settings: Settings | None = None, *, model_name: str | None = None, **options: Any
    ) -> "InferenceEngine":
        """A started engine on the configured database (its registry, recorder and listener)."""
        from alphaplus.registry.service import Registry
        from db.inference import event_writer
        from db.pool import get_pool, resolve_dsn

        settings = settings or get_settings()
        dsn = resolve_dsn(settings)
        registry = await Registry.open(settings)
        pool = await get_pool(dsn, settings)
        recorder = InferenceRecorder.from_settings(event_writer(pool), settings)
        engine = cls(registry, recorder, dsn=dsn, settings=settings, model_name=model_name, **options)
        await engine.start()
        return engine

    async def start(self) -> None:
        """Connect the listener (raises DatabaseUnavailable if it cannot), start the recorder."""
        self.recorder.start()
        await self._connect_listener()
        self._listen_task = asyncio.get_running_loop().create_task(self._keep_listening(),
                                                                   name="alphaplus-inference-listener")

    async def close(self) -> None:
        """Stop listening, finish shadow scoring, write the recorded events."""
        from db.inference import close_listener

        self._closing.set()
        if self._listen_task is not None:
            await self._listen_task
        if self._listener is not None:
            await close_listener(self._listener)
            self._listener = None
        if self._shadow_tasks:
            await asyncio.gather(*self._shadow_tasks, return_exceptions=True)
        await self.recorder.close()

    async def __aenter__(self) -> "InferenceEngine":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # --- predictions -------------------------------------------------------------------------

    async def predict(self, symbol: str, candles: pd.DataFrame) -> Prediction:
        """Classify the last bar of ``candles`` (canonical frame, oldest first) with the production
        model of (model_name, regime of that bar, symbol). Failures are recorded and re-raised."""
        started = time.perf_counter()
        ts = datetime.now(UTC)
        regime, bar_ts = self._regime(candles)
        version = await self.production_version(regime, symbol)
        try:
            trained = await self._model(version)
            vector = self._features(trained, candles)
            probability = _probability(trained, vector)
        except Exception as e:
            self._n["failures"] += 1
            self.recorder.record(error_event(
                ts=ts, bar_ts=bar_ts, model_name=self.model_name, version=version.version, regime=regime,
                symbol=symbol, shadow=False, latency_ms=(time.perf_counter() - started) * 1000.0, error=e))
            raise
        prediction = 1 if probability > DECISION_THRESHOLD else 0
        latency_ms = (time.perf_counter() - started) * 1000.0
        self.recorder.record((ts, bar_ts, self.model_name, version.version, regime, symbol, False, True, None,
                              latency_ms, prediction, probability, _recorded_features(version, trained, vector)))
        self._n["predictions"] += 1
        if self._shadow:
            self._schedule_shadow(regime, symbol, candles, bar_ts, ts, version.version)
        return Prediction(prediction, probability, version.version, regime, symbol, bar_ts, latency_ms)

    async def production_version(self, regime: str, symbol: str) -> ModelVersion:
        """The production version of (model_name, regime, symbol), from the cache when it is valid."""
        key = (regime, symbol)
        try:
            version = self._production[key]
            self._n["cache_hits"] += 1
        except KeyError:
            generation = self._generation
            self._n["production_lookups"] += 1
            version = await self.registry.get_production_model(self.model_name, regime, symbol)
            if generation == self._generation:
                self._production[key] = version
        if version is None:
            raise NoProductionVersion(
                f"no production version of {self.model_name} for regime '{regime}' and symbol '{symbol}'"
            )
        return version

    def stats(self) -> EngineStats:
        """Counters since start."""
        return EngineStats(**self._n)

    # --- the steps of a prediction -----------------------------------------------------------

    def _regime(self, candles: pd.DataFrame) -> tuple[str, datetime]:
        if not isinstance(candles, pd.DataFrame) or len(candles) == 0 or "ts" not in candles.columns:
            raise InvalidInput("predict needs a non-empty candle frame with ts, open, high, low, close, volume")
        tail = candles.iloc[-self._regime_bars:]
        regime = classify_regimes(tail, self._rule).iloc[-1]
        if not isinstance(regime, str):
            raise InvalidInput(
                f"{len(candles)} candles are too few to classify the regime of the last bar; "
                f"give at least {self._regime_bars}"
            )
        bar_ts = pd.Timestamp(candles["ts"].iloc[-1])
        bar_ts = bar_ts.tz_localize(UTC) if bar_ts.tzinfo is None else bar_ts
        return regime, bar_ts.to_pydatetime()

    async def _model(self, version: ModelVersion) -> TrainedModel:
        key = (version.model_name, version.version)
        model = self._models.get(key)
        if model is not None:
            self._models.move_to_end(key)
            return model
        loading = self._loading.get(key)
        if loading is None:
            # Concurrent first predictions of a version share one load (a verified read of the file).
            loading = asyncio.get_running_loop().create_future()
            self._loading[key] = loading
            try:
                model = await asyncio.to_thread(_load_sync, self.registry, version)
                if not isinstance(model, TrainedModel):
                    raise InvalidInput(
                        f"version {version.version} of {version.model_name} holds a {type(model).__name__}, "
                        "not a TrainedModel bundle"
                    )
                loading.set_result(model)
            except BaseException as e:
                loading.set_exception(e)
                loading.exception()  # retrieved: waiters re-raise it, nobody else has to
                raise
            finally:
                del self._loading[key]
            self._models[key] = model
            while len(self._models) > self._max_models:
                self._models.popitem(last=False)
            return model
        return await asyncio.shield(loading)

    def _features(self, trained: TrainedModel, candles: pd.DataFrame) -> np.ndarray:
        spec = trained.feature_spec
        # Every feature of a bar looks back at most warmup_bars bars: the tail gives the same last row.
        frame = build_features(candles.iloc[-(spec.warmup_bars + 2):], spec)
        row = frame.iloc[-1]
        vector = row.reindex(list(trained.feature_names)).to_numpy(dtype=np.float64)
        if np.isnan(vector).any():
            raise InvalidInput(
                f"the last bar's features are incomplete; give at least {spec.warmup_bars + 1} candles"
            )
        return vector

    # --- shadow scoring ----------------------------------------------------------------------

    def _schedule_shadow(self, regime: str, symbol: str, candles: pd.DataFrame, bar_ts: datetime,
                         ts: datetime, production: int) -> None:
        if len(self._shadow_tasks) >= self._max_pending_shadow:
            # Shadow scoring is best effort: under load it yields to serving.
            self._n["shadow_skipped"] += 1
            return
        task = asyncio.get_running_loop().create_task(
            self._score_shadows(regime, symbol, candles, bar_ts, ts, production))
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def _score_shadows(self, regime: str, symbol: str, candles: pd.DataFrame, bar_ts: datetime,
                             ts: datetime, production: int) -> None:
        try:
            versions = await self._shadow_versions(regime, symbol)
        except AlphaPlusError as e:
            log.warning("shadow versions of %s/%s/%s not looked up: %s", self.model_name, regime, symbol, e)
            return
        for version in versions:
            if version.version == production:
                continue
            started = time.perf_counter()
            try:
                trained = await self._model(version)
                vector = self._features(trained, candles)
                probability = _probability(trained, vector)
            except Exception as e:  # noqa: BLE001 - a shadow failure is recorded, never raised
                self.recorder.record(error_event(
                    ts=ts, bar_ts=bar_ts, model_name=self.model_name, version=version.version, regime=regime,
                    symbol=symbol, shadow=True, latency_ms=(time.perf_counter() - started) * 1000.0, error=e))
                log.warning("shadow scoring of version %d of %s failed: %s", version.version, self.model_name, e)
                continue
            latency_ms = (time.perf_counter() - started) * 1000.0
            self.recorder.record((ts, bar_ts, self.model_name, version.version, regime, symbol, True, True, None,
                                  latency_ms, 1 if probability > DECISION_THRESHOLD else 0, probability,
                                  _recorded_features(version, trained, vector)))
            self._n["shadow_scored"] += 1

    async def _shadow_versions(self, regime: str, symbol: str) -> tuple[ModelVersion, ...]:
        from db.inference import shadow_versions

        key = (regime, symbol)
        cached = self._shadows.get(key)
        if cached is not None:
            return cached
        generation = self._generation
        numbers = await shadow_versions(self.registry.repo.pool, model_name=self.model_name, regime=regime,
                                        symbol=symbol, statuses=SHADOW_STATUSES, limit=self._shadow_limit)
        versions = tuple([await self.registry.get_version(self.model_name, n) for n in numbers])
        if generation == self._generation:
            self._shadows[key] = versions
        return versions

    # --- invalidation ------------------------------------------------------------------------

    def _on_notify(self, payload: str) -> None:
        try:
            change = json.loads(payload)
            model_name, key = change["model_name"], (change["regime"], change["symbol"])
        except (ValueError, KeyError, TypeError):
            self._invalidate_all()
            return
        if model_name != self.model_name:
            return
        self._generation += 1
        self._n["invalidations"] += 1
        self._production.pop(key, None)
        self._shadows.pop(key, None)

    def _invalidate_all(self) -> None:
        self._generation += 1
        self._n["invalidations"] += 1
        self._production.clear()
        self._shadows.clear()

    async def _connect_listener(self) -> None:
        from db.inference import open_listener

        self._lost.clear()
        self._listener = await open_listener(self._dsn, self.settings, self._on_notify, self._lost.set)
        # Changes committed while nobody listened were not announced to this engine.
        self._invalidate_all()
        self._n["listener_connects"] += 1

    async def _keep_listening(self) -> None:
        from db.inference import close_listener, ping

        delay = RECONNECT_FIRST_DELAY_SECONDS
        while not self._closing.is_set():
            if self._listener is None:
                try:
                    await self._connect_listener()
                    log.info("inference listener reconnected")
                    delay = RECONNECT_FIRST_DELAY_SECONDS
                except DatabaseUnavailable as e:
                    log.warning("inference listener cannot reconnect (retrying in %.2f s): %s", delay, e)
                    await first_of(self._closing, timeout=delay)
                    delay = min(delay * 2, RECONNECT_MAX_DELAY_SECONDS)
                    continue
            await first_of(self._lost, self._closing, timeout=self._keepalive)
            if self._closing.is_set():
                return
            if self._lost.is_set() or not await ping(self._listener, LISTEN_PING_TIMEOUT_SECONDS):
                log.warning("inference listener connection lost; reconnecting")
                await close_listener(self._listener)
                self._listener = None


class SyncInferenceEngine:
    """The engine for code without an event loop: it runs one on its own thread.

    >>> with SyncInferenceEngine() as engine:
    ...     answer = engine.predict("BTCUSDT", candles)
    """

    def __init__(self, settings: Settings | None = None, *, model_name: str | None = None,
                 start_timeout: float = 60.0, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="alphaplus-inference", daemon=True)
        self._thread.start()
        try:
            self._engine: InferenceEngine = self._call(
                InferenceEngine.open(settings, model_name=model_name, **options), start_timeout)
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def predict(self, symbol: str, candles: pd.DataFrame, timeout: float | None = None) -> Prediction:
        """Like ``InferenceEngine.predict``; blocks the calling thread until the answer."""
        return self._call(self._engine.predict(symbol, candles), timeout)

    def stats(self) -> EngineStats:
        """The engine's counters."""
        return self._engine.stats()

    def recorder_stats(self) -> Any:
        """The recorder's counters (accepted, flushed, dropped, pending, flush_errors)."""
        return self._engine.recorder.stats()

    def close(self, timeout: float | None = 60.0) -> None:
        """Write the recorded events, close the database connections and stop the thread."""
        if self._loop.is_closed():
            return
        from db.pool import close_pools

        try:
            self._call(self._engine.close(), timeout)
            self._call(close_pools(), timeout)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> "SyncInferenceEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _load_sync(registry: Any, version: ModelVersion) -> Any:
    # Registry.load_model is a coroutine only by signature; the verified read and unpickling are
    # blocking work, so they run in a worker thread with the store directly.
    return registry.artifacts.load(version.artifact)


def _probability(trained: TrainedModel, vector: np.ndarray) -> float:
    frame = pd.DataFrame(vector.reshape(1, -1), columns=list(trained.feature_names))
    probability = float(trained.model.predict_proba(frame)[0, 1])
    if not 0.0 <= probability <= 1.0 or math.isnan(probability):
        raise InvalidInput(f"the model returned probability {probability!r}")
    return probability


def _recorded_features(version: ModelVersion, trained: TrainedModel, vector: np.ndarray) -> list[float] | None:
    """The input vector in version_metadata["feature_names"] order (the order drift checks read it in)."""
    names = version.version_metadata.get("feature_names") if version.version_metadata else None
    if not names or list(names) == list(trained.feature_names):
        return vector.tolist()
    by_name = dict(zip(trained.feature_names, vector.tolist()))
    return [by_name.get(n, math.nan) for n in names]
