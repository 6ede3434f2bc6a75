"""``alphaplus db``: the embedded cluster, migrations and status."""

from __future__ import annotations

import typer

from alphaplus.cli.common import console, print_json, run, shown
from alphaplus.cli.tables import Column, show

app = typer.Typer(help="Database: start or stop the embedded cluster, migrate, show status.", no_args_is_help=True)


@app.command("up")
def up() -> None:
    """Start the embedded PostgreSQL (unless ALPHAPLUS_DATABASE_URL is set) and apply migrations."""
    from alphaplus.core.redaction import mask_secrets
    from db.migrate import migrate
    from db.pool import connect, resolve_dsn

    dsn = resolve_dsn()

    async def go() -> list[str]:
        conn = await connect(dsn)
        try:
            return await migrate(conn)
        finally:
            await conn.close()

    applied = run(go)
    console.print(f"database ready at {shown(mask_secrets(dsn))}; migrations applied now: {len(applied)}")


@app.command("down")
def down() -> None:
    """Stop the embedded PostgreSQL (its data stays under .alphaplus/pg)."""
    from alphaplus.core.settings import get_settings
    from db.embedded import EmbeddedPostgres

    settings = get_settings()
    if settings.database_url:
        console.print("ALPHAPLUS_DATABASE_URL is set: no embedded cluster to stop")
        return
    stopped = EmbeddedPostgres.for_home(settings.home).stop()
    console.print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply pending migrations (each once, in order, under an advisory lock)."""
    from db.migrate import migrate
    from db.pool import connect

    async def go() -> list[str]:
        conn = await connect()
        try:
            return await migrate(conn)
        finally:
            await conn.close()

    applied = run(go)
    console.print(f"applied: {', '.join(applied)}" if applied else "already up to date")


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables.")) -> None:
    """Show the storage mode (TimescaleDB or plain), applied migrations and row counts."""
    from alphaplus.core.redaction import mask_secrets
    from db.pool import connect, resolve_dsn
    from db.status import database_status

    dsn = resolve_dsn()

    async def go():
        conn = await connect(dsn)
        try:
            return await database_status(conn)
        finally:
            await conn.close()

    st = run(go)
    if as_json:
        print_json({"database": mask_secrets(dsn), **st.to_dict()})
        return
    console.print(f"database: {shown(mask_secrets(dsn))}  (PostgreSQL {shown(st.server_version)})")
    console.print(f"mode: {st.mode}" + (f"; hypertables: {', '.join(st.hypertables)}" if st.hypertables else ""))
    show([Column("migration"), Column("checksum", 1), Column("applied at")], st.migrations, wide=True,
         title="migrations")
    show([Column("table"), Column("rows", justify="right")], st.row_counts.items(), wide=True, title="row counts")
