"""Small-cell suppression: every count the program shows or exports is safe to show.

A count of a few cases in one county and month can point at a reporter, so a count from 1 to 4
is never shown as a number ("fewer than 5"). Hiding those alone is not enough: a row total minus
the other cells of its row gives the hidden one back. So after the small cells are hidden, more
cells are withheld (complementary suppression) until no hidden figure can be worked out exactly
from the shown ones by adding and subtracting, using every table of one view together, because a
reader sees the whole page at once. A figure shown in two tables of a view is one figure, with
one state, so what one table hides the other cannot give away.

This module knows nothing of Flask or the database: the dashboard counts, this module decides
what of the counts may be shown, and the pages and exports print the figures it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

TOTAL = "total"  # key of a margin row or column
MIN_BASE = 5  # counts 1..4 are small; rates and medians need at least this many cases

SHOWN, SMALL, WITHHELD = "shown", "small", "withheld"

# Elimination is done modulo this prime, so numbers stay machine-sized. It could only err where
# the prime divides a minor of the 0/±1 constraint matrix: one table's matrix is totally
# unimodular (minors 0 or ±1) and the property tests compare views against exact fractions.
_PRIME = 2**61 - 1
_MINUS_ONE = _PRIME - 1

_CellMaker = Callable[[tuple[object, ...], int, bool], int]  # (identity, value, is a margin) -> cell
_Layout = dict[tuple[str, str], int]  # (row, col) of a table, TOTAL included -> cell


@dataclass(frozen=True)
class CountTable:
    """Counts of one population by two dimensions, before suppression."""

    name: str  # unique within one protect() call
    population: str  # what is counted, e.g. "reports", "referrals"
    row_space: str  # e.g. "category"
    rows: tuple[str, ...]  # row keys in display order (never TOTAL)
    col_space: str  # e.g. "month"
    columns: tuple[str, ...]  # column keys in display order (never TOTAL)
    counts: Mapping[tuple[str, str], int]  # interior cells (row, col); missing means 0


@dataclass(frozen=True)
class Figure:
    """One cell as it may be shown: its value only when it is safe to show."""

    value: int | None  # the true count when shown; None when small or withheld
    state: str  # SHOWN, SMALL (a count from 1 to 4) or WITHHELD (hidden to protect another)

    def __str__(self) -> str:
        if self.state == SMALL:
            return "fewer than 5"
        if self.state == WITHHELD:
            return "withheld"
        return str(self.value)


@dataclass(frozen=True)
class ProtectedTable:
    """A table and a figure for every cell of it, its margins (keyed by TOTAL) included."""

    table: CountTable
    figures: Mapping[tuple[str, str], Figure]

    def cell(self, row: str, col: str) -> Figure:
        return self.figures[(row, col)]

    @property
    def columns(self) -> tuple[str, ...]:
        """The column keys in display order, then TOTAL."""
        return (*self.table.columns, TOTAL)

    def row(self, row: str) -> list[Figure]:
        """The row's figures in the order of :attr:`columns`, its total last."""
        return [self.figures[(row, col)] for col in self.columns]

    def grid(self) -> list[tuple[str, list[Figure]]]:
        """Every row with its figures, then the TOTAL row: what a table on a page prints."""
        return [(row, self.row(row)) for row in (*self.table.rows, TOTAL)]


def rate(part: int, whole: int) -> float | None:
    """``part / whole``, or None when it rests on fewer than MIN_BASE cases and would speak of
    a few people. It does not protect its part: 3 of a shown 20 reads as 15%, so a page shows
    the rate of a part only where that part is shown itself."""
    if not 0 <= part <= whole:
        raise ValueError(f"a part of {part} out of {whole}")
    return None if whole < MIN_BASE else part / whole


