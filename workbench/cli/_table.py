"""Tables that fit the terminal: short cells never wrap, and optional columns go before a name would fold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console, JustifyMethod, RenderableType
from rich.measure import Measurement
from rich.table import Table

__all__ = ["Column", "print_table"]


@dataclass(frozen=True)
class Column:
    """One column. fold_to: the width its cells (names, paths, messages) may fold to before an optional
    column is dropped instead; None: its cells (numbers, states, short words) stay on one line."""

    name: str
    fold_to: int | None = None
    right: bool = False


def print_table(
    console: Console,
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[RenderableType]],
    optional: Sequence[str] = (),
    caption: str | None = None,
) -> None:
    """Print `rows` (one cell per column) under `columns`, leaving out the `optional` columns, the first
    first, while the table would not fit the console with its folding columns at their `fold_to` widths.
    When even that does not fit, the folding columns fold further."""
    dropped: set[str] = set()
    unbounded = console.options.update_width(10**6)  # the width a table wants, not the width it is given
    for name in optional:
        wanted = Measurement.get(console, unbounded, _table(title, columns, rows, dropped, caption, folded=True))
        if wanted.maximum <= console.width:
            break
        dropped.add(name)
    console.print(_table(title, columns, rows, dropped, caption, folded=False))


def _table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[RenderableType]],
    dropped: set[str],
    caption: str | None,
    folded: bool,
) -> Table:
    table = Table(title=title, caption=caption)
    shown = [i for i, column in enumerate(columns) if column.name not in dropped]
    for i in shown:
        column = columns[i]
        justify: JustifyMethod = "right" if column.right else "left"
        if column.fold_to is None:
            table.add_column(column.name, no_wrap=True, justify=justify)
        else:
            table.add_column(
                column.name, overflow="fold", justify=justify, max_width=column.fold_to if folded else None
            )
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table
