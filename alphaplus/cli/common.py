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


def _json_value(value: Any) -> Any:
    # A numeric column (model_artifact_size_mb) stays a number; dates, UUIDs and the rest are text.
    return float(value) if isinstance(value, Decimal) else str(value)


def print_json(data: Any) -> None:
    """Machine-readable output for ``--json``."""
    sys.stdout.write(json.dumps(data, indent=2, default=_json_value) + "\n")


def json_option_help() -> str:
    return "Print JSON instead of a table."