def protect(tables: Sequence[CountTable]) -> dict[str, ProtectedTable]:
    """Suppress all tables of ONE VIEW jointly, keyed by table name.

    Margins are computed here from the counts. Cells are identified across tables (see
    :func:`_lay_out`); a cell met twice must have the same value, else ValueError.
    """
    keys: dict[tuple[object, ...], int] = {}
    values: list[int] = []
    margin: list[bool] = []
    equations: dict[frozenset[tuple[int, int]], None] = {}  # ordered, without repeats
    layouts: dict[str, dict[tuple[str, str], int]] = {}

    def cell(key: tuple[object, ...], value: int, is_margin: bool) -> int:
        index = keys.setdefault(key, len(values))
        if index == len(values):
            values.append(value)
            margin.append(is_margin)
        elif values[index] != value:
            raise ValueError(f"cell {key} counts {values[index]} in one table and {value} in another")
        return index

    for table in tables:
        if table.name in layouts:
            raise ValueError(f"two tables are named {table.name!r}")
        layouts[table.name] = _lay_out(table, cell, equations)
    hidden = _suppress(values, margin, [dict(equation) for equation in equations])
    # A table of fewer than 5 in all is withheld whole, zeros too: its small cells would
    # otherwise be pinned by the labels alone (four cells "fewer than 5" under a total of 4).
    tiny = {
        index
        for layout in layouts.values()
        if 0 < values[layout[TOTAL, TOTAL]] < MIN_BASE
        for place, index in layout.items()
        if place != (TOTAL, TOTAL)
    }
    figures = [
        Figure(None, WITHHELD)
        if index in tiny
        else Figure(None, SMALL)
        if 0 < value < MIN_BASE
        else Figure(None, WITHHELD)
        if is_hidden
        else Figure(value, SHOWN)
        for index, (value, is_hidden) in enumerate(zip(values, hidden, strict=True))
    ]
    return {
        name: ProtectedTable(table, {place: figures[index] for place, index in layouts[table.name].items()})
        for name, table in zip(layouts, tables, strict=True)
    }


def _lay_out(table: CountTable, cell: _CellMaker, equations: dict[frozenset[tuple[int, int]], None]) -> _Layout:
    """The table's cells (by their identity across tables) and its additions: each row sums to
    its total, each column to its total, and both sets of totals to the grand total.

    A column total is the same in every table of the population (each counts all its members,
    whatever the rows). A row total and the grand total are keyed by the columns they add, so
    tables over other months keep theirs apart; so do tables against another column space
    (category by level beside category by month), even when they count the same members.
    """
    rows, columns, population = table.rows, table.columns, table.population
    for keys, what in ((rows, "row"), (columns, "column")):
        if TOTAL in keys or len(set(keys)) != len(keys):
            raise ValueError(f"{table.name}: {what} keys must be unique and never {TOTAL!r}")
    for (row, col), given in table.counts.items():
        if row not in rows or col not in columns or given < 0:
            raise ValueError(f"{table.name}: no cell ({row!r}, {col!r}) may count {given}")
    count = {(row, col): table.counts.get((row, col), 0) for row in rows for col in columns}
    layout = {
        (row, col): cell((population, table.row_space, row, table.col_space, col), count[row, col], False)
        for row in rows
        for col in columns
    }
    for row in rows:
        total = sum(count[row, col] for col in columns)
        layout[row, TOTAL] = cell((population, table.row_space, row, table.col_space, columns), total, True)
    for col in columns:
        total = sum(count[row, col] for row in rows)
        layout[TOTAL, col] = cell((population, "*", table.col_space, col), total, True)
    grand = sum(count.values())
    layout[TOTAL, TOTAL] = cell((population, "*", table.col_space, columns), grand, True)
    lines = [([(row, col) for col in columns], (row, TOTAL)) for row in rows]
    lines += [([(row, col) for row in rows], (TOTAL, col)) for col in columns]
    lines += [([(row, TOTAL) for row in rows], (TOTAL, TOTAL)), ([(TOTAL, col) for col in columns], (TOTAL, TOTAL))]
    for parts, total_place in lines:
        equation = {layout[place]: 1 for place in parts}
        equation[layout[total_place]] = _MINUS_ONE
        equations.setdefault(frozenset(equation.items()))
    return layout


