"""From a pool's leases to OCPP charging profiles: the split over sessions and the schedule.

The controller commands a pool one ``limit`` per interval (a lease, ``valid_from`` to
``valid_until``); the next interval's lease arrives before the current one ends. Each
running transaction gets one TxProfile whose schedule holds every lease in force, in
order, and whose ``validTo`` is the last lease's ``valid_until``: a charge point that hears
nothing more returns to normal charging then by itself.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from vpp.device_adapters.ocpp.config import ChargePointConfig, Connector, RateUnit

#: TxProfile stack level (ChargePointMaxProfile sits at 0, a stack of its own purpose).
TX_STACK_LEVEL = 1
#: Profile ids of station caps: above any transaction id this central system issues.
MAX_PROFILE_ID_BASE = 1_000_000_000


@dataclass(frozen=True)
class SessionLimits:
    """What one running transaction may be given [kW]."""

    max_kw: float
    min_kw: float


def split_limit(limit_kw: float, sessions: Sequence[SessionLimits]) -> list[float]:
    """Share a pool limit among sessions: equal shares, each up to its maximum, the rest
    passed on (water filling). A share below a session's minimum rate is not possible: the
    session last in order is paused (0) and the rest shared again. The sum never exceeds
    ``max(limit_kw, 0)``; each share is 0 or within [min_kw, max_kw]."""
    active = list(range(len(sessions)))
    while True:
        shares = _water_fill(max(0.0, limit_kw), [sessions[i].max_kw for i in active])
        short = [n for n, i in enumerate(active) if shares[n] < sessions[i].min_kw - 1e-9]
        if not short:
            out = [0.0] * len(sessions)
            for n, i in enumerate(active):
                out[i] = shares[n]
            return out
        del active[short[-1]]


def _water_fill(total: float, caps: Sequence[float]) -> list[float]:
    shares = [0.0] * len(caps)
    left = total
    order = sorted(range(len(caps)), key=lambda i: caps[i])
    for n, i in enumerate(order):
        share = min(caps[i], left / (len(order) - n))
        shares[i] = share
        left -= share
    return shares


@dataclass(frozen=True)
class Lease:
    """A limit in force for the pool from ``valid_from`` to ``valid_until`` [kW]."""

    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    limit_kw: float


def segments(
    leases: Sequence[Lease], start: datetime
) -> list[tuple[datetime, datetime, float | None]]:
    """From ``start`` to the last ``valid_until``: the pool limit of each stretch (the lease
    issued last among those in force; None where no lease is)."""
    ends = [lease.valid_until for lease in leases if lease.valid_until > start]
    if not ends:
        return []
    cuts = sorted({start, *(c for lease in leases for c in (lease.valid_from, lease.valid_until))})
    cuts = [c for c in cuts if start <= c <= max(ends)]
    out: list[tuple[datetime, datetime, float | None]] = []
    for a, b in itertools.pairwise(cuts):
        live = [lease for lease in leases if lease.valid_from <= a < lease.valid_until]
        limit = max(live, key=lambda lease: lease.issued_at).limit_kw if live else None
        if out and out[-1][2] == limit:
            out[-1] = (out[-1][0], b, limit)
        else:
            out.append((a, b, limit))
    return out


def to_rate(power_kw: float, connector: Connector, unit: RateUnit) -> float:
    """A power in the profile's unit, rounded down to OCPP's 0.1 [W or A]."""
    value = power_kw * 1000.0 if unit == "W" else power_kw / connector.kw_per_a
    return math.floor(value * 10.0 + 1e-9) / 10.0


def from_rate(limit: float, connector: Connector, unit: RateUnit) -> float:
    """A profile limit back in kW."""
    return limit / 1000.0 if unit == "W" else limit * connector.kw_per_a


def iso(ts: datetime) -> str:
    return ts.isoformat()


def tx_profile(
    transaction_id: int,
    start: datetime,
    stretches: Sequence[tuple[datetime, datetime, float]],
    connector: Connector,
    unit: RateUnit,
) -> dict[str, object]:
    """A TxProfile (camelCase, as on the wire) for one transaction; ``stretches`` carry
    this session's share [kW], a gap its connector's maximum."""
    periods: list[dict[str, object]] = []
    for a, _, kw in stretches:
        limit = to_rate(kw, connector, unit)
        if periods and periods[-1]["limit"] == limit:
            continue
        periods.append({"startPeriod": int((a - start).total_seconds()), "limit": limit})
    end = stretches[-1][1]
    schedule: dict[str, object] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": periods,
        "duration": math.ceil((end - start).total_seconds()),
        "startSchedule": iso(start),
    }
    if connector.min_power_kw > 0:
        schedule["minChargingRate"] = to_rate(connector.min_power_kw, connector, unit)
    return {
        "chargingProfileId": transaction_id,
        "transactionId": transaction_id,
        "stackLevel": TX_STACK_LEVEL,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": schedule,
        "validFrom": iso(start),
        "validTo": iso(end),
    }


def station_max_profile(cp: ChargePointConfig, index: int, now: datetime) -> dict[str, object]:
    """ChargePointMaxProfile for connector 0: the station cap, with no end."""
    assert cp.max_kw is not None
    unit = cp.rate_unit
    first = cp.connectors[0]
    limit = to_rate(cp.max_kw, first, unit)
    return {
        "chargingProfileId": MAX_PROFILE_ID_BASE + index,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            "startSchedule": iso(now),
        },
    }
