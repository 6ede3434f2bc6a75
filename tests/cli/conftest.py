"""Fixtures for CLI tests: the wired app, the environment pointing at the session database, slots."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from alphaplus.cli import common
from alphaplus.core.settings import get_settings
from tests.db.conftest import register, registry  # noqa: F401  (shared fixtures)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(monkeypatch, settings):
    """ALPHAPLUS_* variables naming the session database and home, for in-process and child runs."""
    monkeypatch.setenv("ALPHAPLUS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ALPHAPLUS_HOME", str(settings.home))
    # Captured output is not a terminal: Rich would squeeze tables to 80 columns and cut cells.
    monkeypatch.setattr(common.console, "width", 240)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


@pytest.fixture
def symbol() -> str:
    """A symbol no other test stores candles under."""
    return f"T{uuid.uuid4().hex[:10].upper()}"


@pytest.fixture
def run_child(cli_env):
    """Run ``alphaplus ARGS`` in a fresh Python process; returns the CompletedProcess."""

    def go(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        argv = [sys.executable, "-c", code] if code else [sys.executable, "-m", "alphaplus", *args]
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)

    return go


@pytest.fixture
async def served_slot(registry, register, model_name, settings):
    """(model, trending, BTCUSDT): v1 promoted, v2 promoted, then rolled back to v1; v3 staging."""
    from alphaplus.rollback.service import RollbackService

    v1, v2, v3 = [await register(model_name) for _ in range(3)]
    await registry.promote(model_name, v1.version, reason="first model", on_behalf_of="alice")
    await registry.promote(model_name, v2.version, reason="better F1")
    service = await RollbackService.open(settings)
    out = await service.request_rollback(model_name, "trending", "BTCUSDT", to_version=v1.version,
                                         reason="fills got worse")
    assert out.outcome == "executed"
    return v1, v2, v3
