"""Connection pools: one asyncpg pool per running event loop, because a pool is bound to its loop."""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from pathlib import Path
from typing import Mapping

import asyncpg

from alphaplus.core.errors import ConfigurationError, DatabaseUnavailable, PermissionDenied, SchemaOutOfDate
from alphaplus.core.redaction import mask_secrets, register_url_secrets
from alphaplus.core.settings import Settings, get_settings

# Prefect runs submitted tasks in worker threads, each with its own loop: a pool created on one
# loop cannot be used from another, so pools are kept per loop and die with it.
_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncpg.Pool]]" = (
    weakref.WeakKeyDictionary()
)
_dsn_cache: dict[str, str] = {}
# DSNs of the private embedded cluster: its superuser is the only login there, so the superuser
# check does not apply to it.
_embedded_dsns: set[str] = set()
log = logging.getLogger("alphaplus.security")
# What connecting can raise: refused or unreachable, refused by the server (auth, no such
# database, no CONNECT right), a malformed URL (asyncpg's ClientConfigurationError is a ValueError).
_CONNECT_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError, asyncio.TimeoutError)


def resolve_dsn(settings: Settings | None = None) -> str:
    """The database URL: ``ALPHAPLUS_DATABASE_URL``, ``ALPHAPLUS_DATABASE_URL_FILE`` or the Prefect
    Secret block named by ``ALPHAPLUS_DATABASE_SECRET_BLOCK`` (at most one of them), else the
    embedded cluster (started on demand). Its password is registered for masking in any output."""
    settings = settings or get_settings()
    sources = [
        name
        for name, value in (
            ("ALPHAPLUS_DATABASE_URL", settings.database_url),
            ("ALPHAPLUS_DATABASE_URL_FILE", settings.database_url_file),
            ("ALPHAPLUS_DATABASE_SECRET_BLOCK", settings.database_secret_block),
        )
        if value
    ]
    if len(sources) > 1:
        raise ConfigurationError(f"set only one of {', '.join(sources)}: they all name the database")
    if settings.database_url:
        dsn = settings.database_url
    elif settings.database_url_file:
        dsn = _read_dsn_file(settings.database_url_file)
    elif settings.database_secret_block:
        key = f"secret-block:{settings.database_secret_block}"
        if key not in _dsn_cache:
            _dsn_cache[key] = _load_dsn_secret_block(settings.database_secret_block)
        dsn = _dsn_cache[key]
    else:
        key = str(settings.home.resolve())
        if key not in _dsn_cache:
            from db.embedded import EmbeddedPostgres

            _dsn_cache[key] = EmbeddedPostgres.for_home(settings.home, port=settings.embedded_port).ensure_running()
        dsn = _dsn_cache[key]
        _embedded_dsns.add(dsn)
    register_url_secrets(dsn)
    return dsn


def trust_as(dsn: str, like: str) -> None:
    """Treat ``dsn`` as ``like`` for the superuser check: a scratch database made beside the embedded
    cluster's is on that cluster too."""
    if like in _embedded_dsns:
        _embedded_dsns.add(dsn)


def _read_dsn_file(path: Path) -> str:
    # Read on every resolution, so a rotated secret file takes effect for new pools.
    try:
        dsn = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"cannot read the database URL from {path}: {e.__class__.__name__}") from None
    if not dsn:
        raise ConfigurationError(f"the database URL file {path} is empty")
    return dsn


def _load_dsn_secret_block(name: str) -> str:
    # prefect is imported here only: the CLI's read paths and the inference engine must not load it.
    try:
        from prefect.blocks.system import Secret

        # _sync: a synchronous client even when called from inside a running event loop.
        value = Secret.load(name, _sync=True).get()
    except Exception as e:  # noqa: BLE001 - whatever Prefect raises, say which block, never its value
        raise ConfigurationError(
            f"cannot load the database URL from the Prefect Secret block {name!r}: "
            f"{mask_secrets(str(e)) or e.__class__.__name__}"
        ) from None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"the Prefect Secret block {name!r} holds no database URL")
    return value.strip()


