"""The dashboard's pages: Overview, Slot, Version, Rollbacks and Audit. GET only.

Slot and version pages read their names from the raw request path (alphaplus.ui.links), so a
name holding '/', '?' or '%' still has one stable URL.
"""

from __future__ import annotations

from typing import Any, Mapping

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from alphaplus.core.errors import InvalidInput, NotFound
from alphaplus.ui import links, views
from alphaplus.ui.service import CHART_WINDOWS, MAX_CHART_WINDOWS, Dashboard

router = APIRouter()
ROLLBACK_TYPES = ("automatic", "manual", "on_failure")
ROLLBACK_OUTCOMES = ("executed", "no_safe_candidate", "aborted", "dry_run")
AUDIT_EVENTS = ("registered", "status_changed", "production_moved", "quarantined")


def _text():
    # A Query object per parameter: FastAPI binds one to the parameter it is declared for.
    return Query(None, max_length=200)


def _page():
    return Query(1, ge=1, le=100_000)


def _dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard


def _render(request: Request, template: str, context: Mapping[str, Any]) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, template, dict(context))


def _segments(request: Request, prefix: str, count: int, what: str) -> list[str]:
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    parts = links.path_segments(raw, prefix)
    if parts is None or len(parts) != count or not all(parts):
        raise NotFound(f"a {what} address is {prefix}/" + "/".join(["…"] * count))
    return parts


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    value = _blank(value)
    if value is not None and value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}, not {value[:40]!r}")
    return value


def _position(before: str | None, after: str | None):
    """The list position of ?before= (older rows) or ?after= (newer rows), or None: the newest."""
    before, after = _blank(before), _blank(after)
    if before and after:
        raise InvalidInput("give either before or after, not both")
    text = before or after
    if text is None:
        return None
    try:
        ts, ident = views.parse_cursor(text)
    except ValueError:
        raise InvalidInput(f"{text[:60]!r} is not a list position") from None
    return ts, ident, after is not None


def _paging(request: Request, rows: list[dict[str, Any]], has_newer: bool, has_older: bool) -> views.Page:
    params = {k: v for k, v in request.query_params.items() if k not in ("before", "after")}
    base = request.url.path
    newer = links.with_query(base, {**params, "after": views.cursor_text(rows[0])}) if has_newer and rows else None
    older = links.with_query(base, {**params, "before": views.cursor_text(rows[-1])}) if has_older and rows else None
    if has_newer and not rows:
        newer = links.with_query(base, params)
    return views.Page(newer, older)


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, model: str | None = _text(), page: int = _page()) -> HTMLResponse:
    data = await _dashboard(request).overview(model_filter=_blank(model), page=page)
    return _render(request, "overview.html", {**data, "model_filter": _blank(model) or ""})


@router.get("/slots/{rest:path}", response_class=HTMLResponse)
async def slot(request: Request, rest: str, versions_page: int = _page(), comparisons_page: int = _page(),
               windows: int = Query(CHART_WINDOWS, ge=10, le=MAX_CHART_WINDOWS)) -> HTMLResponse:
    model_name, regime, symbol = _segments(request, links.SLOTS, 3, "slot")
    data = await _dashboard(request).slot(model_name, regime, symbol, versions_page=versions_page,
                                          comparisons_page=comparisons_page, windows=windows)
    settings = _dashboard(request).settings
    thresholds = {"error_rate": settings.rollback_error_rate, "max_psi": settings.rollback_psi}
    return _render(request, "slot.html", {
        **data, "model_name": model_name, "regime": regime, "symbol": symbol, "windows": windows,
        "versions_page": versions_page, "comparisons_page": comparisons_page, "page_size": settings.ui_page_size,
        "thresholds": thresholds,
    })


@router.get("/versions/{rest:path}", response_class=HTMLResponse)
async def version(request: Request, rest: str) -> HTMLResponse:
    model_name, number = _segments(request, links.VERSIONS, 2, "version")
    if not number.isdigit() or not 0 < int(number) < 2**31:
        raise NotFound(f"{number[:40]!r} is not a version number")
    data = await _dashboard(request).version(model_name, int(number))
    return _render(request, "version.html", data)


@router.get("/rollbacks", response_class=HTMLResponse)
async def rollbacks(request: Request, model: str | None = _text(), regime: str | None = _text(),
                    symbol: str | None = _text(), type: str | None = _text(), outcome: str | None = _text(),
                    before: str | None = _text(), after: str | None = _text()) -> HTMLResponse:
    filters = {"model_name": _blank(model), "regime": _blank(regime), "symbol": _blank(symbol),
               "rollback_type": _choice("type", type, ROLLBACK_TYPES),
               "outcome": _choice("outcome", outcome, ROLLBACK_OUTCOMES)}
    rows, has_newer, has_older = await _dashboard(request).rollbacks(filters, _position(before, after))
    return _render(request, "rollbacks.html", {
        "rows": rows, "filters": filters, "paging": _paging(request, rows, has_newer, has_older),
        "types": ROLLBACK_TYPES, "outcomes": ROLLBACK_OUTCOMES,
    })


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request, model: str | None = _text(), regime: str | None = _text(),
                symbol: str | None = _text(), version: str | None = _text(), event: str | None = _text(),
                actor: str | None = _text(), before: str | None = _text(), after: str | None = _text()) -> HTMLResponse:
    number = _blank(version)
    if number is not None and (not number.isdigit() or not 0 < int(number) < 2**31):
        raise InvalidInput(f"version must be a whole number such as 3, not {number[:40]!r}")
    filters = {"model_name": _blank(model), "regime": _blank(regime), "symbol": _blank(symbol),
               "version": None if number is None else int(number), "event": _choice("event", event, AUDIT_EVENTS),
               "actor": _blank(actor)}
    rows, has_newer, has_older = await _dashboard(request).audit(filters, _position(before, after))
    return _render(request, "audit.html", {
        "rows": rows, "filters": filters, "paging": _paging(request, rows, has_newer, has_older),
        "events": AUDIT_EVENTS,
    })
