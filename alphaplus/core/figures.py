"""Numbers printed side by side in a message: two different numbers never print alike.

A message such as "roc_auc 0.520 is below the floor of 0.520" contradicts itself: both numbers were
rounded to the same text.  ``pair`` prints two numbers with the usual number of digits and adds digits
until different numbers print differently (equal numbers print alike).  Pure: no I/O.
"""

from __future__ import annotations

import math
from typing import Literal

Style = Literal["f", "%", "g"]
# Beyond this many digits, doubles that still print alike differ only in noise.
_MAX_DIGITS = 15


def figure(x: float | None, digits: int = 3, *, style: Style = "f", sign: bool = False) -> str:
    """One number: ``digits`` decimals ("f"), decimals of a percentage ("%") or significant digits ("g")."""
    if x is None:
        return "none"
    x = float(x)
    if not math.isfinite(x):
        return "not a number" if math.isnan(x) else ("+inf" if x > 0 else "-inf")
    return format(x, f"{'+' if sign else ''}.{digits}{style}")


def pair(
    a: float | None, b: float | None, digits: int = 3, *, style: Style = "f", sign: bool = False
) -> tuple[str, str]:
    """(text of a, text of b) with at least ``digits`` digits, and as many more as it takes for two
    different numbers to print differently."""
    for d in range(digits, max(digits, _MAX_DIGITS) + 1):
        shown = figure(a, d, style=style, sign=sign), figure(b, d, style=style, sign=sign)
        if shown[0] != shown[1] or a is None or b is None or float(a) == float(b):
            return shown
    return shown
