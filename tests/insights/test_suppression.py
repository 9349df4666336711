"""Small-cell suppression: no count from 1 to 4 can be read or worked out from what is shown.

The property tests check the module against an independent, exact derivation written here:
the equations of every table of a view over fractions, solved for the hidden cells.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.insights.suppression import TOTAL, CountTable, Figure, ProtectedTable, protect, rate

# ---- The exact check: what the shown figures of a view give away --------------------------


def identity(table: CountTable, row: str, col: str) -> tuple[object, ...]:
    """Which figure a place of a table is, the same in every table of a view that shows it."""
    if row != TOTAL and col != TOTAL:
        return ("cell", table.population, table.row_space, row, table.col_space, col)
    if row != TOTAL:
        return ("row total", table.population, table.row_space, row, table.col_space, table.columns)
    if col != TOTAL:
        return ("column total", table.population, table.col_space, col)
    return ("grand total", table.population, table.col_space, table.columns)


def true_value(table: CountTable, row: str, col: str) -> int:
    rows = table.rows if row == TOTAL else (row,)
    columns = table.columns if col == TOTAL else (col,)
    return sum(table.counts.get((r, c), 0) for r in rows for c in columns)


def equations(tables: Sequence[CountTable]) -> list[dict[tuple[object, ...], int]]:
    """Each row adds up to its total, each column to its total, the totals to the grand total."""
    found = []
    for table in tables:
        lines = [[(row, col) for col in (*table.columns, TOTAL)] for row in (*table.rows, TOTAL)]
        lines += [[(row, col) for row in (*table.rows, TOTAL)] for col in (*table.columns, TOTAL)]
        for line in lines:
            equation = {identity(table, *place): 1 for place in line[:-1]}
            equation[identity(table, *line[-1])] = -1
            found.append(equation)
    return found


def derivable(tables: Sequence[CountTable], hidden: set[tuple[object, ...]]) -> set[tuple[object, ...]]:
    """The hidden figures whose exact value follows from the shown ones: those whose unit vector
    is a row of the reduced row echelon form of the equations restricted to the hidden figures."""
    unknowns = sorted(hidden, key=repr)
    matrix = [[Fraction(equation.get(u, 0)) for u in unknowns] for equation in equations(tables)]
    pivot_row = 0
    for column in range(len(unknowns)):
        pick = next((r for r in range(pivot_row, len(matrix)) if matrix[r][column]), None)
        if pick is None:
            continue
        matrix[pivot_row], matrix[pick] = matrix[pick], matrix[pivot_row]
        lead = matrix[pivot_row][column]
        matrix[pivot_row] = [value / lead for value in matrix[pivot_row]]
        for r in range(len(matrix)):
            if r != pivot_row and matrix[r][column]:
                factor = matrix[r][column]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[pivot_row], strict=True)]
        pivot_row += 1
    return {unknowns[row.index(1)] for row in matrix[:pivot_row] if sum(1 for value in row if value) == 1}


def places(table: CountTable) -> list[tuple[str, str]]:
    return [(row, col) for row in (*table.rows, TOTAL) for col in (*table.columns, TOTAL)]


def check_view(tables: Sequence[CountTable]) -> dict[str, ProtectedTable]:
    """Every property a view must have; returns what protect() made of it."""
    protected = protect(tables)
    states: dict[tuple[object, ...], set[str]] = {}
    truth: dict[tuple[object, ...], int] = {}
    # A table of fewer than 5 in all shows only that: every other figure of it is withheld.
    in_tiny = {
        identity(table, *place)
        for table in tables
        if 1 <= true_value(table, TOTAL, TOTAL) <= 4
        for place in places(table)
        if place != (TOTAL, TOTAL)
    }
    for table in tables:
        for row, col in places(table):
            figure, value = protected[table.name].cell(row, col), true_value(table, row, col)
            if identity(table, row, col) in in_tiny:
                assert figure == Figure(None, "withheld"), (table.name, row, col, value)
            elif 1 <= value <= 4:
                assert figure == Figure(None, "small"), (table.name, row, col, value)
            elif figure.state == "shown":
                assert figure.value == value, (table.name, row, col)
            else:
                assert figure == Figure(None, "withheld"), (table.name, row, col, value)
            states.setdefault(identity(table, row, col), set()).add(figure.state)
            truth[identity(table, row, col)] = value
    assert all(len(seen) == 1 for seen in states.values()), "a shared figure has one state"
    hidden = {key for key, seen in states.items() if seen != {"shown"}}
    # (Figures hidden only because their whole table is tiny were shown before: only a small
    # one must not follow.)
    found = derivable(tables, hidden)
    assert not {key for key in found if 1 <= truth[key] <= 4 or key not in in_tiny}, "a hidden figure follows"
    shuffled = [
        CountTable(t.name, t.population, t.row_space, t.rows, t.col_space, t.columns, shuffle(t.counts)) for t in tables
    ]
    assert protect(shuffled) == protected, "the same counts are suppressed the same way"
    return protected


def shuffle(counts: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    items = list(counts.items())
    random.Random(len(items)).shuffle(items)
    return dict(items)


# ---- Random tables and views ----------------------------------------------------------------

counts_like_a_program = st.one_of(st.just(0), st.integers(1, 4), st.integers(5, 40))


@st.composite
def single_tables(draw: st.DrawFn) -> CountTable:
    rows = tuple(f"county {i}" for i in range(draw(st.integers(0, 5))))
    columns = tuple(f"2025-{m:02}" for m in range(1, draw(st.integers(0, 5)) + 1))
    counts = {(row, col): draw(counts_like_a_program) for row in rows for col in columns}
    return CountTable("by county", "reports", "county", rows, "month", columns, counts)


@st.composite
def views(draw: st.DrawFn) -> list[CountTable]:
    """Reports counted several ways in one view: by month against a few dimensions, over all or
    some of the months, and one not by month at all, all from the same reports."""
    months = [f"2025-{m:02}" for m in range(1, draw(st.integers(1, 4)) + 1)]
    spaces = {"category": 3, "county": 4, "level": 2}
    report = st.tuples(st.sampled_from(months), *(st.integers(0, size - 1) for size in spaces.values()))
    reports = draw(st.lists(report, max_size=60))
    tables = []
    for number, (space, size) in enumerate(spaces.items()):
        if draw(st.booleans()) or number == 0:
            columns = tuple(months) if draw(st.booleans()) else tuple(months[: draw(st.integers(1, len(months)))])
            counted = Counter((f"{space} {r[number + 1]}", r[0]) for r in reports if r[0] in columns)
            rows = tuple(f"{space} {i}" for i in range(size))
            tables.append(CountTable(f"{space} by month", "reports", space, rows, "month", columns, dict(counted)))
    if draw(st.booleans()):
        counted = Counter((f"category {r[1]}", f"level {r[3]}") for r in reports)
        rows, columns = tuple(f"category {i}" for i in range(3)), tuple(f"level {i}" for i in range(2))
        tables.append(CountTable("category by level", "reports", "category", rows, "level", columns, dict(counted)))
    return tables


@settings(max_examples=300, deadline=None)
@given(single_tables())
def test_a_single_table_gives_nothing_small_away(table: CountTable) -> None:
    check_view([table])


@settings(max_examples=200, deadline=None)
@given(views())
def test_tables_of_one_view_give_nothing_small_away_together(tables: list[CountTable]) -> None:
    check_view(tables)


# ---- Examples a person would recognise ------------------------------------------------------

COUNTIES = ("Fairfield", "Hartford", "Litchfield", "New Haven")
MONTHS = ("2025-01", "2025-02", "2025-03")


# ---- What a reader can do with the labels too: tiny tables, every possibility tried ---------


def possible_values(table: CountTable, shown: ProtectedTable) -> dict[str, set[int]]:
    """For each inner cell that reads "fewer than 5": every value it can have in some table of
    whole numbers that agrees with everything shown, knowing that "fewer than 5" means 1 to 4
    and "withheld" means 0 or 5 and more (else it would read "fewer than 5")."""
    bound = true_value(table, TOTAL, TOTAL) + 5  # a reader would try larger ones too: none fits here

    def fits(figure: Figure, value: int) -> bool:
        if figure.state == "shown":
            return figure.value == value
        return 0 < value < 5 if figure.state == "small" else not 0 < value < 5

    def options(figure: Figure) -> list[int]:
        return [value for value in range(bound + 1) if fits(figure, value)]

    by_row = []  # each row's possible cells, checked against the row's own total
    for row in table.rows:
        cells = itertools.product(*(options(shown.cell(row, col)) for col in table.columns))
        by_row.append([cells_ for cells_ in cells if fits(shown.cell(row, TOTAL), sum(cells_))])
    found: dict[str, set[int]] = {
        f"{r}/{c}": set() for r in table.rows for c in table.columns if shown.cell(r, c).state == "small"
    }
    for rows in itertools.product(*by_row):
        sums = [sum(column) for column in zip(*rows, strict=True)]
        if not all(fits(shown.cell(TOTAL, col), total) for col, total in zip(table.columns, sums, strict=True)):
            continue
        if not fits(shown.cell(TOTAL, TOTAL), sum(sums)):
            continue
        for row, cells_ in zip(table.rows, rows, strict=True):
            for col, value in zip(table.columns, cells_, strict=True):
                if f"{row}/{col}" in found:
                    found[f"{row}/{col}"].add(value)
    return found


@st.composite
def tiny_tables(draw: st.DrawFn) -> CountTable:
    rows = tuple(f"r{n}" for n in range(draw(st.integers(2, 3))))
    columns = tuple(f"c{n}" for n in range(2))
    value = st.one_of(st.integers(0, 4), st.integers(5, 9))
    counts = {(row, col): draw(value) for row in rows for col in columns}
    return CountTable("tiny", "reports", "county", rows, "month", columns, counts)


@settings(max_examples=60, deadline=None)
@given(tiny_tables())
def test_no_small_count_is_pinned_down_by_what_the_labels_say(table: CountTable) -> None:
    shown = protect([table])["tiny"]
    for cell, values in possible_values(table, shown).items():
        assert len(values) >= 2, f"{cell} can only be {values}"


def test_a_withheld_five_beside_a_small_one_does_not_give_it_away() -> None:
    # Hartford 1, New Haven 5, Fairfield 20: withholding New Haven alone would leave 1 + 5 = 6.
    counts = {("Hartford", "2025-02"): 1, ("New Haven", "2025-02"): 5, ("Fairfield", "2025-02"): 20}
    table = CountTable(
        "by county", "reports", "county", ("Hartford", "New Haven", "Fairfield"), "month", ("2025-02",), counts
    )
    shown = protect([table])["by county"]
    assert shown.cell("Hartford", "2025-02").state == "small"
    assert possible_values(table, shown)["Hartford/2025-02"] >= {1, 2, 3}


def by_county(counts: dict[tuple[str, str], int], name: str = "by county") -> CountTable:
    return CountTable(name, "reports", "county", COUNTIES, "month", MONTHS, counts)


def test_a_county_with_three_cases_in_a_month_is_fewer_than_five_and_protected() -> None:
    counts = {(county, month): 20 + 3 * i + j for i, county in enumerate(COUNTIES) for j, month in enumerate(MONTHS)}
    counts["Litchfield", "2025-02"] = 3
    table = check_view([by_county(counts)])["by county"]

    assert str(table.cell("Litchfield", "2025-02")) == "fewer than 5"
    row = [table.cell("Litchfield", month) for month in (*MONTHS, TOTAL) if month != "2025-02"]
    column = [table.cell(county, "2025-02") for county in (*COUNTIES, TOTAL) if county != "Litchfield"]
    assert "withheld" in [str(figure) for figure in row], "the rest of the row would give the 3 away"
    assert "withheld" in [str(figure) for figure in column], "the rest of the month would give the 3 away"
    assert str(table.cell(TOTAL, TOTAL)) == str(sum(counts.values())), "the grand total stays"


def test_a_table_with_no_small_counts_shows_everything() -> None:
    counts = {(county, month): 10 + i + j for i, county in enumerate(COUNTIES) for j, month in enumerate(MONTHS)}
    counts["Hartford", "2025-01"] = 0  # that nobody reported is safe to say
    table = check_view([by_county(counts)])["by county"]

    for row, col in places(table.table):
        assert str(table.cell(row, col)) == str(true_value(table.table, row, col)), (row, col)
    assert str(table.cell("Hartford", "2025-01")) == "0"


def test_two_small_blocks_joined_by_one_cell_do_not_give_that_cell_away() -> None:
    # Every row and column holding a small count holds at least two, so a check of the lines
    # alone passes; yet the top-left block's sums are known, and with them the joining cell.
    rows, columns = tuple("abcde"), tuple("vwxyz")
    small = {("a", "v"), ("a", "w"), ("b", "v"), ("b", "w"), ("a", "x"), ("c", "x"), ("c", "y"), ("d", "x"), ("d", "y")}
    counts = {(r, c): 2 if (r, c) in small else 30 + ord(r) + ord(c) for r in rows for c in columns}
    table = CountTable("joined", "reports", "county", rows, "month", columns, counts)
    assert derivable([table], {identity(table, *place) for place in small}) == {identity(table, "a", "x")}

    protected = check_view([table])["joined"]
    assert any(figure.state == "withheld" for _, figures in protected.grid() for figure in figures)


def test_a_month_with_few_reports_is_fewer_than_five_in_every_table_of_the_view() -> None:
    counts = {(county, month): 0 if month == "2025-03" else 12 for county in COUNTIES for month in MONTHS}
    counts["New Haven", "2025-03"] = 3
    by_level = {("L2", "2025-01"): 20, ("L2", "2025-02"): 20, ("L3", "2025-01"): 28, ("L3", "2025-02"): 28}
    by_level["L3", "2025-03"] = 3
    levels = CountTable("by level", "reports", "level", ("L2", "L3"), "month", MONTHS, by_level)
    view = check_view([by_county(counts), levels])

    assert str(view["by county"].cell(TOTAL, "2025-03")) == "fewer than 5"
    assert str(view["by level"].cell(TOTAL, "2025-03")) == "fewer than 5"


def test_tables_that_disagree_on_a_shared_figure_are_refused() -> None:
    one = by_county({("Hartford", "2025-01"): 7})
    other = CountTable("by level", "reports", "level", ("L2",), "month", MONTHS, {("L2", "2025-01"): 8})
    with pytest.raises(ValueError, match="counts 7 in one table and 8 in another"):
        protect([one, other])


@pytest.mark.parametrize(
    ("rows", "counts"),
    [
        (("Hartford",), {("Hartford", "2025-01"): -1}),
        (("Hartford",), {("Tolland", "2025-01"): 6}),
        (("Hartford", TOTAL), {}),
        (("Hartford", "Hartford"), {}),
    ],
)
def test_counts_that_are_not_a_table_are_refused(rows: tuple[str, ...], counts: dict[tuple[str, str], int]) -> None:
    with pytest.raises(ValueError):
        protect([CountTable("by county", "reports", "county", rows, "month", MONTHS, counts)])


def test_rates_and_shares_are_withheld_below_five_cases() -> None:
    assert rate(3, 4) is None
    assert rate(0, 0) is None
    assert rate(3, 5) == 0.6
    assert rate(10, 40) == 0.25


def test_figures_read_as_a_person_would_say_them() -> None:
    assert str(Figure(12, "shown")) == "12"
    assert str(Figure(0, "shown")) == "0"
    assert str(Figure(None, "small")) == "fewer than 5"
    assert str(Figure(None, "withheld")) == "withheld"
