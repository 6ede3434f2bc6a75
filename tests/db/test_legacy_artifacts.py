"""A version registered before the data-only artifact format still loads, serves and reproduces."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from alphaplus.market.synth import synth_candles
from alphaplus.ml.lineage import build_lineage
from alphaplus.ml.training import TrainedModel, predict_proba

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "artifacts"
LEGACY = FIXTURES / "legacy-b0b9950.joblib"
FACTS = json.loads((FIXTURES / "legacy-b0b9950.json").read_text())


async def _register_legacy_version(registry, settings, model_name: str, symbol: str):
    """The version as the retrain flow of that time registered it: its candles, lineage and joblib file."""
    from db.candles import upsert_candles
    from db.pool import get_pool

    recorded = FACTS["lineage"]
    candles = synth_candles(recorded["candles"]["n"], seed=recorded["candles"]["seed"],
                            start=recorded["candles"]["start"])
    await upsert_candles(await get_pool(settings.database_url, settings), symbol=symbol, timeframe="1h", frame=candles)
    lineage = build_lineage(
        model_name=model_name, regime=recorded["regime"], symbol=symbol, training_frame=candles,
        feature_set=recorded["feature_set"], hyperparameters=recorded["hyperparameters"],
        training_config=recorded["training_config"], timeframe=recorded["timeframe"],
        training_data_start=datetime.fromisoformat(recorded["training_data_start"]),
        training_data_end=datetime.fromisoformat(recorded["training_data_end"]),
    )
    assert lineage.training_data_hash == recorded["training_data_hash"]
    artifact = registry.artifacts.save_bytes(LEGACY.read_bytes(), suffix=".joblib")
    assert artifact.sha256 == FACTS["sha256"]
    return (await registry.register_model_version(lineage, artifact=artifact)).version


async def test_a_version_stored_as_a_joblib_pickle_loads_and_predicts_as_before(registry, settings, model_name):
    version = await _register_legacy_version(registry, settings, model_name, "LEGACYA")
    model = await registry.load_model(version)
    assert isinstance(model, TrainedModel)
    rows = pd.DataFrame(FACTS["rows"])
    np.testing.assert_array_equal(predict_proba(model, rows), np.array(FACTS["proba_up"]))


async def test_reproducing_a_version_stored_as_a_joblib_pickle_matches_its_model(registry, settings, model_name):
    from alphaplus.registry.reproduce import reproduce_version

    version = await _register_legacy_version(registry, settings, model_name, "LEGACYB")
    outcome = await reproduce_version(registry, model_name, version.version)
    assert outcome.data_matches, outcome
    assert outcome.stored_format == "legacy joblib pickle"
    assert outcome.recorded_artifact_hash == FACTS["sha256"]
    assert outcome.artifact_hash == outcome.reference_artifact_hash, outcome
    assert outcome.artifact_matches
