"""The PostgreSQL database of the Prefect server: its URL, derived from AlphaPlus's, created if missing.

The Prefect server keeps its own tables in a separate database (``prefect``) on the same PostgreSQL
server as AlphaPlus (ALPHAPLUS_DATABASE_URL, or the embedded cluster), so one server holds both and
neither schema sees the other. A PREFECT_API_DATABASE_CONNECTION_URL already set wins unchanged.

    python -m deployments.server_db -- prefect server start --host 127.0.0.1   # run with the URL set
    python -m deployments.server_db --print                                    # print the URL
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PREFECT_DATABASE = "prefect"
URL_VARIABLE = "PREFECT_API_DATABASE_CONNECTION_URL"


def prefect_database_url(alphaplus_dsn: str, database: str = PREFECT_DATABASE) -> str:
    """The SQLAlchemy URL (postgresql+asyncpg) of ``database`` on the server of ``alphaplus_dsn``."""
    parts = urlsplit(alphaplus_dsn)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a PostgreSQL URL (scheme {parts.scheme!r})")
    # SQLAlchemy's asyncpg dialect takes libpq's sslmode as `ssl`; other libpq options do not apply.
    query = [("ssl", v) if k == "sslmode" else (k, v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(("postgresql+asyncpg", parts.netloc, f"/{database}", urlencode(query), ""))


def _createdb_binary() -> str:
    from db.embedded import find_bin_dir

    try:
        candidate = find_bin_dir() / "createdb"
        if candidate.exists():
            return str(candidate)
    except Exception:  # noqa: BLE001 - no server binaries here: look for the client on PATH
        pass
    found = shutil.which("createdb")
    if not found:
        raise SystemExit(f"createdb not found: create the database {PREFECT_DATABASE!r} by hand, "
                         f"or set {URL_VARIABLE}")
    return found


def ensure_database(alphaplus_dsn: str, database: str = PREFECT_DATABASE) -> None:
    """Create ``database`` on the server of ``alphaplus_dsn`` unless it exists (via createdb: no SQL here)."""
    # --maintenance-db takes a full connection string: host, port, user and password come from it.
    result = subprocess.run(
        [_createdb_binary(), f"--maintenance-db={alphaplus_dsn}", database],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if result.returncode != 0 and "already exists" not in result.stderr:
        from alphaplus.core.redaction import mask_secrets

        raise SystemExit(f"could not create the database {database!r}: {mask_secrets(result.stderr.strip())}")


def resolve_url() -> str:
    """PREFECT_API_DATABASE_CONNECTION_URL if set, else the ``prefect`` database next to AlphaPlus's."""
    if os.environ.get(URL_VARIABLE):
        return os.environ[URL_VARIABLE]
    from db.pool import resolve_dsn

    dsn = resolve_dsn()  # starts the embedded cluster when no database is configured
    ensure_database(dsn)
    return prefect_database_url(dsn)


def main(argv: list[str] | None = None) -> None:
    """``--print``: print the URL; ``-- COMMAND...``: run COMMAND with the URL in its environment."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--print"]:
        print(resolve_url())
        return
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        raise SystemExit("usage: python -m deployments.server_db (--print | -- COMMAND [ARGS...])")
    env = {**os.environ, URL_VARIABLE: resolve_url()}
    # exec: the command becomes this process, so signals from make or a terminal reach it directly.
    os.execvpe(args[0], args, env)


if __name__ == "__main__":
    main()
