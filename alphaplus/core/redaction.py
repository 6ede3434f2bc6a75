"""Keeps secrets out of output: database URLs are shown with their password masked."""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qsl, quote, unquote, urlsplit

# scheme://user:SECRET@host — the secret runs to the LAST '@' of the token, so a password holding
# an unescaped '@' is masked whole rather than cut at its first '@'.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<secret>\S*)(?P<tail>@)", re.I)
# password=..., sslpassword=..., "password": "...", password: ... (libpq keywords, JSON, reprs).
_KEYWORD_PASSWORD = re.compile(
    r"""(?P<head>\b(?:ssl)?password['"]?\s*[=:]\s*)(?P<secret>'[^']*'|"[^"]*"|[^\s,;&)}]+)""", re.I
)
# Secrets seen while resolving the database URL are masked wherever they appear, also alone
# (a driver message could quote a password without its URL). Very short ones are skipped: masking
# every "ab" in a message would hide more than it protects.
_MIN_KNOWN_LENGTH = 4
_known: set[str] = set()
_known_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` (and its URL-escaped and unescaped forms) in everything mask_secrets sees."""
    if not value:
        return
    forms = {value, unquote(value), quote(value, safe="")}
    with _known_lock:
        _known.update(f for f in forms if len(f) >= _MIN_KNOWN_LENGTH)


def register_url_secrets(url: str) -> None:
    """Register the password of a database URL (userinfo or ``?password=``) as a known secret."""
    try:
        parts = urlsplit(url)
        register_secret(parts.password)
        for key, value in parse_qsl(parts.query):
            if key.lower() in ("password", "sslpassword"):
                register_secret(value)
    except ValueError:
        # An unparsable URL: the patterns in mask_secrets still apply to it.
        pass


def mask_secrets(text: str) -> str:
    """Return ``text`` with passwords in URLs and ``password=...`` pairs replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}***{m['tail']}", text)
    text = _KEYWORD_PASSWORD.sub(lambda m: f"{m['head']}***", text)
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "***")
    return text
