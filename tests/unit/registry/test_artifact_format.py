"""Model artifacts hold plain data: they round-trip, name no module, load old files, and run nothing."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import sys
import types
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from alphaplus.core.errors import ArtifactIntegrityError, InvalidInput
from alphaplus.market.synth import synth_candles
from alphaplus.ml.features import DEFAULT_FEATURE_SPEC
from alphaplus.ml.pipeline import TrainingConfig, fit_slot, prepare_dataset
from alphaplus.ml.training import TrainedModel, predict_proba
from alphaplus.registry import artifact_format
from alphaplus.registry.artifacts import ArtifactStore

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "artifacts"
LEGACY = FIXTURES / "legacy-b0b9950.joblib"
LEGACY_FACTS = json.loads((FIXTURES / "legacy-b0b9950.json").read_text())


@pytest.fixture(scope="module")
def trained() -> tuple[TrainedModel, pd.DataFrame]:
    candles = synth_candles(2500, seed=3)
    config = TrainingConfig(horizon=12)
    dataset = prepare_dataset(candles, "trending", config)
    return fit_slot(dataset, config, {"n_estimators": 15, "num_leaves": 7}).trained, dataset.X


def test_a_trained_model_round_trips_and_predicts_exactly_the_same(trained):
    model, X = trained
    loaded = artifact_format.loads(artifact_format.dumps(model))
    assert loaded == model
    assert loaded.feature_spec == DEFAULT_FEATURE_SPEC and loaded.label_mapping == {0: "not_up", 1: "up"}
    np.testing.assert_array_equal(predict_proba(loaded, X), predict_proba(model, X))


def test_the_same_model_always_serialises_to_the_same_bytes(trained):
    model, _ = trained
    again = artifact_format.loads(artifact_format.dumps(model))
    assert artifact_format.dumps(model) == artifact_format.dumps(again)


def test_the_stored_bytes_are_json_data_that_name_no_python_module(trained):
    model, _ = trained
    data = artifact_format.dumps(model)
    document = json.loads(data)
    assert (document["format"], document["format_version"], document["kind"]) == ("alphaplus-model", 1,
                                                                                    "lightgbm_binary")
    assert document["model"]["lightgbm_model"].startswith("tree\n")
    for module_path in (b"alphaplus.", b"lightgbm.sklearn", b"sklearn.", b"numpy", b"joblib", b"builtins"):
        assert module_path not in data


def test_plain_json_data_is_stored_as_itself():
    payload = {"weights": [1, 2.5, None], "name": "rule \u202e\u05d0"}
    assert artifact_format.loads(artifact_format.dumps(payload)) == payload


@pytest.mark.parametrize("value", [object(), {"w": float("nan")}, {"w": {1, 2}}, {"f": print}])
def test_something_that_is_neither_a_model_nor_json_data_is_refused_by_name(value):
    with pytest.raises(InvalidInput, match="cannot be stored as a model artifact"):
        artifact_format.dumps(value)


# --- artifacts written before the data-only format ---------------------------------------------------


def test_an_artifact_written_by_the_old_code_loads_and_predicts_as_it_did():
    data = LEGACY.read_bytes()
    assert hashlib.sha256(data).hexdigest() == LEGACY_FACTS["sha256"]
    assert artifact_format.format_of(data) == "legacy joblib pickle"
    model = artifact_format.loads(data)
    assert isinstance(model, TrainedModel)
    assert list(model.feature_names) == LEGACY_FACTS["feature_names"]
    assert (model.horizon, model.seed, dict(model.hyperparams)) == (
        LEGACY_FACTS["horizon"], LEGACY_FACTS["seed"], LEGACY_FACTS["hyperparams"])
    assert model.model.best_iteration == LEGACY_FACTS["best_iteration"]
    rows = pd.DataFrame(LEGACY_FACTS["rows"])
    np.testing.assert_array_equal(predict_proba(model, rows), np.array(LEGACY_FACTS["proba_up"]))


def test_an_artifact_pickled_after_the_move_to_feature_folders_loads_as_well(monkeypatch):
    """Between the move of the modules and the data-only format, pickles named alphaplus.ml.*."""
    import lightgbm

    from alphaplus.ml import features, training

    old = artifact_format.loads(LEGACY.read_bytes())
    names = {(training, "TrainedModel"), (features, "FeatureSpec"), (lightgbm.sklearn, "LGBMClassifier"),
             (lightgbm.basic, "Booster")}
    fake = {}
    for module, name in names:
        fake[name] = type(name, (), {"__module__": module.__name__, "__qualname__": name})
        monkeypatch.setattr(module, name, fake[name])

    def record(name: str, **state):
        obj = fake[name]()
        obj.__dict__.update(state)
        return obj

    booster = record("Booster", _handle=old.model.model_text, best_iteration=old.model.best_iteration)
    bundle = record(
        "TrainedModel", model=record("LGBMClassifier", _Booster=booster),
        feature_spec=record("FeatureSpec", **old.feature_spec.__dict__), feature_names=old.feature_names,
        horizon=old.horizon, label_names=old.label_names, hyperparams=dict(old.hyperparams), seed=old.seed,
        best_iteration=old.model.best_iteration,
    )
    buffer = io.BytesIO()
    joblib.dump(bundle, buffer)
    monkeypatch.undo()
    assert b"alphaplus.ml.training" in buffer.getvalue()
    assert artifact_format.loads(buffer.getvalue()) == old


def test_an_old_artifact_reads_through_the_store_after_its_hash_is_verified(tmp_path):
    data = LEGACY.read_bytes()
    store = ArtifactStore(tmp_path)
    stored = store.save_bytes(data, suffix=".joblib")
    assert isinstance(store.load(stored), TrainedModel)


def test_retraining_an_old_version_gives_its_model_byte_for_byte_in_the_current_format():
    lineage = LEGACY_FACTS["lineage"]
    candles = synth_candles(lineage["candles"]["n"], seed=lineage["candles"]["seed"],
                            start=lineage["candles"]["start"])
    config = TrainingConfig.from_lineage(lineage["training_config"], lineage["feature_set"])
    fit = fit_slot(prepare_dataset(candles, lineage["regime"], config), config, lineage["hyperparameters"])
    assert artifact_format.dumps(fit.trained) == artifact_format.dumps(artifact_format.loads(LEGACY.read_bytes()))


# --- loading never runs code chosen by the file's writer --------------------------------------------


class _RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Evaluates:
    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


def _legacy_bundle_carrying(payload: object, monkeypatch) -> bytes:
    """A pickle naming the old ``alphaplus.training.TrainedModel``, a payload among its fields."""
    old_module = types.ModuleType("alphaplus.training")
    bundle_class = type("TrainedModel", (), {"__module__": "alphaplus.training"})
    old_module.TrainedModel = bundle_class
    monkeypatch.setitem(sys.modules, "alphaplus.training", old_module)
    bundle = bundle_class()
    bundle.__dict__.update(model=None, feature_names=("ret_1",), hyperparams={"n_estimators": payload})
    buffer = io.BytesIO()
    joblib.dump(bundle, buffer)
    return buffer.getvalue()


def _crafted(case: str, marker: Path, monkeypatch) -> bytes:
    """Hostile files as a trainer with write access to the store could register them."""
    touch = f"touch {marker}"
    if case == "pickle os.system":
        return pickle.dumps(_RunsCommand(touch))
    if case == "pickle protocol 2 os.system":
        return pickle.dumps(_RunsCommand(touch), protocol=2)
    if case == "pickle protocol 0 os.system":
        return pickle.dumps(_RunsCommand(touch), protocol=0)
    if case == "pickle builtins.eval":
        return pickle.dumps(_Evaluates(f"__import__('os').system({touch!r})"))
    buffer = io.BytesIO()
    if case == "joblib os.system":
        joblib.dump({"model": _RunsCommand(touch)}, buffer)
    elif case == "joblib object array":
        joblib.dump(np.array([_RunsCommand(touch)], dtype=object), buffer)
    elif case == "old bundle carrying os.system":
        return _legacy_bundle_carrying(_RunsCommand(touch), monkeypatch)
    return buffer.getvalue()


CRAFTED = ["pickle os.system", "pickle protocol 2 os.system", "pickle protocol 0 os.system", "pickle builtins.eval",
           "joblib os.system", "joblib object array", "old bundle carrying os.system"]


@pytest.mark.parametrize("case", CRAFTED)
def test_a_crafted_artifact_is_refused_without_running_its_payload(case, tmp_path, monkeypatch):
    marker = tmp_path / "payload-ran"
    data = _crafted(case, marker, monkeypatch)
    store = ArtifactStore(tmp_path / "store")
    stored = store.save_bytes(data, suffix=".joblib")  # the hash matches: it is the registered file
    with pytest.raises(ArtifactIntegrityError):
        store.load(stored)
    assert not marker.exists(), "loading the artifact ran the writer's code"


def test_the_refusal_names_what_the_file_tried_to_import(tmp_path):
    marker = tmp_path / "payload-ran"
    with pytest.raises(ArtifactIntegrityError, match=r"may not name (posix|os)\.system"):
        artifact_format.loads(pickle.dumps(_RunsCommand(f"touch {marker}")))
    assert not marker.exists()


def _document(**changes) -> bytes:
    document = {"format": "alphaplus-model", "format_version": 1, "kind": "json", "model": {"w": 1}, **changes}
    return json.dumps(document).encode()


@pytest.mark.parametrize("data, message", [
    (_document(format_version=2), "format version 2; this AlphaPlus reads up to 1: upgrade"),
    (_document(kind="python_object"), "unknown kind of model"),
    (_document(format="something-else"), "not an alphaplus-model document"),
    (_document(kind="lightgbm_binary", model={"lightgbm_model": "not a model"}), "feature_names"),
    (b"{not json", "not valid JSON"),
    (b"PK\x03\x04 a zip file", "neither an AlphaPlus model document nor a legacy joblib file"),
])
def test_a_document_this_reader_cannot_trust_is_refused_with_a_reason(data, message):
    with pytest.raises(ArtifactIntegrityError, match=message):
        artifact_format.loads(data)


def test_a_model_document_with_malformed_lightgbm_text_is_refused(trained):
    model, _ = trained
    document = json.loads(artifact_format.dumps(model))
    document["model"]["lightgbm_model"] = "tree\nversion=v4\nnum_class=oops\n"
    with pytest.raises(ArtifactIntegrityError, match="does not parse|feature_names"):
        artifact_format.loads(json.dumps(document).encode())
