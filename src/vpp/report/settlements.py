"""Settlement lines read back from a folder of simulation reports (``report.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from vpp.domain import VppError
from vpp.settlement import EnterpriseSettlement, stored_line


class ReportReadError(VppError, ValueError):
    """A report that cannot be read; names the file and the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class ReportLine:
    """One enterprise's line of one event of one report."""

    report: Path
    event_id: str
    line: EnterpriseSettlement


def report_files(folder: Path) -> list[Path]:
    """Every ``report.json`` under ``folder`` (itself one, or any depth below), sorted."""
    if folder.is_file():
        return [folder]
    return sorted(folder.rglob("report.json"))


def read_settlement_lines(path: Path) -> list[ReportLine]:
    """Each event's lines of one report, unasked ones included; refuses what does not parse."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        events = doc["events"]
        out = []
        for event in events:
            settlement = event["settlement"]
            for data in (*settlement["enterprises"], *settlement.get("unasked", ())):
                out.append(ReportLine(path, str(settlement["event_id"]), stored_line(data)))
        return out
    except OSError as exc:
        raise ReportReadError(path, f"cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else repr(exc)
        raise ReportReadError(path, f"not a simulation report ({detail})") from None
