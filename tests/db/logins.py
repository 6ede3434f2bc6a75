"""Logins of each AlphaPlus role for tests, made by the session and dropped at its end (roles are
cluster-wide: only these uniquely named logins are created and dropped, never the group roles)."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest

from alphaplus.core.settings import Settings

PASSWORD = "Sup3r-s3cret/p@ss"  # holds '/' and '@' on purpose: the masking must not cut it short
ROLES = ("reader", "resolver", "trainer", "operator", "admin")


def dsn_for(url: str, user: str, password: str | None = None) -> str:
    """``url`` with another login (and optionally a password), same host, port and database."""
    parts = urlsplit(url)
    auth = user + (f":{quote(password, safe='')}" if password else "")
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f"{auth}@{host}"))


@pytest.fixture(scope="session")
async def logins(database_url):
    """One LOGIN per group role, unique to this session, dropped at the end: role -> DSN."""
    admin = await asyncpg.connect(database_url)
    suffix = uuid.uuid4().hex[:8]
    names = {role: f"ap_test_{role}_{suffix}" for role in ROLES}
    for role, name in names.items():
        # A password too, though trust authentication ignores it: a password URL must work and
        # be masked everywhere.
        await admin.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{PASSWORD}' IN ROLE alphaplus_{role}")
    dsns = {role: dsn_for(database_url, name) for role, name in names.items()}
    dsns["reader_with_password"] = dsn_for(database_url, names["reader"], PASSWORD)
    yield {"dsn": dsns, "name": names}
    from db import pool as pools

    by_dsn = pools._pools.get(asyncio.get_running_loop(), {})
    for dsn in dsns.values():
        pool = by_dsn.pop(dsn, None)
        if pool is not None:
            await pool.close()
    for name in names.values():
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name)
        for _ in range(50):
            try:
                await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
                break
            except asyncpg.DependentObjectsStillReferencedError:
                await asyncio.sleep(0.1)  # a terminated session is still dropping its temp tables
    await admin.close()


@pytest.fixture(scope="session")
def as_role(logins, settings):
    """Factory: a Registry connected as the role's login, sharing the session's artifact root."""
    from alphaplus.registry.service import Registry

    async def make(role: str) -> Registry:
        return await Registry.open(Settings(database_url=logins["dsn"][role], home=settings.home))

    return make


@pytest.fixture
async def connect_as(logins):
    """Factory: a dedicated connection as the role's login, closed after the test."""
    from db.pool import connect

    opened: list[asyncpg.Connection] = []

    async def make(role: str) -> asyncpg.Connection:
        c = await connect(logins["dsn"][role])
        opened.append(c)
        return c

    yield make
    for c in opened:
        await c.close()


def assert_one_clear_line(err: BaseException) -> None:
    text = str(err)
    assert text.startswith("permission denied: "), text
    assert "\n" not in text and "Traceback" not in text
