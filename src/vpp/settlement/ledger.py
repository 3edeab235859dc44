"""An event's settlement as rotation-ledger entries: who was called, for what, earning what."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from vpp.domain import RotationEntry
from vpp.settlement.compute import EventSettlement


def rotation_entries(
    settlement: EventSettlement, start: datetime, enterprise_ids: Iterable[str]
) -> tuple[RotationEntry, ...]:
    """One entry per enterprise of the district: called when its line asked something in
    the window; an enterprise without a line (not a participant), with an unasked line, or
    asked only past the window (to make room for the others' rebound) was not called,
    though its energy and earnings count."""
    lines = {line.enterprise_id: line for line in settlement.enterprises}
    out = []
    for enterprise_id in enterprise_ids:
        line = lines.get(enterprise_id)
        out.append(
            RotationEntry(
                event_id=settlement.event_id,
                start=start,
                enterprise_id=enterprise_id,
                called=line is not None
                and line.asked_intervals > line.asked_after_window_intervals,
                asked_kwh=line.asked_kwh if line is not None else 0.0,
                delivered_kwh=line.delivered_kwh if line is not None else 0.0,
                net_cny=line.net_cny if line is not None else 0.0,
            )
        )
    return tuple(out)
