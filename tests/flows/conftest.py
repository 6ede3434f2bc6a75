"""Fixtures for flow tests: flows read settings from the environment."""

from __future__ import annotations

import pytest

from alphaplus.core.settings import get_settings


@pytest.fixture
def flow_env(monkeypatch, settings, prefect_harness):
    """Point flows at the session database and artifact root; yields the settings they will read."""
    monkeypatch.setenv("ALPHAPLUS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ALPHAPLUS_HOME", str(settings.home))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
