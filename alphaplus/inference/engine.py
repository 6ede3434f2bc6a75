"""The inference engine: for a symbol's newest bar, classify the regime, serve that slot's production
model and record the prediction, at about the cost of the model itself.

- Streaming: ``on_bar(symbol, bar)`` takes a symbol's next bar into its state (O(1): ring buffers and
  rolling accumulators) and answers for it; ``predict_many({symbol: bar})`` does that for every symbol of
  a bar close with one Booster call per model; ``warm_up(symbol, candles)`` seeds a state from history.
- Frames: ``predict(symbol, candles)`` answers for the last bar of a frame, from its tail, without
  touching any symbol's state.

Feature values are the training path's for the same bars (``alphaplus.inference.state``); promotions and
rollbacks made elsewhere are picked up through LISTEN/NOTIFY (``alphaplus.inference.versions``); scoring
uses LightGBM's Booster (``alphaplus.inference.scoring``); shadow versions are scored after the caller has
its answer (``alphaplus.inference.shadow``). ``SyncInferenceEngine`` (``alphaplus.inference.sync``) is the
same engine for code without an event loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, NamedTuple

import numpy as np
import pandas as pd

from alphaplus.core.errors import InvalidInput
from alphaplus.core.settings import Settings, get_settings
from alphaplus.inference.events import DECISION_THRESHOLD, error_event, prediction_event
from alphaplus.inference.models import ModelCache, ServedModel, score_rows
from alphaplus.inference.recorder import InferenceRecorder
from alphaplus.inference.shadow import ShadowBatch, ShadowScoring
from alphaplus.inference.state import Bar, BarLike, MarketState, parse_bar
from alphaplus.inference.versions import LISTEN_KEEPALIVE_SECONDS, ServingVersions
from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, FeatureSpec
from alphaplus.ml.regimes import DEFAULT_RULE, RegimeRule

__all__ = ["Bar", "BatchPredictions", "DECISION_THRESHOLD", "EngineStats", "InferenceEngine", "Prediction"]

UTC = timezone.utc


class Prediction(NamedTuple):
    """One answer of the engine: class, probability of class 1, and what produced it.

    A named tuple rather than a dataclass: a bar close of a thousand symbols makes a thousand of them,
    and a tuple of plain values costs half as much to build and nothing to the garbage collector."""

    prediction: int
    probability: float
    version: int
    regime: str
    symbol: str
    bar_ts: datetime
    latency_ms: float


@dataclass(frozen=True)
class BatchPredictions:
    """The answers of a bar close: a prediction per symbol, or the error that symbol met."""

    predictions: dict[str, Prediction]
    errors: dict[str, Exception]


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
    symbols: int


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
        feature_specs: Iterable[FeatureSpec] = (DEFAULT_FEATURE_SPEC,),
        max_cached_models: int = 10_000,
        keepalive_seconds: float = LISTEN_KEEPALIVE_SECONDS,
    ) -> None:
        self.settings = settings or get_settings()
        self.model_name = model_name or self.settings.default_model_name
        self.recorder = recorder
        self.market = MarketState(feature_specs, regime_rule)
        self.versions = ServingVersions(registry, self.model_name, dsn=dsn, settings=self.settings,
                                        shadow_limit=shadow_limit, keepalive_seconds=keepalive_seconds)
        self.models = ModelCache(registry, self.market.columns_for, self.market.position,
                                 max_versions=max_cached_models)
        self.shadow = ShadowScoring(self.versions, self.models, recorder,
                                    max_pending=max_pending_shadow) if shadow else None
        self._n = dict(predictions=0, failures=0)

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
        await self.versions.start()

    async def close(self) -> None:
        """Stop listening, finish shadow scoring, write the recorded events."""
        await self.versions.close()
        if self.shadow is not None:
            await self.shadow.close()
        await self.recorder.close()

    async def __aenter__(self) -> "InferenceEngine":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # --- streaming -----------------------------------------------------------------------------

    @property
    def history_bars(self) -> int:
        """Bars of history after which a symbol's features and regime are those of any longer history."""
        return self.market.history_bars

    def warm_up(self, symbol: str, candles: pd.DataFrame) -> None:
        """Seed ``symbol``'s state from its history (canonical candle frame, oldest first; give at least
        ``history_bars`` bars). Earlier state of the symbol is replaced. Costs about a microsecond a bar."""
        self.market.warm(symbol, candles)

    async def on_bar(self, symbol: str, bar: BarLike) -> Prediction:
        """Take ``symbol``'s next bar (later than every bar its state has seen) and answer for it with the
        production model of (model_name, regime of that bar, symbol). Failures after the bar is taken are
        recorded when a version was chosen, and raised."""
        started = time.perf_counter()
        ts = datetime.now(UTC)
        when, ns, values = parse_bar(bar)
        outputs, accepted = self.market.advance([symbol], [ns], np.asarray([values]))
        if not accepted:
            raise self._out_of_order(symbol, when)
        answer = (await self._serve([symbol], [when], outputs, started, ts))[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def predict_many(self, bars: Mapping[str, BarLike]) -> BatchPredictions:
        """``on_bar`` for every symbol of a bar close at once: one state update for all, one Booster call
        per model with its rows stacked, one recorded event per prediction (latency: the whole call's)."""
        started = time.perf_counter()
        ts = datetime.now(UTC)
        errors: dict[str, Exception] = {}
        symbols, times, stamps, rows = [], [], [], []
        for symbol, bar in bars.items():
            try:
                when, ns, values = parse_bar(bar)
            except InvalidInput as e:
                errors[symbol] = e
                continue
            symbols.append(symbol)
            times.append(when)
            stamps.append(ns)
            rows.append(values)
        outputs, accepted = self.market.advance(symbols, stamps, np.asarray(rows, dtype=np.float64).reshape(-1, 5))
        if len(accepted) < len(symbols):
            taken = set(accepted)
            for i in (i for i in range(len(symbols)) if i not in taken):
                errors[symbols[i]] = self._out_of_order(symbols[i], times[i])
            symbols, times = [symbols[i] for i in accepted], [times[i] for i in accepted]
        predictions = {}
        for symbol, answer in zip(symbols, await self._serve(symbols, times, outputs, started, ts)):
            if isinstance(answer, Exception):
                errors[symbol] = answer
            else:
                predictions[symbol] = answer
        return BatchPredictions(predictions, errors)

    # --- frames --------------------------------------------------------------------------------

    async def predict(self, symbol: str, candles: pd.DataFrame) -> Prediction:
        """Classify the last bar of ``candles`` (canonical frame, oldest first) with the production model
        of (model_name, regime of that bar, symbol), from the frame's last ``history_bars`` bars. No
        symbol's streaming state changes. Failures are recorded (when a version was chosen) and raised."""
        started = time.perf_counter()
        ts = datetime.now(UTC)
        when, outputs = self.market.evaluate(candles)
        answer = (await self._serve([symbol], [when], outputs, started, ts, frame_bars=len(candles)))[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    # --- versions and counters -----------------------------------------------------------------

    async def production_version(self, regime: str, symbol: str) -> Any:
        """The production version of (model_name, regime, symbol), from the cache when it is valid."""
        return await self.versions.production(regime, symbol)

    def stats(self) -> EngineStats:
        """Counters since start."""
        shadow = self.shadow.counts if self.shadow is not None else dict(shadow_scored=0, shadow_skipped=0)
        return EngineStats(**self._n, **self.versions.counts, **shadow, symbols=len(self.market))

    # --- serving -------------------------------------------------------------------------------

    async def _serve(self, symbols: list[str], times: list[datetime], outputs: np.ndarray, started: float,
                     ts: datetime, *, frame_bars: int | None = None) -> list[Prediction | Exception]:
        """Answers for rows of state outputs: regime, production version, model, score, record."""
        regimes = self.market.regimes(outputs)
        answers: list[Any] = [None] * len(symbols)
        entries: list[tuple[int, ServedModel]] = []
        versions, models = self.versions, self.models
        for i, symbol in enumerate(symbols):
            regime = regimes[i]
            if not isinstance(regime, str):
                answers[i] = self._unclassified(symbol, frame_bars)
                continue
            try:  # the cached answers first: no coroutine per symbol in the common case
                version = versions.known_production(regime, symbol) or await versions.production(regime, symbol)
            except Exception as e:  # noqa: BLE001 - no version was chosen: nothing to record
                answers[i] = e
                continue
            try:
                entries.append((i, models.cached(version) or await models.get(version)))
            except Exception as e:  # noqa: BLE001 - recorded against the version, then returned
                answers[i] = self._failed(ts, times[i], version.version, regime, symbol, started, e)
        if not entries:
            return answers
        probabilities, vectors = score_rows(outputs, entries)
        latency_ms = (time.perf_counter() - started) * 1000.0
        record, model_name, served_rows = self.recorder.record, self.model_name, []
        for (i, served), probability, vector in zip(entries, probabilities.tolist(), vectors):
            version = served.version.version
            if not 0.0 <= probability <= 1.0:  # NaN: incomplete features
                answers[i] = self._failed(ts, times[i], version, regimes[i], symbols[i], started,
                                          self._incomplete(symbols[i], probability, frame_bars))
                continue
            record(prediction_event(ts, times[i], model_name, version, regimes[i], symbols[i], False, latency_ms,
                                    probability, vector))
            answers[i] = Prediction(1 if probability > DECISION_THRESHOLD else 0, probability, version, regimes[i],
                                    symbols[i], times[i], latency_ms)
            served_rows.append(i)
        self._n["predictions"] += len(served_rows)
        if self.shadow is not None and served_rows:
            self.shadow.schedule(ShadowBatch(ts, outputs, served_rows, [regimes[i] for i in served_rows],
                                             [symbols[i] for i in served_rows], [times[i] for i in served_rows],
                                             [answers[i].version for i in served_rows]))
        return answers

    def _failed(self, ts: datetime, bar_ts: datetime, version: int, regime: str, symbol: str, started: float,
                error: Exception) -> Exception:
        self._n["failures"] += 1
        self.recorder.record(error_event(
            ts=ts, bar_ts=bar_ts, model_name=self.model_name, version=version, regime=regime, symbol=symbol,
            shadow=False, latency_ms=(time.perf_counter() - started) * 1000.0, error=error))
        return error

    def _unclassified(self, symbol: str, frame_bars: int | None) -> InvalidInput:
        if frame_bars is not None:
            return InvalidInput(f"{frame_bars} candles are too few to classify the regime of the last bar; "
                                f"give at least {self.market.regime_bars} ({self.history_bars} for the regime "
                                "a long history gives)")
        return InvalidInput(f"the regime of {symbol}'s bar cannot be classified: its state has "
                            f"{self.market.bars_seen(symbol)} bars, the rule needs {self.market.regime_bars} "
                            f"(warm_up the symbol with at least {self.history_bars} bars of history)")

    def _incomplete(self, symbol: str, probability: float, frame_bars: int | None) -> InvalidInput:
        if not np.isnan(probability):
            return InvalidInput(f"the model returned probability {probability!r}")
        if frame_bars is not None:
            return InvalidInput("the last bar's features are incomplete (NaN in the candles); give at least "
                                f"{self.market.feature_bars} candles")
        return InvalidInput(f"the features of {symbol}'s bar are incomplete: NaN in its recent candles, or fewer "
                            f"than {self.market.feature_bars} bars of history")

    def _out_of_order(self, symbol: str, when: datetime) -> InvalidInput:
        return InvalidInput(f"the bar of {symbol} at {when.isoformat()} is not after the last bar its state has "
                            f"taken ({self.market.last_bar_time(symbol).isoformat()}); bars come oldest first")
