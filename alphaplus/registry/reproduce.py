"""Reproduce a registered version from its lineage and compare data and artifact hashes.

A version stored in the current artifact format is compared byte for byte: the reproduction's hash
must equal the recorded one. A version stored before it (a legacy joblib pickle) cannot be written
again in that format; its stored model, verified against the recorded hash, is re-expressed in the
current format and the reproduction is compared with that.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import timedelta

from alphaplus.core.errors import InvalidInput
from alphaplus.ml.lineage import hash_frame
from alphaplus.ml.pipeline import TrainingConfig, fit_slot, prepare_dataset
from alphaplus.registry import artifact_format
from alphaplus.registry.service import Registry


@dataclass(frozen=True)
class Reproduction:
    """Outcome of a reproduction: recomputed hashes beside the recorded ones.

    ``reference_artifact_hash`` is what the reproduction's ``artifact_hash`` is compared with: the
    recorded hash, or for a legacy artifact the hash of its model in the current format.
    """

    model_name: str
    version: int
    recorded_data_hash: str
    data_hash: str
    recorded_artifact_hash: str
    artifact_hash: str
    artifact_path: str
    stored_artifact_hash: str | None  # of the file in the artifact store now; None: missing or unreadable
    stored_format: str
    reference_artifact_hash: str

    @property
    def data_matches(self) -> bool:
        return self.recorded_data_hash == self.data_hash

    @property
    def artifact_matches(self) -> bool:
        return self.reference_artifact_hash == self.artifact_hash

    @property
    def stored_matches(self) -> bool:
        return self.recorded_artifact_hash == self.stored_artifact_hash

    @property
    def all_match(self) -> bool:
        return self.data_matches and self.artifact_matches and self.stored_matches

    def to_dict(self) -> dict:
        return {**self.__dict__, "data_matches": self.data_matches, "artifact_matches": self.artifact_matches,
                "stored_matches": self.stored_matches}


def stored_file_hash(registry: Registry, path: str) -> str | None:
    """SHA-256 of the file the registry points to, as it is in the store now (None: missing,
    unreadable, or a path leading outside the store)."""
    from alphaplus.core.errors import ArtifactIntegrityError, ArtifactStorageError

    try:
        registry.artifacts.resolve(path)  # refuses a path leading outside the store
        return hashlib.sha256(registry.artifacts.storage.read(path)).hexdigest()
    except (ArtifactIntegrityError, ArtifactStorageError, OSError):
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def reproduce_version(registry: Registry, model_name: str, version: int) -> Reproduction:
    """Refetch the recorded candle range, retrain with the recorded spec and parameters, hash both."""
    from alphaplus.market.source_service import read_candles

    mv = await registry.get_version(model_name, version)
    lineage = await registry.get_lineage(model_name, version)
    candles = await read_candles(
        settings=registry.settings,
        symbol=lineage.symbol,
        timeframe=lineage.timeframe or "1h",
        start=lineage.training_data_start,
        end=lineage.training_data_end + timedelta(microseconds=1) if lineage.training_data_end else None,
    )
    try:
        config = TrainingConfig.from_lineage(lineage.training_config, lineage.feature_set)
    except InvalidInput as e:
        raise InvalidInput(f"version {version} of {model_name} cannot be reproduced: {e}") from None
    stored_hash = await asyncio.to_thread(stored_file_hash, registry, mv.artifact.path)
    fit = fit_slot(prepare_dataset(candles, lineage.regime, config), config, dict(lineage.hyperparameters))
    reference, stored_format = mv.artifact.sha256, "missing or altered"
    if stored_hash == mv.artifact.sha256:
        stored = await registry.artifact_bytes(mv)
        stored_format = artifact_format.format_of(stored)
        if not artifact_format.is_current(stored):
            # A legacy pickle cannot be written again: compare with its model in the current format.
            reference = _sha256(artifact_format.dumps(artifact_format.loads(stored)))
    return Reproduction(
        model_name=model_name,
        version=version,
        recorded_data_hash=lineage.training_data_hash,
        data_hash=hash_frame(candles),
        recorded_artifact_hash=mv.artifact.sha256,
        artifact_hash=_sha256(artifact_format.dumps(fit.trained)),
        artifact_path=mv.artifact.path,
        stored_artifact_hash=stored_hash,
        stored_format=stored_format,
        reference_artifact_hash=reference,
    )
