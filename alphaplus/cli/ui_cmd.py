"""``alphaplus ui``: serve the read-only registry dashboard.

The web stack (FastAPI, Jinja2, uvicorn) is imported only when the command runs, so the other
commands start without it.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys

import typer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port_free(host: str, port: int) -> None:
    from alphaplus.core.errors import InvalidInput

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise InvalidInput(f"port {port} on {host} is in use; choose another with --port") from None
            raise InvalidInput(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def ui(
    host: str = typer.Option(DEFAULT_HOST, "--host", help="Address to listen on (loopback by default; "
                                                          "see the README before exposing it)."),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to listen on."),
) -> None:
    """Serve the read-only registry dashboard: slots, timelines, lineage and live quality in a browser."""
    from alphaplus.core.errors import InvalidInput

    if not 0 < port < 65536:
        raise InvalidInput(f"--port must be between 1 and 65535, not {port}")
    _check_port_free(host, port)

    from alphaplus.cli.common import run
    from alphaplus.core.redaction import mask_secrets
    from alphaplus.core.settings import get_settings
    from db.pool import resolve_dsn

    settings = get_settings()
    dsn = settings.ui_database_url or resolve_dsn(settings)

    async def check():
        from db.dashboard import SESSION, login_facts
        from db.pool import get_pool

        return await login_facts(await get_pool(dsn, settings, session=SESSION))

    facts = run(check)
    shown_host = f"[{host}]" if ":" in host else host
    print(f"dashboard: http://{shown_host}:{port}/  (database {mask_secrets(dsn)} as {facts['login']}, "
          "read-only sessions; Ctrl-C stops it)", flush=True)
    if facts["can_write"]:
        print(f"note: login {facts['login']} may change the registry; the dashboard only reads, and a login in "
              "alphaplus_reader is enough (ALPHAPLUS_UI_DATABASE_URL)", file=sys.stderr)
    if not _is_loopback(host):
        print(f"warning: listening on {host}, beyond this machine, without TLS or authentication; put it behind a "
              "reverse proxy that adds both (README, Dashboard)", file=sys.stderr)

    import uvicorn

    from alphaplus.ui.app import create_app

    app = create_app(settings, database_url=dsn, bind_host=host)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False, access_log=False)


def register(app: typer.Typer) -> None:
    """Add ``ui`` to the ``alphaplus`` command."""
    app.command("ui")(ui)
