"""Keeps secrets out of output: database URLs are shown with their password masked."""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@\s]*)(?P<tail>@)", re.I)
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<secret>'[^']*'|\S+)", re.I)


def mask_secrets(text: str) -> str:
    """Return ``text`` with passwords in URLs and ``password=...`` pairs replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}***{m['tail']}", text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m['head']}***", text)
