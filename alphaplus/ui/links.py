"""Stable URLs of the dashboard's pages, and links into the Prefect UI.

Pure and light (standard library only): the CLI prints these links without loading the web stack.
Names are user input and may hold any character but control characters, '/' included, so every
path segment is percent-encoded whole, and pages read their segments from the raw request path.
"""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import quote, unquote_to_bytes, urlencode

SLOTS = "/slots"
VERSIONS = "/versions"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def segment(value: Any) -> str:
    """One path segment: every reserved character (including '/') percent-encoded."""
    return quote(str(value), safe="")


def slot_path(model_name: str, regime: str, symbol: str) -> str:
    """``/slots/{model}/{regime}/{symbol}``."""
    return f"{SLOTS}/{segment(model_name)}/{segment(regime)}/{segment(symbol)}"


def version_path(model_name: str, version: int) -> str:
    """``/versions/{model}/{version}``."""
    return f"{VERSIONS}/{segment(model_name)}/{int(version)}"


def with_query(path: str, params: Mapping[str, Any]) -> str:
    """``path`` with the params that are set (None and '' are left out) as its query string."""
    kept = [(k, str(v)) for k, v in params.items() if v is not None and v != ""]
    return f"{path}?{urlencode(kept)}" if kept else path


def absolute(base_url: str, path: str) -> str:
    """A page's full URL under the dashboard's base URL (``ALPHAPLUS_UI_URL``)."""
    return base_url.rstrip("/") + path


def path_segments(raw_path: bytes, prefix: str) -> list[str] | None:
    """The percent-decoded segments of a raw request path after ``prefix``; None when the path does
    not start with it or a segment is not UTF-8."""
    head = prefix.encode() + b"/"
    if not raw_path.startswith(head):
        return None
    try:
        return [unquote_to_bytes(part).decode("utf-8") for part in raw_path[len(head):].split(b"/")]
    except UnicodeDecodeError:
        return None


def flow_run_url(prefect_ui_url: str | None, flow_run_id: str | None) -> str | None:
    """The Prefect UI page of a flow run, when the UI's URL is known and the id is a flow run's UUID."""
    if not prefect_ui_url or not flow_run_id or not _UUID.match(flow_run_id):
        return None
    if not prefect_ui_url.startswith(("http://", "https://")):
        return None
    return f"{prefect_ui_url.rstrip('/')}/runs/flow-run/{flow_run_id.lower()}"
