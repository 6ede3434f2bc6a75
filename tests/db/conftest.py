"""Fixtures for registry tests: a Registry on the session database and lineage factories."""

from __future__ import annotations

import uuid

import pytest

from alphaplus.core.entities import Lineage
from tests.db.logins import as_role, connect_as, logins  # noqa: F401  (fixtures: a login per role)


def make_lineage(model_name: str, *, regime: str = "trending", symbol: str = "BTCUSDT",
                 parent_model_version: int | None = None, data_hash: str | None = None) -> Lineage:
    """A lineage with unique hashes (so each call is a distinct training)."""
    key = uuid.uuid4().hex
    return Lineage(
        model_name=model_name, regime=regime, symbol=symbol,
        training_data_hash=data_hash or f"xxh3_128:{key}", feature_set_hash="sha256:" + "f" * 64,
        hyperparameters_hash="sha256:" + "e" * 64, lineage_key=f"sha256:{key}",
        parent_model_version=parent_model_version,
        timeframe="1h", n_samples=100, n_features=3,
    )


@pytest.fixture
async def registry(settings):
    from alphaplus.registry.service import Registry

    return await Registry.open(settings)


@pytest.fixture
def register(registry):
    """Register a fresh staging version of a slot with a tiny real artifact; returns the version."""

    async def go(model_name: str, *, regime: str = "trending", symbol: str = "BTCUSDT",
                 training_metrics: dict | None = None, **kwargs):
        lineage = make_lineage(model_name, regime=regime, symbol=symbol, **kwargs)
        reg = await registry.register_model_version(
            lineage, model={"weights": lineage.lineage_key}, validation_metrics={"f1": 0.6},
            training_metrics=training_metrics,
        )
        return reg.version

    return go
