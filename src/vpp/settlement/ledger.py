"""An event's settlement as rotation-ledger entries: who was called, for what, earning what."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from vpp.domain import RotationEntry
from vpp.settlement.compute import EventSettlement


def rotation_entries(
    settlement: EventSettlement, start: datetime, enterprise_ids: Iterable[str]
) -> tuple[RotationEntry, ...]:
    """One entry per enterprise of the district: called when its line asked something; an
    enterprise without a line (not a participant) or with an unasked line was not called."""
    lines = {line.enterprise_id: line for line in settlement.enterprises}
    out = []
    for enterprise_id in enterprise_ids:
        line = lines.get(enterprise_id)
        out.append(
            RotationEntry(
                event_id=settlement.event_id,
                start=start,
                enterprise_id=enterprise_id,
                called=line is not None,
                asked_kwh=line.asked_kwh if line is not None else 0.0,
                delivered_kwh=line.delivered_kwh if line is not None else 0.0,
                net_cny=line.net_cny if line is not None else 0.0,
            )
        )
    return tuple(out)
