"""Scratch databases on the registry's server: created for one replay, migrated, dropped after it."""

from __future__ import annotations

import re
import uuid

from alphaplus.core.errors import InvalidInput
from db.errors import translated

_MAX_NAME = 63  # PostgreSQL's identifier limit


def scratch_name(live_dsn: str, tag: str | None = None) -> str:
    """``<live database>_replay_<tag>``, cut to PostgreSQL's identifier limit."""
    live = live_dsn.rsplit("/", 1)[-1].split("?", 1)[0] or "alphaplus"
    suffix = f"_replay_{tag or uuid.uuid4().hex[:10]}"
    return re.sub(r"[^A-Za-z0-9_]", "_", live)[: _MAX_NAME - len(suffix)] + suffix


def with_database(dsn: str, name: str) -> str:
    """``dsn`` naming database ``name`` instead (its query string kept)."""
    base, _, rest = dsn.rpartition("/")
    query = rest.split("?", 1)[1] if "?" in rest else ""
    return f"{base}/{name}" + (f"?{query}" if query else "")


async def create_scratch(live_dsn: str, name: str) -> str:
    """Create the empty database ``name`` beside the live one (on its server) and return its DSN."""
    from db.pool import connect, trust_as

    if not re.fullmatch(r"[A-Za-z0-9_]{1,63}", name) or "_replay_" not in name:
        raise InvalidInput(f"{name!r} is not a replay scratch database name")
    conn = await connect(live_dsn)
    try:
        with translated():
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = with_database(live_dsn, name)
    trust_as(dsn, live_dsn)
    return dsn


async def migrate_scratch(dsn: str) -> None:
    """Apply every migration to the scratch database."""
    from db.migrate import migrate
    from db.pool import connect

    conn = await connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def drop_scratch(live_dsn: str, name: str) -> None:
    """Drop the scratch database ``name`` (closing its connections); only replay scratch names."""
    from db.pool import connect

    if "_replay_" not in name:
        raise InvalidInput(f"{name!r} is not a replay scratch database; refusing to drop it")
    conn = await connect(live_dsn)
    try:
        with translated():
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
