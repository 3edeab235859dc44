"""Tests for vpp.rotation_ledger: the ledger file read back, appended to, refused when wrong."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from vpp.domain import ConfigError, RotationEntry
from vpp.rotation_ledger import append_ledger, read_ledger

START = datetime(2026, 7, 15, 11, tzinfo=ZoneInfo("Asia/Shanghai"))


def entry(enterprise_id: str, called: bool = True) -> RotationEntry:
    return RotationEntry(
        event_id="ev", start=START, enterprise_id=enterprise_id, called=called, asked_kwh=10.0
    )


def test_append_then_read_gives_the_entries_back_once(tmp_path: Path) -> None:
    path = tmp_path / "season" / "ledger.jsonl"
    assert read_ledger(path).entries == ()
    assert append_ledger(path, [entry("alpha"), entry("beta", False)]) == 2
    assert append_ledger(path, [entry("alpha"), entry("gamma")]) == 1  # alpha already there
    ledger = read_ledger(path)
    assert [e.enterprise_id for e in ledger.entries] == ["alpha", "beta", "gamma"]
    assert ledger.entries[0] == entry("alpha")
    assert len(path.read_text().splitlines()) == 3


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param("{not json\n", "line 1", id="not-json"),
        pytest.param(
            entry("alpha").model_dump_json() + "\n" + '{"event_id": "ev"}\n', "line 2", id="field"
        ),
        pytest.param(
            '{"event_id":"ev","start":"2026-07-15T11:00:00","enterprise_id":"a","called":true}\n',
            "line 1: start",
            id="naive-start",
        ),
        pytest.param((entry("alpha").model_dump_json() + "\n") * 2, "entries.1", id="duplicate"),
    ],
)
def test_read_ledger_refuses_a_bad_line_naming_it(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text(text)
    with pytest.raises(ConfigError, match=str(path)) as caught:
        read_ledger(path)
    assert where in str(caught.value)
