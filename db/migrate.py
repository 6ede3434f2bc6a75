"""Migration runner: ordered .sql files applied once each, in a transaction, under an advisory lock."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from alphaplus.core.errors import MigrationChecksumMismatch, MigrationError
from db.errors import translated

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed 64-bit key; advisory locks are scoped to the current database.
_LOCK_KEY = 0x616C70686170_6C75 & 0x7FFFFFFFFFFFFFFF

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name         text PRIMARY KEY,
    checksum     text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    applied_by   text NOT NULL DEFAULT session_user,
    duration_ms  double precision NOT NULL
)
"""


_HAND_OVER_EXISTS = "SELECT to_regprocedure('alphaplus_hand_over_to_owner()') IS NOT NULL"
_HAND_OVER = "SELECT alphaplus_hand_over_to_owner()"


@dataclass(frozen=True)
class Migration:
    """One migration file: its name (ordering key), SQL text and SHA-256 checksum."""

    name: str
    sql: str
    checksum: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations on disk, in order."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        raw = path.read_bytes()
        found.append(Migration(path.name, raw.decode("utf-8"), hashlib.sha256(raw).hexdigest()))
    return found


async def applied_migrations(conn: asyncpg.Connection) -> dict[str, str]:
    """Name -> checksum of the migrations recorded in the database (empty before the first run)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT name, checksum FROM schema_migrations ORDER BY name")
    return {r["name"]: r["checksum"] for r in rows}


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; returns the names applied now (empty when up to date).

    Two processes migrating at once serialise on the advisory lock: the second waits, then finds
    everything applied. An applied migration whose file changed since is refused, not re-run.
    """
    migrations = load_migrations(directory)
    with translated():
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        with translated():
            await conn.execute(_CREATE_TABLE)
            applied = await applied_migrations(conn)
        _check_history(migrations, applied)
        done = []
        for m in migrations:
            if m.name in applied:
                continue
            started = time.perf_counter()
            try:
                async with conn.transaction():
                    await conn.execute(m.sql)
                    # From 0013 on the schema belongs to alphaplus_owner: what a migration creates is
                    # handed over in the same transaction.
                    if await conn.fetchval(_HAND_OVER_EXISTS):
                        await conn.execute(_HAND_OVER)
                    await conn.execute(
                        "INSERT INTO schema_migrations (name, checksum, duration_ms) VALUES ($1, $2, $3)",
                        m.name,
                        m.checksum,
                        (time.perf_counter() - started) * 1000.0,
                    )
            except asyncpg.PostgresError as e:
                raise MigrationError(f"migration {m.name} failed and was rolled back: {e}") from e
            done.append(m.name)
        return done
    finally:
        if not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


def _check_history(migrations: list[Migration], applied: dict[str, str]) -> None:
    on_disk = {m.name: m for m in migrations}
    for name, checksum in applied.items():
        m = on_disk.get(name)
        if m is None:
            raise MigrationError(
                f"the database has migration {name}, which this version of alphaplus does not know; "
                "upgrade alphaplus before using this database"
            )
        if m.checksum != checksum:
            raise MigrationChecksumMismatch(
                f"migration {name} was edited after it was applied (database {checksum[:12]}, "
                f"file {m.checksum[:12]}); restore the file and add a new migration instead"
            )
