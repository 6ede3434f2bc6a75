"""The migration runner against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys

import pytest

from alphaplus.core.errors import MigrationChecksumMismatch, MigrationError
from db.migrate import MIGRATIONS_DIR, load_migrations, migrate
from db.pool import connect


async def test_migrating_twice_applies_nothing_the_second_time(make_database):
    url = await make_database()
    conn = await connect(url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        recorded = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await conn.close()
    assert first == [m.name for m in load_migrations()]
    assert second == []
    assert recorded == len(first)


async def test_two_concurrent_migrator_processes_apply_each_file_once(make_database):
    url = await make_database()
    env = {**os.environ, "ALPHAPLUS_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "alphaplus", "db", "migrate"]
    procs = [
        await asyncio.create_subprocess_exec(*cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    conn = await connect(url)
    try:
        rows = await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")
    finally:
        await conn.close()
    assert [r["name"] for r in rows] == [m.name for m in load_migrations()]
    outputs = [out.decode() for out, _ in results]
    assert sum("already up to date" in o for o in outputs) == 1


async def test_an_edited_applied_migration_is_refused(make_database, tmp_path):
    url = await make_database()
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    conn = await connect(url)
    try:
        await migrate(conn, folder)
        first = sorted(folder.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited after release\n")
        with pytest.raises(MigrationChecksumMismatch, match="was edited after it was applied"):
            await migrate(conn, folder)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind(make_database, tmp_path):
    url = await make_database()
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    (folder / "9999_broken.sql").write_text("CREATE TABLE half_made (x int);\nSELECT 1/0;\n")
    conn = await connect(url)
    try:
        with pytest.raises(MigrationError, match="9999_broken.sql failed and was rolled back"):
            await migrate(conn, folder)
        assert await conn.fetchval("SELECT to_regclass('half_made')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE name = '9999_broken.sql'") == 0
    finally:
        await conn.close()
