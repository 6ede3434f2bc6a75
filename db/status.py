"""Queries behind ``alphaplus db status``: storage mode, applied migrations, row counts."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

_TIMESCALE_VERSION = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
_HYPERTABLES = "SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1"
_MIGRATIONS = "SELECT name, checksum, applied_at FROM schema_migrations ORDER BY name"
# Exact counts in one round trip: query_to_xml runs a count(*) per table of the current schema.
_ROW_COUNTS = """
SELECT tablename AS table_name,
       (xpath('/row/c/text()',
              query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename),
                           false, true, '')))[1]::text::bigint AS row_count
FROM pg_tables
WHERE schemaname = current_schema()
ORDER BY tablename
"""


@dataclass(frozen=True)
class DatabaseStatus:
    """What ``db status`` reports."""

    server_version: str
    mode: str  # "timescaledb <version>" or "plain"
    hypertables: tuple[str, ...]
    migrations: tuple[tuple[str, str, str], ...]  # (name, checksum prefix, applied_at ISO)
    row_counts: dict[str, int]

    def to_dict(self) -> dict:
        return {
            "server_version": self.server_version,
            "mode": self.mode,
            "hypertables": list(self.hypertables),
            "migrations": [{"name": n, "checksum": c, "applied_at": t} for n, c, t in self.migrations],
            "row_counts": self.row_counts,
        }


async def database_status(conn: asyncpg.Connection) -> DatabaseStatus:
    """Read the status of the database ``conn`` is connected to."""
    server_version = await conn.fetchval("SHOW server_version")
    ts_version = await conn.fetchval(_TIMESCALE_VERSION)
    hypertables: tuple[str, ...] = ()
    if ts_version:
        hypertables = tuple(r["hypertable_name"] for r in await conn.fetch(_HYPERTABLES))
    migrations: tuple[tuple[str, str, str], ...] = ()
    if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
        migrations = tuple(
            (r["name"], r["checksum"][:12], r["applied_at"].isoformat()) for r in await conn.fetch(_MIGRATIONS)
        )
    counts = {r["table_name"]: r["row_count"] for r in await conn.fetch(_ROW_COUNTS)}
    return DatabaseStatus(
        server_version=server_version,
        mode=f"timescaledb {ts_version}" if ts_version else "plain",
        hypertables=hypertables,
        migrations=migrations,
        row_counts=counts,
    )
