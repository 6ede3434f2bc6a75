"""The models an engine serves: loaded once per artifact, kept per version, scored with the Booster.

Artifacts are content-addressed and verified on load, so a loaded model is kept for every version
stored in the same file (same SHA-256, same bytes): the second version of one artifact costs no read.
Concurrent first uses of a version share one load.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from alphaplus.core.entities import ModelVersion
from alphaplus.core.errors import InvalidInput
from alphaplus.inference.scoring import BoosterScorer, booster_of
from alphaplus.ml.training import TrainedModel


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """One artifact in memory: the bundle and its scorer (shared by the versions stored in it)."""

    trained: TrainedModel
    scorer: BoosterScorer


@dataclass(frozen=True, eq=False)
class ServedModel:
    """A version ready to score: which engine outputs are its inputs, and in which order they are recorded."""

    version: ModelVersion
    model: LoadedModel
    columns: np.ndarray  # output positions of the model's features, in its feature order
    recorded: np.ndarray  # output positions in metadata["feature_names"] order (-1: not computed)


# columns_for(trained) -> output positions of trained.feature_names, or InvalidInput.
ColumnsFor = Callable[[TrainedModel], np.ndarray]
PositionOf = Callable[[TrainedModel, str], int]


class ModelCache:
    """Versions by (model_name, version), least recently used dropped beyond ``max_versions``."""

    def __init__(self, registry: Any, columns_for: ColumnsFor, position_of: PositionOf, *,
                 max_versions: int) -> None:
        self._registry = registry
        self._columns_for = columns_for
        self._position_of = position_of
        self._max = max(int(max_versions), 1)
        self._served: OrderedDict[tuple[str, int], ServedModel] = OrderedDict()
        self._artifacts: weakref.WeakValueDictionary[str, LoadedModel] = weakref.WeakValueDictionary()
        self._loading: dict[tuple[str, int], asyncio.Future] = {}

    async def get(self, version: ModelVersion) -> ServedModel:
        """The served form of ``version``, loading (and verifying) its artifact on first use."""
        key = (version.model_name, version.version)
        served = self._served.get(key)
        if served is not None:
            self._served.move_to_end(key)
            return served
        loading = self._loading.get(key)
        if loading is not None:
            return await asyncio.shield(loading)
        loading = self._loading[key] = asyncio.get_running_loop().create_future()
        try:
            served = self._serve(version, await self._load(version))
            loading.set_result(served)
        except BaseException as e:
            loading.set_exception(e)
            loading.exception()  # retrieved: waiters re-raise it, nobody else has to
            raise
        finally:
            del self._loading[key]
        self._served[key] = served
        while len(self._served) > self._max:
            self._served.popitem(last=False)
        return served

    async def _load(self, version: ModelVersion) -> LoadedModel:
        loaded = self._artifacts.get(version.artifact.sha256)
        if loaded is not None:
            return loaded
        trained = await self._registry.load_model(version)
        if not isinstance(trained, TrainedModel):
            raise InvalidInput(
                f"version {version.version} of {version.model_name} holds a {type(trained).__name__}, "
                "not a TrainedModel bundle"
            )
        loaded = LoadedModel(trained, BoosterScorer(booster_of(trained)))
        self._artifacts[version.artifact.sha256] = loaded
        return loaded

    def _serve(self, version: ModelVersion, loaded: LoadedModel) -> ServedModel:
        trained = loaded.trained
        columns = self._columns_for(trained)
        names = version.metadata.get("feature_names") if version.metadata else None
        # Recorded vectors follow metadata["feature_names"] (the order drift checks read them in).
        recorded = columns if not names or list(names) == list(trained.feature_names) else np.asarray(
            [self._position_of(trained, n) for n in names], dtype=np.int64)
        return ServedModel(version, loaded, columns, recorded)


def recorded_features(outputs: np.ndarray, served: ServedModel) -> list[float]:
    """A row's input vector as recorded: metadata order, NaN for a name the engine does not compute."""
    values = outputs[served.recorded]
    if (served.recorded < 0).any():
        values = np.where(served.recorded < 0, np.nan, values)
    return values.tolist()


def score_rows(outputs: np.ndarray, entries: list[tuple[int, ServedModel]]) -> np.ndarray:
    """The probability of class 1 of each (output row, served version) entry, NaN where the row's
    features are incomplete: one Booster call per model, with that model's rows stacked."""
    probabilities = np.full(len(entries), np.nan)
    groups: dict[int, list[int]] = {}
    for j, (_, served) in enumerate(entries):
        groups.setdefault(id(served.model), []).append(j)
    for js in groups.values():
        served = entries[js[0]][1]
        rows = [entries[j][0] for j in js]
        features = outputs[rows][:, served.columns]
        complete = np.flatnonzero(~np.isnan(features).any(axis=1))
        if len(complete) == 1:
            probabilities[js[complete[0]]] = served.model.scorer.one(features[complete[0]])
        elif len(complete):
            probabilities[np.asarray(js)[complete]] = served.model.scorer.many(features[complete])
    return probabilities
