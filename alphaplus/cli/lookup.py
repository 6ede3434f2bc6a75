"""Resolving what an operator names on the command line: version numbers, models and slots.

Each check fails with one line that says what exists instead, so a typo is fixed without a second
command.
"""

from __future__ import annotations

from alphaplus.core.errors import InvalidInput, NotFound, VersionNotFound


def parse_version(text: str) -> int:
    """A version number from the command line (taken as text so a typo is a one-line error)."""
    from alphaplus.core.validation import check_version_number, quoted

    try:
        number = int(text.strip())
    except ValueError:
        raise InvalidInput(f"version must be a whole number such as 3, not {quoted(text)}") from None
    return check_version_number(number)


async def require_version(pool, model_name: str, version: int) -> None:
    """Raise ModelNotFound or VersionNotFound (naming the latest version) unless the version exists."""
    from db.catalog import require_model

    latest = await require_model(pool, model_name)
    if version > latest:
        raise VersionNotFound(f"version {version} of {model_name} does not exist; the latest is {latest}")


async def require_slot(pool, model_name: str, regime: str, symbol: str) -> None:
    """Raise unless the model is registered and has versions for (regime, symbol)."""
    from db.catalog import model_slots, require_model

    await require_model(pool, model_name)
    slots = await model_slots(pool, model_name)
    if (regime, symbol) not in slots:
        known = ", ".join(f"{r}/{s}" for r, s in slots) or "none"
        raise NotFound(f"{model_name} has no version for regime {regime!r}, symbol {symbol!r}; its slots are: {known}")
