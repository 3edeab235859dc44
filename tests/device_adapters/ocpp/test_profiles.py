"""The pool limit's split over sessions and the TxProfile built from a pool's leases."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from vpp.device_adapters.ocpp.config import Connector
from vpp.device_adapters.ocpp.profiles import (
    Lease,
    SessionLimits,
    segments,
    split_limit,
    tx_profile,
)

from builders import at

sessions = st.lists(
    st.tuples(st.floats(0.5, 50.0), st.floats(0.0, 1.0)).map(
        lambda t: SessionLimits(max_kw=t[0], min_kw=t[0] * t[1])
    ),
    max_size=8,
)


@given(st.floats(-100.0, 500.0), sessions)
def test_a_split_never_exceeds_the_limit_nor_a_session_range(
    limit_kw: float, limits: list[SessionLimits]
) -> None:
    shares = split_limit(limit_kw, limits)
    assert len(shares) == len(limits)
    assert sum(shares) <= max(limit_kw, 0.0) + 1e-6
    for share, lim in zip(shares, limits, strict=True):
        assert share == 0.0 or lim.min_kw - 1e-9 <= share <= lim.max_kw + 1e-9


@given(st.floats(0.0, 500.0), st.lists(st.floats(0.5, 50.0), min_size=1, max_size=8))
def test_a_split_without_minimum_rates_uses_all_it_may(
    limit_kw: float, maxima: list[float]
) -> None:
    shares = split_limit(limit_kw, [SessionLimits(m, 0.0) for m in maxima])
    assert abs(sum(shares) - min(limit_kw, sum(maxima))) <= 1e-6


def test_the_next_lease_follows_the_current_one_in_one_schedule() -> None:
    now = at(11)
    leases = [
        Lease(now, now, now + timedelta(minutes=15), 10.0),
        Lease(now, now + timedelta(minutes=15), now + timedelta(minutes=30), 4.0),
    ]
    stretches = segments(leases, now + timedelta(minutes=14))
    assert [s[2] for s in stretches] == [10.0, 4.0]
    connector = Connector(connector_id=1, max_a=16, phases=3)
    own = [(a, b, limit or 11.0) for a, b, limit in stretches]
    profile = tx_profile(7, now + timedelta(minutes=14), own, connector, "A")
    schedule = profile["chargingSchedule"]
    assert isinstance(schedule, dict)
    assert schedule["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 14.4},  # 10 kW at 3 x 230 V, rounded down
        {"startPeriod": 60, "limit": 5.7},
    ]
    assert profile["validTo"] == (now + timedelta(minutes=30)).isoformat()
    assert schedule["duration"] == 16 * 60
