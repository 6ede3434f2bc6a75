"""Shared fixtures: a real PostgreSQL (ALPHAPLUS_DATABASE_URL or the embedded cluster), one fresh
database per test session, migrated once, dropped at the end."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

# Before anything imports prefect: no telemetry, no network, a private home.
_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_HOME", str(_ROOT / ".alphaplus" / "prefect-test"))
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_SERVER_LEVEL", "CRITICAL")
# The suite runs as the server's superuser (it creates databases and roles); tests of the roles use
# logins of their own, and the superuser check is tested with this setting overridden.
os.environ.setdefault("ALPHAPLUS_SUPERUSER_LOGIN", "allow")
# Prefect creates its home without parents: make it, or it warns and falls back.
Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)

import asyncpg  # noqa: E402
import pytest  # noqa: E402

from alphaplus.core.settings import Settings  # noqa: E402


def _server_dsn() -> str:
    url = os.environ.get("ALPHAPLUS_DATABASE_URL")
    if url:
        return url
    from db.embedded import EmbeddedPostgres

    return EmbeddedPostgres.for_home(_ROOT / ".alphaplus").ensure_running()


def _with_database(dsn: str, name: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def server_dsn() -> str:
    """A DSN of the server the tests run against (its own default database)."""
    return _server_dsn()


@pytest.fixture(scope="session")
async def make_database(server_dsn):
    """Factory: create an empty database on the server; all are dropped when the session ends."""
    admin = await asyncpg.connect(server_dsn)
    created: list[str] = []

    async def make(prefix: str = "alphaplus_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return _with_database(server_dsn, name)

    yield make
    from db.pool import close_pools

    await close_pools()
    for name in created:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
async def database_url(make_database) -> str:
    """A freshly migrated database shared by the session; tests keep apart by unique model names."""
    from db.migrate import migrate
    from db.pool import connect

    url = await make_database()
    conn = await connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


@pytest.fixture(scope="session")
def settings(database_url, tmp_path_factory) -> Settings:
    """Settings pointing at the session database and a private artifact root."""
    return Settings(database_url=database_url, home=tmp_path_factory.mktemp("alphaplus-home"))


@pytest.fixture
async def conn(database_url):
    """A dedicated connection to the session database."""
    from db.pool import connect

    c = await connect(database_url)
    yield c
    await c.close()


@pytest.fixture
def model_name() -> str:
    """A model name no other test uses."""
    return f"model_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect API for the whole session (12-23 s to start): use it only in flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
