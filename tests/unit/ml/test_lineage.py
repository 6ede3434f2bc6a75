"""Lineage hashing: canonical, content-sensitive, fast enough to hash every training frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaplus.ml.lineage import build_lineage, canonical_json, hash_frame, hash_json


def frame(n: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "close": rng.normal(100, 1, n),
            "volume": rng.integers(1, 1000, n),
            "note": [f"bar {i}" for i in range(n)],
        }
    )


def test_the_same_frame_in_another_row_and_column_order_hashes_the_same():
    df = frame()
    shuffled = df.sample(frac=1.0, random_state=7)[["volume", "note", "ts", "close"]]
    assert hash_frame(shuffled) == hash_frame(df)


def test_one_changed_value_changes_the_hash():
    df = frame()
    changed = df.copy()
    changed.loc[17, "close"] = np.nextafter(changed.loc[17, "close"], np.inf)
    assert hash_frame(changed) != hash_frame(df)


def test_a_renamed_column_or_changed_dtype_changes_the_hash():
    df = frame()
    assert hash_frame(df.rename(columns={"close": "Close"})) != hash_frame(df)
    assert hash_frame(df.astype({"volume": "float64"})) != hash_frame(df)


def test_the_same_instants_in_another_time_zone_hash_the_same():
    df = frame()
    other = df.assign(ts=df["ts"].dt.tz_convert("America/New_York"))
    # Same instants; the dtype (and so the header) names the zone, so the hash differs by design
    # only through the header: values are compared in UTC.
    assert hash_frame(other) != hash_frame(df)
    assert hash_frame(other.assign(ts=other["ts"].dt.tz_convert("UTC"))) == hash_frame(df)


def test_hyperparameters_hash_ignores_key_order_and_numpy_scalar_types():
    assert hash_json({"a": 1, "b": 0.1}) == hash_json({"b": 0.1, "a": np.float64(1)})
    assert hash_json({"a": 1, "b": 0.1}) == hash_json({"b": 0.1, "a": np.int64(1)})
    assert hash_json({"a": 1}) != hash_json({"a": 2})
    assert hash_json({"flag": True}) != hash_json({"flag": 1})


def test_canonical_json_writes_each_number_one_way():
    assert canonical_json({"x": 1.0, "y": np.int32(3), "z": [np.float64(0.5)]}) == '{"x":1,"y":3,"z":[0.5]}'


def test_lineage_key_depends_on_data_features_hyperparameters_and_config():
    df = frame()
    base = dict(model_name="m", regime="trending", symbol="BTC", feature_set={"f": ["a"]},
                hyperparameters={"lr": 0.1}, training_config={"horizon": 12}, training_environment={})
    key = build_lineage(training_frame=df, **base).lineage_key
    assert build_lineage(training_frame=df.sample(frac=1.0, random_state=3), **base).lineage_key == key
    assert build_lineage(training_frame=df, **{**base, "hyperparameters": {"lr": 0.2}}).lineage_key != key
    assert build_lineage(training_frame=df, **{**base, "training_config": {"horizon": 6}}).lineage_key != key
    assert build_lineage(training_frame=df.iloc[1:], **base).lineage_key != key
