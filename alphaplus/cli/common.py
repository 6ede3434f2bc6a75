"""What every CLI command shares: running coroutines, JSON output, one-line errors."""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from typing import Any, Awaitable, Callable, TypeVar

from rich.console import Console

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def run(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion, closing this loop's database pools afterwards."""

    async def wrapper() -> T:
        from db.pool import close_pools

        try:
            return await make()
        finally:
            await close_pools()

    return asyncio.run(wrapper())


def printable(value: object, limit: int | None = 300) -> str:
    """Text that cannot act on a terminal: control and invisible characters (ESC, bidirectional
    overrides, newlines) shown as escapes such as ``\\x1b``; more than ``limit`` characters cut."""
    from alphaplus.core.validation import is_unsafe_char

    text = value if isinstance(value, str) else str(value)
    cut = limit is not None and len(text) > limit
    if cut:
        text = text[:limit]
    text = "".join(ch.encode("unicode_escape").decode("ascii") if is_unsafe_char(ch) else ch for ch in text)
    return text + (f"... ({len(value if isinstance(value, str) else str(value)):,} characters)" if cut else "")


def shown(value: object, limit: int | None = 300) -> str:
    """A value from the database or the command line, ready for Rich: ``printable``, and with Rich
    markup escaped (a reason holding ``[/bold]`` is text, not a tag)."""
    from rich.markup import escape

    return escape(printable(value, limit))


def _json_value(value: Any) -> Any:
    # A numeric column (model_artifact_size_mb) stays a number; dates, UUIDs and the rest are text.
    return float(value) if isinstance(value, Decimal) else str(value)


def print_json(data: Any) -> None:
    """Machine-readable output for ``--json``."""
    sys.stdout.write(json.dumps(data, indent=2, default=_json_value) + "\n")


WIDE_HELP = "Show every column (the default fits the terminal's width)."


def json_option_help() -> str:
    return "Print JSON instead of a table."
