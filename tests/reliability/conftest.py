"""Fixtures of the fault-injection tests: the registry and rollback service on the session database."""

from __future__ import annotations

import pytest


@pytest.fixture
async def registry(settings):
    from alphaplus.registry.service import Registry

    return await Registry.open(settings)


@pytest.fixture
async def rollback_service(settings):
    from alphaplus.rollback.service import RollbackService

    return await RollbackService.open(settings)