def _suppress(values: list[int], margin: list[bool], equations: list[dict[int, int]]) -> list[bool]:
    """Which cells to hide: the small ones, and complements until none of them is determined.

    Cheap first: a line (an equation) with a single hidden cell gives it away, so another cell
    of that line is hidden, until no line has just one. That is not enough (two hidden 2x2
    blocks joined by one cell give that cell away), so the exact test follows: elimination over
    the hidden cells finds each one the shown cells determine, and one of the shown cells it
    is derived from is hidden too. Both steps repeat until nothing is determined.
    """
    hidden = [0 < value < MIN_BASE for value in values]
    lines_of: list[list[int]] = [[] for _ in values]
    for line, equation in enumerate(equations):
        for index in equation:
            lines_of[index].append(line)
    hidden_in = [sum(hidden[index] for index in equation) for equation in equations]

    def hide(index: int) -> None:
        hidden[index] = True
        for line in lines_of[index]:
            hidden_in[line] += 1

    def cost(index: int, *, beside: int) -> tuple[int, ...]:
        # Least information lost: inner cells before totals, counts before zeros (a hidden zero
        # protects little), cells that close a pattern before those that open new lone lines,
        # the smallest count first, and the cell's order to break ties the same way each time.
        opens = sum(
            1 if hidden_in[line] == 0 else -(hidden_in[line] == 1) for line in lines_of[index] if line != beside
        )
        return margin[index], values[index] == 0, opens, values[index], index

    elimination = _Elimination(equations)
    wiggle = _Wiggle(values, equations, lines_of)
    while True:
        while lone := [line for line, count in enumerate(hidden_in) if count == 1 and len(equations[line]) > 1]:
            for line in lone:
                if hidden_in[line] == 1:
                    hide(min((i for i in equations[line] if not hidden[i]), key=lambda i: cost(i, beside=line)))
        for index, is_hidden in enumerate(hidden):
            if is_hidden:
                elimination.add(index)
        added = 0
        for index in elimination.determined(hidden):
            row = elimination.rows[elimination.pivots[index]]
            shown = [i for i in row if not hidden[i]]
            if shown:  # none only for a zero that the tables' shape alone forces to be zero
                hide(min(shown, key=lambda i: cost(i, beside=-1)))
                added += 1
        if added:
            continue
        # No hidden cell follows from the equations alone; the labels say more (see _Wiggle).
        for index, value in enumerate(values):
            if 0 < value < MIN_BASE and not wiggle.free(hidden, index):
                around: set[int] = set()
                seen = frontier = {index}
                while frontier and not around:  # the nearest shown counts, ring by ring
                    frontier = {i for cell in frontier for line in lines_of[cell] for i in equations[line]} - seen
                    around = {i for i in frontier if not hidden[i] and values[i]}
                    seen = seen | frontier
                if around:
                    hide(min(around, key=lambda i: (margin[i], values[i] < MIN_BASE + 1, values[i], i)))
                    added += 1
        if not added:
            return hidden


# How far the search for another table that fits what is shown may go, per small cell.
SEARCH_STEPS = 60
SEARCH_DEPTH = 12


