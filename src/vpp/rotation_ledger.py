"""The rotation ledger as a file: JSON lines, one :class:`RotationEntry` per line.

Append-only and human-readable: ``vpp simulate --ledger`` appends each completed event's
entries, ``vpp rotation`` reads them. A missing file is an empty ledger; a line that does not
parse is a ConfigError naming the file, the line and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from vpp.config import describe_validation_error
from vpp.domain import ConfigError, RotationEntry, RotationLedger


def read_ledger(path: Path) -> RotationLedger:
    """The ledger in ``path``; a missing file is an empty one."""
    if not path.exists():
        return RotationLedger()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [("(file)", exc.strerror or str(exc))]) from exc
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(RotationEntry.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ConfigError(str(path), [(f"line {number}", exc.msg)]) from None
        except ValidationError as exc:
            problems = [(f"line {number}: {f}", why) for f, why in describe_validation_error(exc)]
            raise ConfigError(str(path), problems) from None
    try:
        return RotationLedger(entries=tuple(entries))
    except ValidationError as exc:
        raise ConfigError(str(path), describe_validation_error(exc)) from None


def append_ledger(path: Path, entries: Iterable[RotationEntry]) -> int:
    """Append the entries not yet recorded; returns how many were written."""
    ledger = read_ledger(path)
    known = {e.key for e in ledger.entries}
    new = [e for e in entries if e.key not in known]
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            for entry in new:
                handle.write(entry.model_dump_json() + "\n")
    return len(new)
