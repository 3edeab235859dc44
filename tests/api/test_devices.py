"""What a simulated gateway reads from the faults struck on it by hand (api.devices)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from vpp.api.devices import StruckFault, site_faults

T0 = datetime(2026, 7, 15, 3, tzinfo=UTC)

faults = st.lists(
    st.builds(
        lambda kind, resource, start, minutes: StruckFault(
            kind=kind,
            site_id="s",
            resource_id=None if kind == "offline" else resource,
            start=T0 + timedelta(minutes=start),
            end=T0 + timedelta(minutes=start + minutes),
        ),
        st.sampled_from(["offline", "telemetry_silent", "stuck_meter", "ignore_commands"]),
        st.sampled_from(["a", "b"]),
        st.integers(0, 120),
        st.integers(1, 60),
    ),
    max_size=8,
)


@given(struck=faults, at_min=st.integers(0, 200))
def test_every_active_fault_is_played_and_no_ended_one_but_the_last_offline(
    struck: list[StruckFault], at_min: int
) -> None:
    now = T0 + timedelta(minutes=at_min)
    played = site_faults(struck, now)
    for f in struck:
        if f.active(now):
            if f.kind == "offline":
                assert played.offline is not None
                assert played.offline.covers(now)
            elif f.kind == "ignore_commands":
                assert f.resource_id in played.ignore_commands
            else:
                spans = getattr(played, f.kind)
                assert spans[f.resource_id].covers(now)
    active = {(f.kind, f.resource_id) for f in struck if f.active(now)}
    assert {("ignore_commands", r) for r in played.ignore_commands} <= active
    for kind in ("telemetry_silent", "stuck_meter"):
        for resource_id, span in getattr(played, kind).items():
            assert span.covers(now) == ((kind, resource_id) in active)
    offline = [f for f in struck if f.kind == "offline"]
    assert (played.offline is None) == (not offline)
    if offline and not any(f.active(now) for f in offline):
        # the gateway comes back when it sees the end of the last one
        assert played.offline is not None
        assert played.offline.end == max(f.end for f in offline)
