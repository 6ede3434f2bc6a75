"""One "host" of the two-hosts test, run as its own process: ``train`` retrains a slot with the
retrain-dask flow (a local Dask cluster of worker processes), ``serve`` predicts with the inference
engine. Each prints one JSON line; everything it knows comes from its environment.

    python -m tests.scale.host train SYMBOL MODEL
    python -m tests.scale.host serve SYMBOL MODEL SEED BARS
"""

from __future__ import annotations

import asyncio
import json
import os
import sys


async def train(symbol: str, model_name: str) -> dict:
    from flows.retrain_dask import retrain_dask

    results = await retrain_dask(symbols=[symbol], regime="trending", model_name=model_name,
                                 gate={"min_outcomes": 10})
    return {"pid": os.getpid(), "results": results}


async def serve(symbol: str, model_name: str, seed: int, bars: int) -> dict:
    from alphaplus.inference.engine import InferenceEngine
    from alphaplus.market.synth import synth_candles
    from alphaplus.ml.regimes import classify_regimes

    candles = synth_candles(bars, seed=seed)
    trending = classify_regimes(candles).to_numpy() == "trending"
    last = int(trending.nonzero()[0][-1])  # the newest bar whose regime is the trained slot's
    engine = await InferenceEngine.open(model_name=model_name)
    try:
        prediction = await engine.predict(symbol, candles.iloc[: last + 1])
    finally:
        await engine.close()
    return {"pid": os.getpid(), "version": prediction.version, "regime": prediction.regime,
            "probability": prediction.probability}


def main(argv: list[str]) -> None:
    command, symbol, model_name, *rest = argv
    if command == "train":
        out = asyncio.run(train(symbol, model_name))
    else:
        out = asyncio.run(serve(symbol, model_name, int(rest[0]), int(rest[1])))
    print(json.dumps(out, default=str))


if __name__ == "__main__":  # the guard matters: Dask's worker processes re-import this module
    main(sys.argv[1:])
