"""The bytes of a model artifact: plain data only, read without running anything the file names.

Format 1 is one UTF-8 JSON document, written canonically (sorted keys, no whitespace, ASCII, no NaN)
so that the same model always gives the same bytes and a reproduction's hash equals the original's::

    {"format": "alphaplus-model", "format_version": 1, "kind": KIND, "model": {...}}

- kind ``lightgbm_binary``: a :class:`~alphaplus.ml.training.TrainedModel`. ``model`` holds LightGBM's
  model text (``lightgbm_model``), ``best_iteration``, the feature spec as ``FeatureSpec.to_dict()``,
  ``feature_names``, ``label_names``, ``horizon``, ``hyperparams`` and ``seed``.
- kind ``json``: any other payload that is JSON data (a dict of weights, a rule's parameters).

Why JSON rather than joblib with an allow-list unpickler: ``json.loads`` can only build dicts, lists,
strings, numbers, booleans and None. No byte of the file can name a module or call a function, so
there is no list of safe names to keep right as libraries change, and moving a Python class never
makes a stored version unloadable. The model text is parsed by LightGBM's own text-model loader and
every other field is type-checked before the objects are rebuilt. The format version is the
document's ``format_version``: a reader refuses versions newer than it knows, by name.

Artifacts written before format 1 are joblib pickles; they stay loadable through
:mod:`alphaplus.registry.artifact_legacy`, which reads them with an allow-list unpickler.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Mapping

from alphaplus.core.errors import ArtifactIntegrityError, InvalidInput

FORMAT = "alphaplus-model"
FORMAT_VERSION = 1
SUFFIX = ".json"
KIND_LIGHTGBM = "lightgbm_binary"
KIND_JSON = "json"
# The first byte of a pickle with protocol 2 or newer (joblib always wrote one).
_PICKLE_PROTO = 0x80


def dumps(obj: Any) -> bytes:
    """The artifact bytes of a TrainedModel or of JSON data; refuses anything else, by name."""
    # A TrainedModel exists only once its module is imported: looking it up in sys.modules keeps
    # storing plain data from importing pandas and LightGBM.
    training = sys.modules.get("alphaplus.ml.training")
    if training is not None and isinstance(obj, training.TrainedModel):
        kind, body = KIND_LIGHTGBM, _trained_model_fields(obj)
    else:
        kind, body = KIND_JSON, obj
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "model": body}
    try:
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidInput(
            f"a {type(obj).__name__} cannot be stored as a model artifact: give a TrainedModel or JSON data "
            f"(finite numbers, strings, lists, dicts) ({e})"
        ) from e
    return text.encode("ascii")


def loads(data: bytes) -> Any:
    """The object stored in artifact bytes (current or legacy format); never runs code the file names."""
    if data[:1] == b"{":
        return _load_document(data)
    if data[:1] == bytes([_PICKLE_PROTO]):
        from alphaplus.registry.artifact_legacy import legacy_fields

        return trained_model_from_fields(legacy_fields(data))
    raise ArtifactIntegrityError("the artifact is neither an AlphaPlus model document nor a legacy joblib file")


def format_of(data: bytes) -> str:
    """A short name of the format of artifact bytes, for reports."""
    if data[:1] == bytes([_PICKLE_PROTO]):
        return "legacy joblib pickle"
    try:
        document = json.loads(data)
        return f"{document['format']} v{document['format_version']}"
    except (ValueError, TypeError, KeyError):
        return "unknown"


def is_current(data: bytes) -> bool:
    """True when ``data`` is in the format ``dumps`` writes now (a reproduction can match it byte for byte)."""
    return format_of(data) == f"{FORMAT} v{FORMAT_VERSION}"


def _load_document(data: bytes) -> Any:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ArtifactIntegrityError(f"the artifact is not valid JSON: {e}") from e
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ArtifactIntegrityError(f"the artifact is not an {FORMAT} document")
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArtifactIntegrityError(f"the artifact's format_version {version!r} is not a version number")
    if version > FORMAT_VERSION:
        raise ArtifactIntegrityError(
            f"the artifact was written in format version {version}; this AlphaPlus reads up to {FORMAT_VERSION}: "
            "upgrade AlphaPlus to load it"
        )
    kind = document.get("kind")
    if kind == KIND_JSON:
        return document.get("model")
    if kind == KIND_LIGHTGBM:
        return trained_model_from_fields(document.get("model"))
    raise ArtifactIntegrityError(f"the artifact holds an unknown kind of model: {str(kind)[:40]!r}")


def _trained_model_fields(trained: Any) -> dict[str, Any]:
    return {
        "lightgbm_model": trained.model.model_text,
        "best_iteration": trained.model.best_iteration,
        "feature_spec": trained.feature_spec.to_dict(),
        "feature_names": list(trained.feature_names),
        "label_names": list(trained.label_names),
        "horizon": trained.horizon,
        "hyperparams": dict(trained.hyperparams),
        "seed": trained.seed,
    }


def trained_model_from_fields(fields: Any) -> Any:
    """A TrainedModel rebuilt from plain values (checked first); ArtifactIntegrityError when they are wrong."""
    from alphaplus.ml.features import FeatureSpec
    from alphaplus.ml.training import BoosterClassifier, TrainedModel

    if not isinstance(fields, Mapping):
        raise ArtifactIntegrityError("the artifact's model is not a record of fields")
    text = _field(fields, "lightgbm_model", str)
    best = fields.get("best_iteration")
    if best is not None and not _is_int(best):
        raise ArtifactIntegrityError("the artifact's best_iteration is not a whole number")
    names = _strings(fields, "feature_names")
    labels = _strings(fields, "label_names")
    hyperparams = _field(fields, "hyperparams", Mapping)
    _require_plain_data(hyperparams, "hyperparams")
    try:
        spec = FeatureSpec.from_dict(dict(_field(fields, "feature_spec", Mapping)))
    except (KeyError, TypeError, ValueError) as e:
        raise ArtifactIntegrityError(f"the artifact's feature spec is not valid: {e}") from e
    try:
        model = BoosterClassifier(text, best_iteration=best)
    except Exception as e:  # lightgbm.basic.LightGBMError and what its parser raises on malformed text
        raise ArtifactIntegrityError(f"the artifact's LightGBM model text does not parse: {str(e)[:200]}") from e
    if model.feature_name_ != list(names):
        raise ArtifactIntegrityError("the artifact's feature_names differ from those its LightGBM model was trained on")
    return TrainedModel(
        model=model, feature_spec=spec, feature_names=names, horizon=_field(fields, "horizon", int),
        label_names=labels, hyperparams=dict(hyperparams), seed=_field(fields, "seed", int),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field(fields: Mapping[str, Any], name: str, kind: type) -> Any:
    value = fields.get(name)
    ok = _is_int(value) if kind is int else isinstance(value, kind)
    if not ok:
        raise ArtifactIntegrityError(f"the artifact's {name} is missing or not a {kind.__name__}")
    return value


def _strings(fields: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = fields.get(name)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ArtifactIntegrityError(f"the artifact's {name} is not a list of strings")
    return tuple(value)


def _require_plain_data(value: Any, name: str) -> None:
    """Refuse anything but JSON data (a legacy pickle could carry other objects)."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if math.isfinite(value):
            return
    elif isinstance(value, (list, tuple)):
        for v in value:
            _require_plain_data(v, name)
        return
    elif isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        for v in value.values():
            _require_plain_data(v, name)
        return
    raise ArtifactIntegrityError(f"the artifact's {name} holds a {type(value).__name__}, not plain data")
