"""The dashboard application: FastAPI with Jinja2 pages, static assets, security headers, and error
pages for everything that can go wrong (never a traceback).

Read-only by construction: only GET routes, no form changes anything, and the database sessions
start every transaction read-only (a reader login is all it needs).
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from alphaplus.core.errors import AlphaPlusError, DatabaseUnavailable, InvalidInput, NotFound
from alphaplus.core.redaction import mask_secrets
from alphaplus.core.settings import Settings, get_settings
from alphaplus.ui import charts, links, views
from alphaplus.ui.service import Dashboard

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

# No inline script or style anywhere: the theme switch is /static/theme.js, colours are classes.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)


class SecurityHeaders:
    """ASGI middleware: security headers on every response, pages never cached, the server time;
    an unexpected error becomes the 500 page here (logged, never shown)."""

    def __init__(self, app: Any, render_error: Any) -> None:
        self.app = app
        self.render_error = render_error

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        static = scope.get("path", "").startswith("/static/")
        response_started = False

        async def with_headers(message: dict) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                headers += SECURITY_HEADERS
                headers.append((b"cache-control", b"public, max-age=3600" if static else b"no-store"))
                headers.append((b"server-timing", f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            log.exception("dashboard: unexpected error on %s", scope.get("path"))
            if response_started:
                raise
            body = self.render_error(500, "Something went wrong on the server; its log has the details.")
            await with_headers({"type": "http.response.start", "status": 500,
                                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                            (b"content-length", str(len(body)).encode())]})
            await with_headers({"type": "http.response.body", "body": body})


def allowed_hosts(settings: Settings, bind_host: str | None) -> list[str]:
    """Host headers answered: loopback names, the bound address, and ALPHAPLUS_UI_ALLOWED_HOSTS.

    Checking the Host header keeps a web page elsewhere from reading the dashboard through DNS
    rebinding, though it is bound to loopback."""
    hosts = list(LOOPBACK_HOSTS)
    if bind_host and bind_host not in ("0.0.0.0", "::", ""):
        hosts.append(bind_host)
    hosts += [h.strip() for h in settings.ui_allowed_hosts.split(",") if h.strip()]
    return hosts


def _templates(prefect_ui_url: str | None) -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(
        slot_path=links.slot_path, version_path=links.version_path, with_query=links.with_query,
        with_page=lambda path, params, key, n: links.with_query(path, {**params, key: n}),
        flow_run_url=lambda run_id: links.flow_run_url(prefect_ui_url, run_id),
        sparkline=charts.sparkline, performance_chart=charts.performance_chart,
        timeline_chart=charts.timeline_chart, lineage_graph=charts.lineage_graph,
        version_class=charts.version_class,
    )
    env.filters.update(when=views.when, number=views.number, percent=views.percent, age=views.age)
    return Jinja2Templates(env=env)


_STATUS_TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
                  500: "Internal error", 503: "Database unavailable"}


def _error_context(status: int, message: str) -> dict[str, Any]:
    return {"status": status, "title": _STATUS_TITLES.get(status, "Error"), "message": message}


def _error_page(request: Request, status: int, message: str) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, "error.html", _error_context(status, message), status_code=status)


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        message = {404: "There is no page at this address.", 405: "This dashboard only reads: use GET."}.get(
            exc.status_code, str(exc.detail))
        return _error_page(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> HTMLResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in exc.errors())
        return _error_page(request, 400, f"Bad parameters: {problems}")

    @app.exception_handler(AlphaPlusError)
    async def domain_error(request: Request, exc: AlphaPlusError) -> HTMLResponse:
        if isinstance(exc, NotFound):
            return _error_page(request, 404, str(exc))
        if isinstance(exc, InvalidInput):
            return _error_page(request, 400, str(exc))
        if isinstance(exc, DatabaseUnavailable):
            return _error_page(request, 503, mask_secrets(str(exc)))
        log.error("dashboard: %s", mask_secrets(str(exc)))
        return _error_page(request, 500, mask_secrets(str(exc)))


def create_app(settings: Settings | None = None, *, database_url: str | None = None, bind_host: str | None = None,
               prefect_ui_url: str | None = None) -> FastAPI:
    """The dashboard on ``database_url`` (default: ALPHAPLUS_UI_DATABASE_URL, else the configured
    database). ``prefect_ui_url`` (default: PREFECT_UI_URL) links flow runs into the Prefect UI."""
    from alphaplus.ui import pages

    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        from db.pool import close_pools

        await close_pools()

    app = FastAPI(title="AlphaPlus registry", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.dashboard = Dashboard(settings, database_url)
    app.state.templates = _templates(prefect_ui_url if prefect_ui_url is not None else os.environ.get("PREFECT_UI_URL"))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)
    app.add_api_route("/favicon.ico", lambda: RedirectResponse("/static/favicon.svg", status_code=301),
                      include_in_schema=False)
    _install_error_pages(app)
    hosts = allowed_hosts(settings, bind_host)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["*"] if "*" in hosts else hosts)
    # Added last, so outermost: refused hosts and error pages carry the headers too.
    error_template = app.state.templates.env.get_template("error.html")

    def render_error(status: int, message: str) -> bytes:
        return error_template.render(_error_context(status, message)).encode()

    app.add_middleware(SecurityHeaders, render_error=render_error)
    return app
