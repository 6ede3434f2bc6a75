"""Connection pools: one asyncpg pool per running event loop, because a pool is bound to its loop."""

from __future__ import annotations

import asyncio
import json
import weakref

import asyncpg

from alphaplus.errors import DatabaseUnavailable
from alphaplus.redaction import mask_secrets
from alphaplus.settings import Settings, get_settings

# Prefect runs submitted tasks in worker threads, each with its own loop: a pool created on one
# loop cannot be used from another, so pools are kept per loop and die with it.
_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncpg.Pool]]" = (
    weakref.WeakKeyDictionary()
)
_dsn_cache: dict[str, str] = {}


def resolve_dsn(settings: Settings | None = None) -> str:
    """The database URL: ``ALPHAPLUS_DATABASE_URL``, else the embedded cluster (started on demand)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    key = str(settings.home.resolve())
    if key not in _dsn_cache:
        from db.embedded import EmbeddedPostgres

        _dsn_cache[key] = EmbeddedPostgres(settings.home / "pg", port=settings.embedded_port).ensure_running()
    return _dsn_cache[key]


async def init_connection(conn: asyncpg.Connection) -> None:
    """Per-connection setup: JSON codecs so jsonb columns take and give Python objects."""
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=lambda v: json.dumps(v, allow_nan=False), decoder=json.loads, schema="pg_catalog"
        )


def server_settings(settings: Settings) -> dict[str, str]:
    """Session settings every AlphaPlus connection runs with."""
    return {
        "application_name": "alphaplus",
        "statement_timeout": str(settings.statement_timeout_ms),
        "lock_timeout": str(settings.lock_timeout_ms),
        "timezone": "UTC",
    }


async def connect(dsn: str | None = None, settings: Settings | None = None) -> asyncpg.Connection:
    """One dedicated connection (for LISTEN, migrations, or a short CLI command)."""
    settings = settings or get_settings()
    dsn = dsn or resolve_dsn(settings)
    try:
        conn = await asyncpg.connect(dsn, server_settings=server_settings(settings))
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as e:
        raise DatabaseUnavailable(f"cannot connect to {mask_secrets(dsn)}: {mask_secrets(str(e))}") from e
    await init_connection(conn)
    return conn


async def get_pool(dsn: str | None = None, settings: Settings | None = None) -> asyncpg.Pool:
    """The pool of the running event loop for ``dsn``, created on first use."""
    settings = settings or get_settings()
    dsn = dsn or resolve_dsn(settings)
    loop = asyncio.get_running_loop()
    by_dsn = _pools.setdefault(loop, {})
    pool = by_dsn.get(dsn)
    if pool is None:
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                init=init_connection,
                server_settings=server_settings(settings),
            )
        except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as e:
            raise DatabaseUnavailable(f"cannot connect to {mask_secrets(dsn)}: {mask_secrets(str(e))}") from e
        by_dsn[dsn] = pool
    return pool


async def close_pools() -> None:
    """Close the pools of the running event loop (call before the loop ends)."""
    loop = asyncio.get_running_loop()
    for pool in _pools.pop(loop, {}).values():
        await pool.close()
