"""Real, small versions for inference and outcome tests: synthetic candles, a LightGBM bundle and
the metadata the retrain flow stores (feature_names, label_horizon, timeframe, psi_reference)."""

from __future__ import annotations

import pandas as pd

from alphaplus.monitoring.drift import reference_bins
from alphaplus.core.entities import ModelVersion
from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, build_features
from alphaplus.ml.labels import make_labels
from alphaplus.ml.lineage import build_lineage
from alphaplus.market.synth import synth_candles
from alphaplus.ml.regimes import classify_regimes
from alphaplus.ml.training import TrainedModel, bundle_model, time_split, train_classifier

HORIZON = 12
TIMEFRAME = "1h"


def candles_ending_in_regime(n_bars: int = 900, seed: int = 7) -> tuple[pd.DataFrame, str]:
    """A candle frame whose last bar has a regime (past the warm-up), and that regime."""
    candles = synth_candles(n_bars, seed=seed)
    regime = classify_regimes(candles).iloc[-1]
    assert isinstance(regime, str), "the synthetic series must end past the regime warm-up"
    return candles, regime


def training_frame(seed: int) -> tuple[pd.DataFrame, pd.Series]:
    candles = synth_candles(2500, seed=seed)
    X = build_features(candles)
    y = make_labels(candles, HORIZON)
    ok = X.notna().all(axis=1) & y.notna()
    return X[ok].reset_index(drop=True), y[ok].reset_index(drop=True)


def train_small(seed: int, n_estimators: int = 25) -> tuple[TrainedModel, pd.DataFrame, dict]:
    """A quick deterministic model; a distinct seed gives distinct artifact bytes."""
    X, y = training_frame(seed)
    split = time_split(len(X), 0.6, 0.2, HORIZON)
    params = {"n_estimators": n_estimators, "num_leaves": 7}
    model = train_classifier(X.iloc[split.train], y.iloc[split.train], X.iloc[split.valid], y.iloc[split.valid],
                             params, seed, n_jobs=1, early_stopping_rounds=0)
    return bundle_model(model, DEFAULT_FEATURE_SPEC, horizon=HORIZON, hyperparams=params, seed=seed), X, params


def version_metadata(trained: TrainedModel, X: pd.DataFrame) -> dict:
    """The metadata contract of a registered version."""
    return {
        "feature_names": list(trained.feature_names),
        "label_horizon": HORIZON,
        "timeframe": TIMEFRAME,
        "psi_reference": {n: reference_bins(X[n]).to_dict() for n in trained.feature_names},
    }


async def register_trained(registry, model_name: str, regime: str, symbol: str, seed: int) -> ModelVersion:
    """Train, register as staging (with lineage and the metadata contract); returns the version."""
    return await register_bundle(registry, model_name, regime, symbol, *train_small(seed), seed=seed)


async def register_bundle(registry, model_name: str, regime: str, symbol: str, trained: TrainedModel,
                          X: pd.DataFrame, params: dict, *, seed: int) -> ModelVersion:
    """Register an already trained bundle for a slot (one bundle may serve several slots)."""
    lineage = build_lineage(
        model_name=model_name, regime=regime, symbol=symbol, training_frame=X,
        feature_set=trained.feature_spec.to_dict(), hyperparameters=params, training_config={"seed": seed},
        timeframe=TIMEFRAME, n_features=len(trained.feature_names),
    )
    registration = await registry.register_model_version(lineage, model=trained,
                                                         version_metadata=version_metadata(trained, X))
    return registration.version
