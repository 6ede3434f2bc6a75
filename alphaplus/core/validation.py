"""What AlphaPlus accepts from outside: one rule each for names, hashes, reasons and JSON documents.

Every boundary (the CLI, the registry and rollback services, flow parameters) checks its input with
these functions before a transaction starts, and refuses with one line that quotes at most a short,
escaped prefix of the offending value. The database holds the same limits as CHECK constraints
(migration 0012), so raw SQL cannot store forever what the code would refuse.

- A **name** (model, regime, symbol): ASCII letters and digits and ``. _ - : = ^``, starting with a
  letter, a digit or ``^`` (``^GSPC``); at most 64 characters (model names 200). No slashes, spaces, control or
  invisible characters, so a name is never a path, never reorders or clears a terminal, and reads
  the same everywhere.
- A **hash**: ``algorithm:hexdigest`` in lower case (``xxh3_128:…``, ``sha256:…``), 16 to 128 hex digits.
- A **reason** (and who a change is made for): printable text without control characters, at most
  2,000 characters (200 for ``on_behalf_of``). Text composed by the code from other messages is made
  to fit with ``one_line``.
- A **JSON document** (metrics, metadata, audit context): at most 256 KiB once encoded.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Mapping

from alphaplus.core.errors import InvalidInput

NAME_PATTERN = r"[A-Za-z0-9^][A-Za-z0-9._:=^-]*"
MODEL_NAME_MAX = 200
NAME_MAX = 64
HASH_PATTERN = r"[a-z0-9_]{1,16}:[0-9a-f]{16,128}"
REASON_MAX = 2000
ON_BEHALF_OF_MAX = 200
DOCUMENT_MAX_BYTES = 256 * 1024
# The largest version number PostgreSQL's integer holds.
VERSION_MAX = 2_147_483_647

_NAME = re.compile(NAME_PATTERN)
_HASH = re.compile(HASH_PATTERN)
# Characters that move the cursor, clear the screen, reorder text or hide themselves: C0/C1 control
# characters and the invisible format characters (bidirectional overrides, zero-width joiners, ...).
_UNSAFE_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def quoted(value: object, limit: int = 40) -> str:
    """A short, escaped rendering of a refused value for an error message (never the whole value)."""
    text = value if isinstance(value, str) else str(value)
    shown = repr(text[:limit])
    return shown + (f"... ({len(text)} characters)" if len(text) > limit else "")


def is_unsafe_char(ch: str) -> bool:
    """True for characters that must not reach a terminal or a stored reason unescaped."""
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def check_name(kind: str, value: object, *, max_length: int = NAME_MAX) -> str:
    """``value`` if it is a valid name of this kind; else InvalidInput naming the rule."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{kind} must not be empty")
    if len(value) > max_length:
        raise InvalidInput(f"{kind} {quoted(value)} is too long: at most {max_length} characters")
    if not _NAME.fullmatch(value):
        raise InvalidInput(
            f"{kind} {quoted(value)} is not a valid name: use ASCII letters, digits and . _ - : = ^, "
            "starting with a letter, a digit or ^"
        )
    return value


def check_model_name(value: object) -> str:
    return check_name("model name", value, max_length=MODEL_NAME_MAX)


def check_slot_names(model_name: object, regime: object, symbol: object) -> None:
    """The three names of a slot."""
    check_model_name(model_name)
    check_name("regime", regime)
    check_name("symbol", symbol)


def check_hash(value: object, kind: str = "training-data hash") -> str:
    """``value`` if it reads ``algorithm:hexdigest`` (lower case); else InvalidInput."""
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise InvalidInput(
            f"{kind} {quoted(value)} is not a hash: expected algorithm:hexdigest such as "
            "xxh3_128:0123456789abcdef0123456789abcdef (as `alphaplus versions lineage` shows it)"
        )
    return value


def check_text(kind: str, value: object, *, max_length: int = REASON_MAX, required: bool = True) -> str:
    """Free text a person gives (a reason, who a change is for): printable, bounded, not blank."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{kind} must be text")
    if required and not value.strip():
        raise InvalidInput(f"{kind} must not be empty")
    if len(value) > max_length:
        raise InvalidInput(f"{kind} is {len(value)} characters long: at most {max_length}")
    bad = next((ch for ch in value if is_unsafe_char(ch)), None)
    if bad is not None:
        raise InvalidInput(
            f"{kind} {quoted(value)} contains the control or invisible character U+{ord(bad):04X}; "
            "write it on one line of plain text"
        )
    return value


def check_reason(value: object, *, required: bool = True) -> str:
    return check_text("reason", value, required=required)


def check_on_behalf_of(value: object) -> str | None:
    if value is None:
        return None
    return check_text("on_behalf_of", value, max_length=ON_BEHALF_OF_MAX, required=False) or None


def one_line(text: object, max_length: int = REASON_MAX) -> str:
    """Text composed from other messages (a failure message, gate reasons) made into a valid reason:
    control and invisible characters become spaces, runs of spaces one, cut to ``max_length``."""
    cleaned = "".join(" " if is_unsafe_char(ch) else ch for ch in str(text))
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > max_length:
        cleaned = cleaned[: max_length - 3].rstrip() + "..."
    return cleaned


def check_document(kind: str, value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A JSON object within the size limit (NaN and infinities refused: JSON cannot hold them)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{kind} must be a JSON object, not {type(value).__name__}")
    try:
        size = len(json.dumps(value, allow_nan=False, default=str).encode("utf-8"))
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{kind} is not valid JSON: {str(e)[:200]}") from None
    if size > DOCUMENT_MAX_BYTES:
        raise InvalidInput(f"{kind} is {size:,} bytes as JSON: at most {DOCUMENT_MAX_BYTES:,}")
    return value


def check_version_number(value: object) -> int:
    """A version number: a whole number from 1 to 2,147,483,647."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"version must be a whole number, not {quoted(value)}")
    if value < 1:
        raise InvalidInput(f"version numbers start at 1; {value} is not one")
    if value > VERSION_MAX:
        raise InvalidInput(f"version {quoted(value, 20)} is beyond the largest version number, {VERSION_MAX:,}")
    return value
