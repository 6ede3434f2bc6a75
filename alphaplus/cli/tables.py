"""Tables that fit the terminal: columns chosen by priority for its width (all with ``--wide``), cells
cut with an ellipsis instead of wrapping, and text from the database shown inert (no markup, no
terminal control sequences)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from rich.table import Table
from rich.text import Text

from alphaplus.cli.common import printable

# Per column: one space of padding each side and one rule; one more rule closes the row.
_CELL_FRAME = 3


@dataclass(frozen=True)
class Column:
    """A table column; ``rank`` orders what is kept on a narrow terminal (0 first); a ``wrap`` column's
    long cells fold onto more lines instead of being cut."""

    header: str
    rank: int = 0
    max_width: int | None = None
    justify: str = "left"
    wrap: bool = False


def fitting(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """Indexes of the columns shown at ``width``: by rank while they fit, in their own order."""
    need = [min(c.max_width or 10**6, max([len(c.header), *(len(r[i]) for r in rows)]))
            for i, c in enumerate(columns)]
    chosen: list[int] = []
    used = 1
    for i in sorted(range(len(columns)), key=lambda i: (columns[i].rank, i)):
        if chosen and used + need[i] + _CELL_FRAME > width:
            continue
        chosen.append(i)
        used += need[i] + _CELL_FRAME
    return sorted(chosen)


def table(
    columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, width: int, wide: bool = False,
    title: str | None = None,
) -> Table:
    """A Rich table of ``rows`` with the columns that fit ``width`` (every column when ``wide``)."""
    # Cells are Rich Text (no markup), made printable: stored text cannot act on the terminal.
    cells = [[printable("" if v is None else v, None) for v in row] for row in rows]
    shown = list(range(len(columns))) if wide else fitting(columns, cells, width)
    hidden = len(columns) - len(shown)
    caption = f"{hidden} more column(s) with --wide" if hidden else None
    out = Table(title=title, caption=caption)
    for i in shown:
        c = columns[i]
        folds = wide or c.wrap
        out.add_column(c.header, justify=c.justify, no_wrap=not folds, overflow="fold" if folds else "ellipsis",
                       max_width=None if wide else c.max_width)
    for row in cells:
        out.add_row(*(Text(row[i]) for i in shown))
    return out


def show(columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, wide: bool, title: str | None = None) -> None:
    """Print the table at the terminal's width (see :func:`table`)."""
    from alphaplus.cli.common import console

    console.print(table(columns, rows, width=console.width, wide=wide, title=title))