class _Wiggle:
    """Whether a small cell could hold another value in some table that agrees with all that
    is shown, as a reader of the labels knows it: a cell reading "fewer than 5" holds 1 to 4, a
    withheld one 0 or 5 and more (else it would read "fewer than 5"), a shown one its value.

    Found by trying to move the cell by one and to balance every equation it upsets with a
    move of one in another hidden cell, each cell staying within what its label allows: a
    cycle of such moves is another table the reader cannot tell from the true one. Not finding
    one within SEARCH_STEPS counts as pinned down, so the answer errs on the side of hiding."""

    def __init__(self, values: list[int], equations: list[dict[int, int]], lines_of: list[list[int]]) -> None:
        self.values, self.lines_of = values, lines_of
        self.sign = [{i: (-1 if c == _MINUS_ONE else 1) for i, c in equation.items()} for equation in equations]
        # Hiding more cells only frees others: a cell found free stays free.
        self.freed: set[int] = set()

    def free(self, hidden: list[bool], index: int) -> bool:
        if index in self.freed:
            return True
        if self._search(hidden, index):
            self.freed.add(index)
            return True
        return False

    def _search(self, hidden: list[bool], index: int) -> bool:
        self.hidden, self.steps = hidden, SEARCH_STEPS
        for delta in (1, -1):
            if self._may(index, delta):
                residual: dict[int, int] = {}
                for line in self.lines_of[index]:
                    residual[line] = self.sign[line][index] * delta
                if self._balance({index: delta}, residual):
                    return True
        return False

    def _may(self, index: int, delta: int) -> bool:
        value = self.values[index] + delta
        if 0 < self.values[index] < MIN_BASE:
            return 0 < value < MIN_BASE
        return value == 0 or value >= MIN_BASE

    def _balance(self, moved: dict[int, int], residual: dict[int, int]) -> bool:
        line = next((line for line, left in residual.items() if left), None)
        if line is None:
            return True
        left = residual[line]
        if abs(left) != 1 or len(moved) > SEARCH_DEPTH:
            return False
        options = []
        for index, sign in self.sign[line].items():
            delta = -left * sign
            if self.hidden[index] and index not in moved and self._may(index, delta):
                # Moves that also settle another upset line first: they close the cycle.
                closes = sum(
                    residual.get(other, 0) * self.sign[other][index] * delta < 0
                    for other in self.lines_of[index]
                    if other != line
                )
                options.append((-closes, index, delta))
        for _, index, delta in sorted(options):
            self.steps -= 1
            if self.steps < 0:
                return False
            moved[index] = delta
            for other in self.lines_of[index]:
                residual[other] = residual.get(other, 0) + self.sign[other][index] * delta
            if self._balance(moved, residual):
                return True
            for other in self.lines_of[index]:
                residual[other] -= self.sign[other][index] * delta
            del moved[index]
        return False


class _Elimination:
    """Gauss-Jordan elimination of the tables' equations, one hidden cell (column) at a time.

    Rows keep the shown cells too, so hiding another cell later just continues the elimination.
    A hidden cell is determined when its pivot row holds no other hidden cell: that row then
    says the cell equals a sum of shown cells. Rows and the cells in them are sparse dicts.
    """

    def __init__(self, equations: list[dict[int, int]]) -> None:
        self.rows = [dict(equation) for equation in equations]
        self.holding: dict[int, set[int]] = {}  # cell -> the rows where its coefficient is not 0
        for number, row in enumerate(self.rows):
            for index in row:
                self.holding.setdefault(index, set()).add(number)
        self.pivots: dict[int, int] = {}  # hidden cell -> its pivot row
        self.done: set[int] = set()  # hidden cells added (pivots and free ones)
        self.pivot_rows: set[int] = set()

    def add(self, index: int) -> None:
        if index in self.done:
            return
        self.done.add(index)
        candidates = [number for number in self.holding.get(index, ()) if number not in self.pivot_rows]
        if not candidates:
            return  # free: no equation left to fix it
        number = min(candidates, key=lambda n: (len(self.rows[n]), n))  # shortest row: least fill-in
        pivot = self.rows[number]
        inverse = pow(pivot[index], _PRIME - 2, _PRIME)
        for i in pivot:
            pivot[i] = pivot[i] * inverse % _PRIME
        self.pivots[index] = number
        self.pivot_rows.add(number)
        for other in sorted(self.holding[index] - {number}):
            row = self.rows[other]
            factor = _PRIME - row[index]
            for i, coefficient in pivot.items():
                value = (row.get(i, 0) + factor * coefficient) % _PRIME
                if value:
                    if i not in row:
                        self.holding[i].add(other)
                    row[i] = value
                elif i in row:
                    del row[i]
                    self.holding[i].discard(other)

    def determined(self, hidden: list[bool]) -> list[int]:
        return sorted(
            index
            for index, number in self.pivots.items()
            if not any(hidden[i] and i != index for i in self.rows[number])
        )
