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
from alphaplus.inference.scoring import BoosterScorer, scorer_for
from alphaplus.ml.training import TrainedModel


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """One artifact in memory: the bundle, its scorer and its inputs (shared by the versions stored in it)."""

    trained: TrainedModel
    scorer: BoosterScorer
    columns: np.ndarray  # output positions of the model's features, in its feature order


@dataclass(frozen=True, eq=False)
class ServedModel:
    """A version ready to score: which engine outputs are its inputs, and in which order they are recorded."""

    version: ModelVersion
    model: LoadedModel
    recorded: np.ndarray  # output positions in metadata["feature_names"] order (-1: not computed)

    @property
    def columns(self) -> np.ndarray:
        return self.model.columns


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

    def cached(self, version: ModelVersion) -> ServedModel | None:
        """The served form of ``version`` when it is loaded already."""
        key = (version.model_name, version.version)
        served = self._served.get(key)
        if served is not None:
            self._served.move_to_end(key)
        return served

    async def get(self, version: ModelVersion) -> ServedModel:
        """The served form of ``version``, loading (and verifying) its artifact on first use."""
        served = self.cached(version)
        if served is not None:
            return served
        key = (version.model_name, version.version)
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
        loaded = LoadedModel(trained, scorer_for(trained), self._columns_for(trained))
        self._artifacts[version.artifact.sha256] = loaded
        return loaded

    def _serve(self, version: ModelVersion, loaded: LoadedModel) -> ServedModel:
        trained = loaded.trained
        names = version.version_metadata.get("feature_names") if version.version_metadata else None
        # Recorded vectors follow metadata["feature_names"] (the order drift checks read them in).
        recorded = loaded.columns if not names or list(names) == list(trained.feature_names) else np.asarray(
            [self._position_of(trained, n) for n in names], dtype=np.int64)
        return ServedModel(version, loaded, recorded)


def score_rows(outputs: np.ndarray, entries: list[tuple[int, ServedModel]]) -> tuple[np.ndarray, list[Any]]:
    """For each (output row, served version) entry: the probability of class 1 (NaN where the row's
    features are incomplete) and the input vector as recorded (metadata order, NaN for a feature the
    engine does not compute). One Booster call per model, with that model's rows stacked."""
    probabilities = np.full(len(entries), np.nan)
    recorded: list[Any] = [None] * len(entries)
    if len(entries) == 1:  # on_bar and predict: the same steps without the grouping
        row, served = entries[0]
        features = outputs[row, served.columns]
        if not np.isnan(features).any():
            probabilities[0] = served.model.scorer.one(features)
        recorded[0] = _recorded(outputs[row:row + 1], served)[0]
        return probabilities, recorded
    # Versions of one artifact share its recorded order (unless their metadata names another): grouping by
    # that array groups by model too.
    groups: dict[int, list[int]] = {}
    for j, (_, served) in enumerate(entries):
        groups.setdefault(id(served.recorded), []).append(j)
    for js in groups.values():
        served = entries[js[0]][1]
        block = outputs[[entries[j][0] for j in js]]
        features = block[:, served.columns]
        complete = np.flatnonzero(~np.isnan(features).any(axis=1))
        if len(complete) == 1:
            probabilities[js[complete[0]]] = served.model.scorer.one(features[complete[0]])
        elif len(complete):
            probabilities[np.asarray(js)[complete]] = served.model.scorer.many(features[complete])
        for j, vector in zip(js, _recorded(block, served)):
            recorded[j] = vector
    return probabilities, recorded


def _recorded(block: np.ndarray, served: ServedModel) -> list[np.ndarray]:
    """Rows of the recorded vectors: float64 arrays (the event writer stacks them without a Python float
    per value; the garbage collector does not track them)."""
    vectors = block[:, served.recorded]
    if served.recorded is not served.columns and (served.recorded < 0).any():
        vectors[:, served.recorded < 0] = np.nan
    return list(vectors)
