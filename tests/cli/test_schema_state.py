"""Commands meeting a database without the schema, or behind the code's migrations, say what to do."""

from __future__ import annotations

import shutil

import pytest

from alphaplus.cli.main import main
from alphaplus.core.settings import get_settings


@pytest.fixture
async def database_at(request, make_database, tmp_path) -> str:
    """A new database with only the first ``request.param`` of the code's migrations applied."""
    from db.migrate import MIGRATIONS_DIR, migrate
    from db.pool import connect

    url = await make_database()
    if request.param:
        for path in sorted(MIGRATIONS_DIR.glob("*.sql"))[:request.param]:
            shutil.copy(path, tmp_path / path.name)
        conn = await connect(url)
        try:
            await migrate(conn, tmp_path)
        finally:
            await conn.close()
    return url


@pytest.mark.parametrize("database_at, expected", [
    (0, "error: the database has no AlphaPlus schema: run `alphaplus db migrate`"),
    (3, "error: the database is behind this code by "),
], indirect=["database_at"])
def test_a_command_on_an_unmigrated_or_old_database_names_the_migrate_command(
    database_at, monkeypatch, capsys, expected
):
    url = database_at
    monkeypatch.setenv("ALPHAPLUS_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        code = main(["data", "synth", "--symbol", "BTCUSDT", "--bars", "50", "--json"])
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith(expected) and "\n" not in err, err
    assert "alphaplus db migrate" in err


def test_a_missing_table_is_reported_as_a_schema_to_migrate_not_a_raw_database_error():
    import asyncpg

    from alphaplus.core.errors import SchemaOutOfDate
    from db.errors import translate

    error = translate(asyncpg.UndefinedTableError('relation "candles" does not exist'))
    assert isinstance(error, SchemaOutOfDate)
    assert 'relation "candles" does not exist' in str(error) and "alphaplus db migrate" in str(error)
