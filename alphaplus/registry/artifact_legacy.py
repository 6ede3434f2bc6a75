"""Artifacts written before the data-only format: joblib pickles of the TrainedModel bundle
(``alphaplus.training.TrainedModel``, later ``alphaplus.ml.training.TrainedModel``).

Every stored version of that time stays loadable, and loading one never runs code chosen by whoever
wrote the file. The pickle is read by an allow-list unpickler: each global it names must be one of
the few below, otherwise the load stops before anything is imported (``os.system``, ``builtins.eval``,
``subprocess.Popen`` and every other name are refused by name).

- The classes of the bundle (TrainedModel, FeatureSpec, LightGBM's classifier and booster, the label
  encoder) are never built from the pickle: their names map to inert records that only keep the state
  the pickle carries. No constructor or ``__setstate__`` of a library class runs on the writer's data.
- The real callables allowed are data constructors: numpy's dtype, array and scalar reconstructors,
  ``collections.OrderedDict``/``defaultdict``, and joblib's array wrapper restricted to numeric arrays
  (an object array would be a nested pickle).

:func:`legacy_fields` then reads plain values out of those records (LightGBM's model text from the
booster's pickled state, the spec's windows, names, horizon, ...) for the current format's loader.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict, defaultdict
from typing import Any

import numpy as np
from joblib.numpy_pickle import NumpyArrayWrapper, NumpyUnpickler

try:  # numpy 2 (numpy.core is its deprecated alias)
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # pragma: no cover - numpy 1
    from numpy.core.multiarray import _reconstruct, scalar

from alphaplus.core.errors import ArtifactIntegrityError

# Module paths of the bundle when these artifacts were written: the flat layout, and the feature
# folders before the data-only format (same classes, same state).
_TRAINED_MODEL = ("alphaplus.training.TrainedModel", "alphaplus.ml.training.TrainedModel")
_FEATURE_SPEC = ("alphaplus.features.FeatureSpec", "alphaplus.ml.features.FeatureSpec")
_CLASSIFIER = ("lightgbm.sklearn.LGBMClassifier",)
_BOOSTER = ("lightgbm.basic.Booster",)
_LABEL_ENCODER = ("sklearn.preprocessing._label.LabelEncoder",)
_INERT_NAMES = (*_TRAINED_MODEL, *_FEATURE_SPEC, *_CLASSIFIER, *_BOOSTER, *_LABEL_ENCODER)


class LegacyRecord:
    """Stand-in for a class a legacy pickle names: it keeps the pickled state and runs nothing."""

    legacy_name = ""
    state: Any = None

    def __init__(self, *args: Any) -> None:
        if args:
            raise pickle.UnpicklingError(f"{self.legacy_name} is not built with arguments in AlphaPlus artifacts")
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


_INERT: dict[str, type[LegacyRecord]] = {
    name: type(f"Legacy{name.rsplit('.', 1)[1]}", (LegacyRecord,), {"legacy_name": name}) for name in _INERT_NAMES
}


class _NumericArrayWrapper(NumpyArrayWrapper):
    """joblib's array placeholder, refusing object arrays (their payload is a nested pickle)."""

    def read_array(self, unpickler: Any, ensure_native_byte_order: bool) -> Any:
        if not isinstance(self.dtype, np.dtype) or self.dtype.hasobject:
            raise pickle.UnpicklingError("an object array in a legacy artifact is refused")
        return super().read_array(unpickler, ensure_native_byte_order)


def _numpy_scalar(dtype: Any, *data: Any) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError("an object scalar in a legacy artifact is refused")
    return scalar(dtype, *data)


def _numpy_reconstruct(cls: Any, *args: Any) -> Any:
    if cls is not np.ndarray:
        raise pickle.UnpicklingError("only plain numpy arrays are allowed in a legacy artifact")
    return _reconstruct(cls, *args)


_REAL: dict[str, Any] = {
    "collections.OrderedDict": OrderedDict,
    "collections.defaultdict": defaultdict,
    "numpy.dtype": np.dtype,
    "numpy.ndarray": np.ndarray,
    "numpy._core.multiarray.scalar": _numpy_scalar,
    "numpy.core.multiarray.scalar": _numpy_scalar,
    "numpy._core.multiarray._reconstruct": _numpy_reconstruct,
    "numpy.core.multiarray._reconstruct": _numpy_reconstruct,
    "joblib.numpy_pickle.NumpyArrayWrapper": _NumericArrayWrapper,
}


class _AllowListUnpickler(NumpyUnpickler):
    """joblib's unpickler with ``find_class`` limited to the names above."""

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{module}.{name}"
        if qualified in _INERT:
            return _INERT[qualified]
        if qualified in _REAL:
            return _REAL[qualified]
        raise pickle.UnpicklingError(f"a legacy artifact may not name {qualified[:120]}")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("a legacy artifact may not hold persistent references")


def legacy_fields(data: bytes) -> dict[str, Any]:
    """The plain fields of a legacy TrainedModel pickle; ArtifactIntegrityError when it is anything else."""
    try:
        obj = _AllowListUnpickler("<artifact>", io.BytesIO(data), ensure_native_byte_order=True).load()
    except ArtifactIntegrityError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure of a hostile or broken pickle is one refusal
        raise ArtifactIntegrityError(f"legacy artifact refused: {str(e)[:200]}") from e
    bundle = _state(obj, _TRAINED_MODEL)
    classifier = _state(bundle.get("model"), _CLASSIFIER)
    booster = _state(classifier.get("_Booster"), _BOOSTER)
    spec = _state(bundle.get("feature_spec"), _FEATURE_SPEC)
    best = bundle.get("best_iteration")
    return {
        # Booster.__getstate__ stored the model text (every iteration) under "_handle".
        "lightgbm_model": booster.get("_handle"),
        "best_iteration": best,
        "feature_spec": {k: list(v) if isinstance(v, tuple) else v for k, v in spec.items()},
        "feature_names": bundle.get("feature_names"),
        "label_names": bundle.get("label_names"),
        "horizon": bundle.get("horizon"),
        "hyperparams": bundle.get("hyperparams"),
        "seed": bundle.get("seed"),
    }


def _state(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(obj, LegacyRecord) or obj.legacy_name not in names or not isinstance(obj.state, dict):
        found = getattr(obj, "legacy_name", None) or type(obj).__name__
        raise ArtifactIntegrityError(f"legacy artifact refused: expected a {names[0]}, found {found}")
    return obj.state
