"""Reproduce a registered version from its lineage and compare data and artifact hashes."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import timedelta

import joblib

from alphaplus.ml.lineage import hash_frame
from alphaplus.ml.pipeline import TrainingConfig, fit_slot, prepare_dataset
from alphaplus.registry.service import Registry


@dataclass(frozen=True)
class Reproduction:
    """Outcome of a reproduction: recomputed hashes beside the recorded ones."""

    model_name: str
    version: int
    recorded_data_hash: str
    data_hash: str
    recorded_artifact_hash: str
    artifact_hash: str

    @property
    def data_matches(self) -> bool:
        return self.recorded_data_hash == self.data_hash

    @property
    def artifact_matches(self) -> bool:
        return self.recorded_artifact_hash == self.artifact_hash

    def to_dict(self) -> dict:
        return {**self.__dict__, "data_matches": self.data_matches, "artifact_matches": self.artifact_matches}


async def reproduce_version(registry: Registry, model_name: str, version: int) -> Reproduction:
    """Refetch the recorded candle range, retrain with the recorded spec and parameters, hash both."""
    from db.candles import fetch_candles

    mv = await registry.get_version(model_name, version)
    lineage = await registry.get_lineage(model_name, version)
    candles = await fetch_candles(
        registry.repo.pool,
        symbol=lineage.symbol,
        timeframe=lineage.timeframe or "1h",
        start=lineage.training_data_start,
        end=lineage.training_data_end + timedelta(microseconds=1) if lineage.training_data_end else None,
    )
    config = TrainingConfig.from_lineage(lineage.training_config, lineage.feature_set)
    fit = fit_slot(prepare_dataset(candles, lineage.regime, config), config, dict(lineage.hyperparameters))
    buffer = io.BytesIO()
    joblib.dump(fit.trained, buffer)
    return Reproduction(
        model_name=model_name,
        version=version,
        recorded_data_hash=lineage.training_data_hash,
        data_hash=hash_frame(candles),
        recorded_artifact_hash=mv.artifact.sha256,
        artifact_hash=hashlib.sha256(buffer.getvalue()).hexdigest(),
    )
