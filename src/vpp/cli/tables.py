"""Tables that fit the terminal: a number is never cut, text folds, and where even folded
text would be too narrow to read, optional columns are left out, the least needed first.

Rich fits a table wider than the console by wrapping and then cutting cells with an
ellipsis, numbers included ("2,493.…" for a payment of 2,493.96 CNY). Here the widths are
set beforehand: a number column is as wide as its widest cell (its header wraps instead),
text columns share what is left, and a table that cannot fit even so is printed wider than
the console (the terminal wraps its lines) rather than cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

#: Narrowest a text column is let fold to before optional columns are left out [chars]:
#: most ids (enterprises, events) are whole at this width.
TEXT_MIN_CHARS = 20
#: Narrowest a text column folds to at all, the optional columns gone [chars].
TEXT_FLOOR_CHARS = 6
#: Between two columns in the compact style: one space of padding and the divider [chars].
GAP_CHARS = 2
#: What the table adds at its two edges [chars].
EDGE_CHARS = 2


@dataclass(frozen=True)
class Column:
    """One column: its header, whether it holds numbers (right-justified, never cut), and
    how readily it is left out when the table does not fit (0: never; the highest goes
    first)."""

    header: str
    numeric: bool = True
    optional: int = 0


def fitted_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    width: int,
    total: Sequence[str] | None = None,
    row_styles: Sequence[str | None] | None = None,
    **table_options: Any,
) -> Table:
    """``rows`` (each in its ``row_styles`` style, if given) and a bold ``total`` row after
    a rule in a compact table at most ``width`` characters wide where it can be (module
    docstring). ``table_options`` go to rich's Table (title, caption)."""
    every = [*rows, *([total] if total is not None else [])]
    widest = [
        max((Text.from_markup(c).cell_len for c in col), default=0)
        for col in zip(*every, strict=True)
    ]
    widest = widest or [0] * len(columns)
    header_words = [_longest_word(c.header) for c in columns]
    number_width = {i: max(widest[i], header_words[i]) for i, c in enumerate(columns) if c.numeric}
    kept = list(range(len(columns)))
    text_width = {
        i: min(TEXT_MIN_CHARS, max(widest[i], header_words[i]))
        for i, c in enumerate(columns)
        if not c.numeric
    }
    while _least_width(number_width | text_width, kept) > width:
        optional = [i for i in kept if columns[i].optional > 0]
        if not optional:
            break
        kept.remove(max(optional, key=lambda i: (columns[i].optional, i)))
    widths = _text_widths(columns, kept, widest, number_width, width)
    natural = sum(widths.values()) + GAP_CHARS * (len(kept) - 1) + EDGE_CHARS
    for i in kept:  # room to spare: number headers on one line each, left to right
        if columns[i].numeric and natural < width:
            wider = min(_header_line(columns[i].header) - widths[i], width - natural)
            if wider > 0:
                widths[i] += wider
                natural += wider
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        width=max(natural, 1),
        **table_options,
    )
    for i in kept:
        header = Text.from_markup(columns[i].header, overflow="fold")
        header.no_wrap = False
        if columns[i].numeric:
            table.add_column(header, justify="right", no_wrap=True, width=widths[i])
        else:
            table.add_column(header, overflow="fold", width=widths[i])
    styles = row_styles if row_styles is not None else [None] * len(rows)
    for row, style in zip(rows, styles, strict=True):
        table.add_row(*(row[i] for i in kept), style=style)
    if total is not None:
        table.add_section()
        table.add_row(*(total[i] for i in kept), style="bold")
    return table


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    **options: Any,
) -> None:
    """Print :func:`fitted_table` at the console's width; a table that cannot fit is not
    cropped to it (the terminal wraps its lines)."""
    console.print(fitted_table(columns, rows, width=console.width, **options), crop=False)


def _longest_word(markup: str) -> int:
    return max((len(word) for word in Text.from_markup(markup).plain.split()), default=0)


def _header_line(markup: str) -> int:
    """The header's width on as few lines as it was written with [chars]."""
    return max((len(line) for line in Text.from_markup(markup).plain.split("\n")), default=0)


def _least_width(least: dict[int, int], kept: list[int]) -> int:
    """The narrowest the kept columns can be and stay readable [chars]: ``least`` per
    column (numbers whole, text at TEXT_MIN_CHARS or its widest cell if narrower)."""
    return sum(least[i] for i in kept) + GAP_CHARS * (len(kept) - 1) + EDGE_CHARS


def _text_widths(
    columns: Sequence[Column],
    kept: list[int],
    widest: Sequence[int],
    number_width: dict[int, int],
    width: int,
) -> dict[int, int]:
    """Each kept column's width: numbers their own; the text columns share the rest, the
    narrowest first: whole where the wider ones keep TEXT_MIN_CHARS each, else an equal
    share, none narrower than TEXT_FLOOR_CHARS (or its widest cell where that is less)."""
    out = {i: number_width[i] for i in kept if columns[i].numeric}
    text = sorted((i for i in kept if not columns[i].numeric), key=lambda i: widest[i])
    left = width - sum(out.values()) - GAP_CHARS * (len(kept) - 1) - EDGE_CHARS
    for n, i in enumerate(text):
        wanted = max(widest[i], _longest_word(columns[i].header), 1)
        after = len(text) - n - 1
        if wanted <= left - TEXT_MIN_CHARS * after:
            out[i] = wanted  # whole, and the wider ones still get their readable minimum
        else:
            share = left // (after + 1)
            out[i] = min(wanted, max(share, min(wanted, TEXT_FLOOR_CHARS)))
        left -= out[i]
    return out
