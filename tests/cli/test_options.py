"""Every option of every command, tried with wrong values as a careless or hostile user would.

The commands are walked from the typer application itself, so an option added later is
covered without a new test: each wrong value is one line naming the option, exit code 2,
and no traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from vpp.cli import app
from vpp.cli.options import Number

runner = CliRunner()


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    children = getattr(command, "commands", None)
    if children is None:
        yield path, command
        return
    for name, child in children.items():
        yield from _commands(child, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _options(kinds: tuple[type, ...]) -> list[tuple[tuple[str, ...], Any, Any]]:
    found = []
    for path, command in COMMANDS:
        for param in command.params:
            descriptor = param.type_descriptor
            if param.opts[0].startswith("--") and descriptor.annotation in kinds:
                found.append((path, command, param))
    return found


NUMERIC = _options((int, float))
CHOICES = [
    (path, command, param)
    for path, command in COMMANDS
    for param in command.params
    if param.opts[0].startswith("--") and param.type_descriptor.choices is not None
]


def _bad_values(parser: Number) -> list[str]:
    """Values outside ``parser``'s range, NaN and infinities, huge numbers and words."""
    values = ["nan", "inf", "-inf", "1e999", "-5", "abc", "99999999999999999999"]
    if parser.low > 0 or (parser.low == 0 and parser.low_open):
        values.append("0")
    if parser.integer:
        values.append("1.5")
    return values


def _invoke(path: tuple[str, ...], command: Any, option: str, value: str) -> Any:
    """The command with one wrong option first and dummies for its positional arguments."""
    positional = ["x" for p in command.params if not p.opts[0].startswith("-") and p.required]
    return runner.invoke(app, [*path, option, value, *positional])


def _assert_one_line_naming(result: Any, option: str) -> None:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.output
    assert option in lines[0]
    assert lines[0].startswith("error: ")


def test_every_numeric_option_parses_through_a_bounded_number():
    """Range checks live in one place: no numeric option may go without a finite range."""
    assert len(NUMERIC) >= 12
    for path, _, param in NUMERIC:
        parser = param.type_descriptor.parameter_info.parser
        assert isinstance(parser, Number), f"{' '.join(path)} {param.opts[0]} has no Number"
        assert parser.low >= 0
        assert parser.high < 1e12


@pytest.mark.parametrize(
    ("path", "command", "param"),
    NUMERIC,
    ids=[f"{' '.join(path)} {param.opts[0]}" for path, _, param in NUMERIC],
)
def test_numeric_option_refuses_wrong_values_in_one_line_with_exit_2(path, command, param):
    """NaN, infinities, negatives, 0 where it is invalid, huge numbers, words: exit 2."""
    option = param.opts[0]
    for value in _bad_values(param.type_descriptor.parameter_info.parser):
        result = _invoke(path, command, option, value)
        _assert_one_line_naming(result, option)


@pytest.mark.parametrize(
    ("path", "command", "param"),
    CHOICES,
    ids=[f"{' '.join(path)} {param.opts[0]}" for path, _, param in CHOICES],
)
def test_enum_option_refuses_an_unknown_value_in_one_line_with_exit_2(path, command, param):
    """--kind, --notice, --role ...: an unknown name is one line naming the option."""
    result = _invoke(path, command, param.opts[0], "bogus")
    _assert_one_line_naming(result, param.opts[0])
    assert "bogus" in result.output


@pytest.mark.parametrize(
    "args",
    [["nosuch"], ["dispatch", "x", "--bogus"], ["capability", "x", "--window"]],
    ids=["unknown-command", "unknown-option", "missing-value"],
)
def test_usage_errors_are_one_line_with_exit_2(args):
    """Click's own usage errors print like vpp's: one line, no framed panel."""
    result = runner.invoke(app, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")


@pytest.mark.parametrize("value", ["1", "3600", "0.001"])
def test_numbers_in_range_pass_through_unchanged(value):
    """The parser returns the number itself for values inside the range."""
    assert Number(0, 3600, low_open=True)(value) == float(value)