def _unavailable(dsn: str, e: BaseException) -> DatabaseUnavailable:
    """A connection failure as one masked line; the driver's exception is not chained (its text
    or repr may carry the URL)."""
    detail = mask_secrets(str(e)) or e.__class__.__name__
    return DatabaseUnavailable(f"cannot connect to {mask_secrets(dsn)}: {detail}")


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
    register_url_secrets(dsn)
    try:
        conn = await asyncpg.connect(dsn, server_settings=server_settings(settings))
    except _CONNECT_ERRORS as e:
        raise _unavailable(dsn, e) from None
    await init_connection(conn)
    return conn


async def get_pool(
    dsn: str | None = None, settings: Settings | None = None, *, session: Mapping[str, str] | None = None
) -> asyncpg.Pool:
    """The pool of the running event loop for ``dsn``, created on first use. ``session``: more
    session settings (e.g. the dashboard's read-only transactions); such a pool is a separate one."""
    settings = settings or get_settings()
    dsn = dsn or resolve_dsn(settings)
    loop = asyncio.get_running_loop()
    by_dsn = _pools.setdefault(loop, {})
    key = dsn + "".join(f"\x00{k}={v}" for k, v in sorted((session or {}).items()))
    pool = by_dsn.get(key)
    if pool is None:
        register_url_secrets(dsn)
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                init=init_connection,
                server_settings={**server_settings(settings), **(session or {})},
            )
        except _CONNECT_ERRORS as e:
            raise _unavailable(dsn, e) from None
        try:
            if dsn not in _embedded_dsns:
                await check_login(pool, settings.superuser_login)
            await _check_schema(pool)
        except BaseException:
            await pool.close()
            raise
        by_dsn[key] = pool
    return pool


# A superuser (or a login that can act as the schema's owner) runs every trigger and function of the
# database with unlimited rights: whoever can change one of them, or plant one, takes over the cluster.
_LOGIN = """
SELECT session_user AS login, r.rolsuper AS superuser,
       to_regrole('alphaplus_owner') IS NOT NULL AND pg_has_role(session_user, 'alphaplus_owner', 'MEMBER') AS owner
FROM pg_roles r WHERE r.rolname = session_user
"""


async def check_login(pool: asyncpg.Pool, policy: str) -> None:
    """Refuse (or warn about) a superuser login for day-to-day work, as ``policy`` says."""
    if policy == "allow":
        return
    try:
        row = await pool.fetchrow(_LOGIN)
    except asyncpg.PostgresError:
        return  # cannot tell (a very restricted login): it is not a superuser then
    if row is None or not (row["superuser"] or row["owner"]):
        return
    what = "a superuser" if row["superuser"] else "a member of alphaplus_owner"
    who = f"the database login {row['login']!r} is {what}"
    if policy == "warn":
        log.warning("warning: %s: every function and trigger runs with its unlimited rights; use a login in an "
                    "alphaplus role for day-to-day work (README: Security)", who)
        return
    raise PermissionDenied(
        f"permission denied: {who}, and day-to-day commands refuse it (every function and trigger would run with "
        "its unlimited rights); use a login in an alphaplus role (README: Security), or set "
        "ALPHAPLUS_SUPERUSER_LOGIN=warn or allow"
    )


async def _check_schema(pool: asyncpg.Pool) -> None:
    """Refuse, with what to do, a database that lacks migrations this code has (one query)."""
    from db.errors import MIGRATE_HINT, translated
    from db.migrate import applied_migrations, load_migrations

    with translated():
        async with pool.acquire() as conn:
            applied = await applied_migrations(conn)
    missing = [m.name for m in load_migrations() if m.name not in applied]
    if not applied:
        raise SchemaOutOfDate(f"the database has no AlphaPlus schema: {MIGRATE_HINT}")
    if missing:
        raise SchemaOutOfDate(f"the database is behind this code by {len(missing)} migration(s), from "
                              f"{missing[0]}: {MIGRATE_HINT}")


async def close_pool(dsn: str) -> None:
    """Close the running event loop's pools of ``dsn`` (e.g. before its database is dropped)."""
    by_dsn = _pools.get(asyncio.get_running_loop(), {})
    for key in [k for k in by_dsn if k == dsn or k.startswith(dsn + "\x00")]:
        await by_dsn.pop(key).close()


async def close_pools() -> None:
    """Close the pools of the running event loop (call before the loop ends)."""
    loop = asyncio.get_running_loop()
    for pool in _pools.pop(loop, {}).values():
        await pool.close()
