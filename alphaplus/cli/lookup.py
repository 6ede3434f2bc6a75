"""Reading what an operator names on the command line. Whether a model, version or slot exists is the
registry's to say (Registry.require_model, require_version, require_slot): one line naming what exists."""

from __future__ import annotations

from alphaplus.core.errors import InvalidInput


def parse_version(text: str) -> int:
    """A version number from the command line (taken as text so a typo is a one-line error)."""
    from alphaplus.core.validation import check_version_number, quoted

    try:
        number = int(text.strip())
    except ValueError:
        raise InvalidInput(f"version must be a whole number such as 3, not {quoted(text)}") from None
    return check_version_number(number)
