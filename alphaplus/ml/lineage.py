"""Lineage hashing: content hashes of training data, feature sets and hyperparameters, plus the
training environment. Hashes are over canonical forms, so equal content always hashes equal."""

from __future__ import annotations

import hashlib
import json
import math
import platform
import subprocess
import sys
from importlib import metadata as importlib_metadata
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import pandas as pd
import xxhash

if TYPE_CHECKING:
    from alphaplus.core.entities import Lineage

_HASH_PREFIX = "xxh3_128:"
_TRACKED_PACKAGES = ("alphaplus", "lightgbm", "scikit-learn", "pandas", "numpy", "joblib", "scipy", "prefect")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no whitespace, and numbers in one spelling.

    ``1``, ``1.0`` and ``np.float64(1)`` are the same number and must hash the same; floats are
    written with ``repr`` (shortest round-trip form) so formatting never changes a hash.
    """
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_canonical(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return repr(number)
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
        return number
    if value is None or isinstance(value, str):
        return value
    return str(value)


def hash_json(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value`` (feature specs, hyperparameters, keys)."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


def hash_frame(frame: pd.DataFrame) -> str:
    """Hash of a frame's full content: names, dtypes, index and raw column buffers (xxh3_128).

    Canonical form: columns sorted by name, rows sorted by index (then by the columns, for
    duplicate index labels), datetimes as UTC nanoseconds. Reordering rows or columns does not
    change the hash; changing any value, name, dtype or index label does.
    """
    frame = frame[sorted(frame.columns, key=str)]
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        frame = _sort_rows(frame)
    h = xxhash.xxh3_128()
    header = {
        "columns": [str(c) for c in frame.columns],
        "dtypes": [str(t) for t in frame.dtypes],
        "index": [str(frame.index.name), str(frame.index.dtype)],
        "rows": len(frame),
    }
    h.update(canonical_json(header).encode())
    _update_with_values(h, frame.index)
    for column in frame.columns:
        _update_with_values(h, frame[column])
    return _HASH_PREFIX + h.hexdigest()


def _sort_rows(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [frame[c] for c in reversed(frame.columns)] + [frame.index]
    order = np.lexsort([_sortable(k) for k in keys])
    return frame.iloc[order]


def _sortable(values: pd.Series | pd.Index) -> np.ndarray:
    array = values.to_numpy()
    if array.dtype.kind in "biufcmM":
        return array
    return np.asarray([str(v) for v in array])


def _update_with_values(h: "xxhash.xxh3_128", values: pd.Series | pd.Index) -> None:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC") if isinstance(values, pd.Series) else values.tz_convert("UTC")
        array = values.to_numpy(dtype="datetime64[ns]")
    elif isinstance(values.dtype, pd.CategoricalDtype):
        array = np.asarray(values.astype(str).to_numpy(), dtype=object)
    else:
        array = values.to_numpy()
    if array.dtype.kind in "biufcmM":
        # Raw buffers: no copy for a column of a consolidated block (already contiguous).
        h.update(np.ascontiguousarray(array).view(np.uint8))
        return
    for item in array:
        text = "\x00NULL" if item is None or (isinstance(item, float) and math.isnan(item)) else str(item)
        encoded = text.encode("utf-8", "surrogatepass")
        h.update(len(encoded).to_bytes(8, "little"))
        h.update(encoded)


def lineage_key(
    training_data_hash: str, feature_set_hash: str, hyperparameters_hash: str, training_config: Mapping[str, Any]
) -> str:
    """Idempotency key of a training: same data, features, hyperparameters and config -> same key."""
    return hash_json(
        {
            "data": training_data_hash,
            "features": feature_set_hash,
            "hyperparameters": hyperparameters_hash,
            "config": training_config,
        }
    )


def capture_environment() -> dict[str, Any]:
    """Python, platform, package versions and the git commit (when in a checkout) of this process."""
    packages = {}
    for name in _TRACKED_PACKAGES:
        try:
            packages[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": packages,
        "git_commit": _git_commit(),
    }


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def build_lineage(
    *,
    model_name: str,
    regime: str,
    symbol: str,
    training_frame: pd.DataFrame,
    feature_set: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    training_config: Mapping[str, Any] | None = None,
    parent_model_version: int | None = None,
    timeframe: str | None = None,
    training_data_start: Any = None,
    training_data_end: Any = None,
    n_samples: int | None = None,
    training_samples: int | None = None,
    validation_samples: int | None = None,
    n_features: int | None = None,
    training_duration_seconds: float | None = None,
    flow_run_id: str | None = None,
    training_environment: Mapping[str, Any] | None = None,
    lineage_metadata: Mapping[str, Any] | None = None,
) -> Lineage:
    """Hash the inputs of a training into a Lineage (stored with its version, in one transaction)."""
    from alphaplus.core.entities import Lineage

    config = dict(training_config or {})
    data_hash = hash_frame(training_frame)
    features_hash = hash_json(feature_set)
    params_hash = hash_json(hyperparameters)
    return Lineage(
        model_name=model_name,
        regime=regime,
        symbol=symbol,
        training_data_hash=data_hash,
        feature_set_hash=features_hash,
        hyperparameters_hash=params_hash,
        lineage_key=lineage_key(data_hash, features_hash, params_hash, config),
        parent_model_version=parent_model_version,
        timeframe=timeframe,
        training_data_start=training_data_start,
        training_data_end=training_data_end,
        n_samples=n_samples if n_samples is not None else len(training_frame),
        training_samples=training_samples,
        validation_samples=validation_samples,
        n_features=n_features,
        feature_set=json_safe(feature_set),
        hyperparameters=json_safe(hyperparameters),
        training_config=json_safe(config),
        training_environment=(
            dict(training_environment) if training_environment is not None else capture_environment()
        ),
        training_duration_seconds=training_duration_seconds,
        lineage_metadata=json_safe(lineage_metadata or {}),
        flow_run_id=flow_run_id,
    )


def json_safe(value: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping with numpy scalars and NaN made storable as JSON (the canonical form)."""
    return json.loads(canonical_json(value))
