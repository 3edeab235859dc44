"""The one place CLI errors are printed: exactly as written, one paragraph, exit code 2."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from vpp.cli import app
from vpp.domain._base import SLUG_PATTERN

TINY = Path(__file__).parent.parent / "data" / "tiny_district.yaml"
runner = CliRunner()


def test_error_messages_keep_square_brackets_instead_of_reading_them_as_markup(tmp_path):
    """A resource id 'BESS 1' is refused with the whole pattern, brackets included."""
    district = tmp_path / "bad-id.yaml"
    district.write_text(
        TINY.read_text().replace("resource_id: rolling-mill", "resource_id: BESS 1")
    )
    result = runner.invoke(app, ["capability", str(district), "--day", "2026-07-15"])
    assert result.exit_code == 2
    assert SLUG_PATTERN in result.output
    assert "[a-z0-9]" in result.output
    assert "Traceback" not in result.output


def test_a_long_error_is_not_wrapped_at_the_terminal_width():
    """One error is one line however long, so scripts can grep it."""
    day = "not-a-day-" * 12
    result = runner.invoke(app, ["capability", str(TINY), "--day", day])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2
    assert len(lines) == 1, result.output
    assert day in lines[0]
