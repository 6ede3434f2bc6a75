"""The inference engine for code without an event loop: it runs one on its own thread.

    with SyncInferenceEngine() as engine:
        engine.warm_up("BTCUSDT", history)
        answer = engine.on_bar("BTCUSDT", bar)
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Mapping

import pandas as pd

from alphaplus.core.settings import Settings
from alphaplus.inference.engine import BatchPredictions, EngineStats, InferenceEngine, Prediction
from alphaplus.inference.state import BarLike


class SyncInferenceEngine:
    """``InferenceEngine`` behind blocking calls; every call runs on the engine's own loop thread."""

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

    def on_bar(self, symbol: str, bar: BarLike, timeout: float | None = None) -> Prediction:
        """Like ``InferenceEngine.on_bar``; blocks the calling thread until the answer."""
        return self._call(self._engine.on_bar(symbol, bar), timeout)

    def predict_many(self, bars: Mapping[str, BarLike], timeout: float | None = None) -> BatchPredictions:
        """Like ``InferenceEngine.predict_many``."""
        return self._call(self._engine.predict_many(bars), timeout)

    def warm_up(self, symbol: str, candles: pd.DataFrame, timeout: float | None = None) -> None:
        """Like ``InferenceEngine.warm_up`` (run on the engine's thread, between its other calls)."""

        async def warm() -> None:
            self._engine.warm_up(symbol, candles)

        self._call(warm(), timeout)

    def predict(self, symbol: str, candles: pd.DataFrame, timeout: float | None = None) -> Prediction:
        """Like ``InferenceEngine.predict``."""
        return self._call(self._engine.predict(symbol, candles), timeout)

    @property
    def history_bars(self) -> int:
        return self._engine.history_bars

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
