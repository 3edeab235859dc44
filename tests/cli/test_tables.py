"""Tables that fit the terminal: numbers whole at any width, text folded, optional columns
left out first (rendered by rich, as the commands print them)."""

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from vpp.cli.tables import Column, fitted_table, print_table

COLUMNS = [
    Column("enterprise", numeric=False),
    Column("asked"),
    Column("delivered"),
    Column("solver", numeric=False, optional=2),
    Column("from", optional=1),
    Column("payment [CNY]"),
    Column("why", numeric=False),
]


def rendered(table, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    with console.capture() as capture:
        console.print(table, crop=False)  # as print_table does
    return capture.get().splitlines()


def row(name: str, asked: float, payment: float, why: str) -> list[str]:
    return [
        name,
        f"{asked:,.1f}",
        f"{asked * 1.02:,.1f}",
        "optimal",
        "10:45",
        f"{payment:,.2f}",
        why,
    ]


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(min_value=20, max_value=160),
    values=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1e7),
            st.floats(min_value=-1e6, max_value=1e8),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_a_number_is_never_cut_at_any_width(width, values):
    rows = [row(f"e{i}", a, p, "no ack within 90 s") for i, (a, p) in enumerate(values)]
    lines = rendered(fitted_table(COLUMNS, rows, width=width), width)
    text = "\n".join(lines)
    assert "…" not in text
    for r in rows:
        for cell in (r[1], r[2], r[5]):
            assert any(cell in line for line in lines), cell


def test_a_table_that_can_fit_stays_within_the_width_and_keeps_its_names_whole():
    rows = [
        row("haixing-electronics", 105.0, 121.22, "no ack within 90 s"),
        row("beiyang-airsep", 1420.0, 2493.96, "under-delivery"),
    ]
    for width in (60, 80, 120):
        lines = rendered(fitted_table(COLUMNS, rows, width=width, title="settlement"), width)
        assert max(len(line) for line in lines) <= width
        if width >= 80:  # narrower, the names fold (at 60: 13 characters each)
            assert any("haixing-electronics" in line for line in lines)
        assert any("2,493.96" in line for line in lines)


def test_optional_columns_are_left_out_the_highest_first_and_only_when_narrow():
    rows = [row("beiyang-airsep", 1420.0, 2493.96, "a reason of several words that folds")]
    wide = "\n".join(rendered(fitted_table(COLUMNS, rows, width=160), 160))
    assert "solver" in wide
    assert "from" in wide
    middle = "\n".join(rendered(fitted_table(COLUMNS, rows, width=80), 80))
    assert "solver" not in middle
    assert "from" in middle
    narrow = "\n".join(rendered(fitted_table(COLUMNS, rows, width=70), 70))
    assert "solver" not in narrow
    assert "from" not in narrow
    assert "2,493.96" in narrow
    assert "1,420.0" in narrow


def test_text_folds_instead_of_being_cut():
    why = "measured 0.5 °C above the plan when it lets the building go"
    rows = [row("beiyang-airsep", 1420.0, 2493.96, why)]
    lines = rendered(fitted_table(COLUMNS, rows, width=70), 70)
    words = " ".join(line.strip() for line in lines).split()
    for word in why.split():
        assert word in words


def test_a_total_row_follows_a_rule_and_counts_towards_the_widths():
    rows = [row("a", 1.0, 1.0, "x")]
    total = ["total", "12,345,678.9", "12,592,592.5", "", "", "99,999,999.99", ""]
    lines = rendered(fitted_table(COLUMNS, rows, width=80, total=total), 80)
    assert any("12,345,678.9" in line and "99,999,999.99" in line for line in lines)


def test_print_table_prints_at_the_console_width_without_cropping():
    rows = [row("beiyang-airsep", 1420.0, 2493.96, "under-delivery")]
    console = Console(width=24, record=True, color_system=None)
    with console.capture() as capture:
        print_table(console, COLUMNS, rows, title="narrow")
    assert "2,493.96" in capture.get()
