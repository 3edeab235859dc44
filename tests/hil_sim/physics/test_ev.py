"""EV pool physics: uncontrolled charging, pool limits shared by least laxity, jitter."""

from datetime import timedelta

import numpy as np
import pytest

from vpp.domain import EvChargerPool, SetpointMode
from vpp.hil_sim.physics import Command, EvPoolDevice, allocate_least_laxity, shadow_of
from vpp.hil_sim.physics.ev import PlannedSession, plan_sessions

from builders import DAY, TZ, at


def pool(*sessions, max_kw=60.0, min_kw=0.0) -> EvChargerPool:
    chargers = sorted({s[0] for s in sessions})
    return EvChargerPool.model_validate(
        {
            "resource_id": "chargers",
            "chargers": [{"charger_id": c, "max_kw": max_kw, "min_kw": min_kw} for c in chargers],
            "sessions": [
                {"charger_id": c, "arrival": a, "departure": d, "energy_kwh": e}
                for c, a, d, e in sessions
            ],
        }
    )


def exact(spec: EvChargerPool, ramp_s=60.0) -> EvPoolDevice:
    """The pool with its nominal sessions on the test day (no jitter)."""
    planned = [
        PlannedSession(
            s.charger_id,
            (s.arrival.hour * 60 + s.arrival.minute) * 60.0,
            (s.arrival.hour * 60 + s.arrival.minute + s.connected_min) * 60.0,
            s.energy_kwh,
        )
        for s in spec.sessions
    ]
    return EvPoolDevice(spec, planned, day=DAY.date(), tz=TZ, ramp_s=ramp_s)


def run(device, start, minutes, command):
    t = start
    out = []
    for _ in range(minutes):
        out.append(device.step(t, t + timedelta(minutes=1), command))
        t += timedelta(minutes=1)
    return out


def test_ev_uncontrolled_charges_at_max_until_energy_met():
    """Normal operation: full power from arrival until the vehicle has its energy."""
    device = exact(pool(("c1", "10:00", "14:00", 30.0)))
    powers = run(device, at(10), 60, None)
    assert powers[0] == pytest.approx(60.0 - 60.0 * 60.0 / 2.0 / 60.0)  # ramp 0 -> 60 kW in 60 s
    assert powers[10] == pytest.approx(60.0)
    assert sum(powers) / 60.0 == pytest.approx(30.0)
    assert powers[-1] == 0.0


def test_allocate_least_laxity_serves_the_tightest_session_first():
    """The session with the least slack gets the limit; the other waits."""
    out = allocate_least_laxity(
        50.0, cap_kw=np.array([50.0, 50.0]), min_kw=np.zeros(2), laxity_h=np.array([2.0, 0.5])
    )
    np.testing.assert_allclose(out, [0.0, 50.0])


def test_allocate_least_laxity_skips_a_charger_below_its_minimum():
    """What is left below a charger's min_kw goes to the next session that can use it."""
    out = allocate_least_laxity(
        70.0,
        cap_kw=np.array([60.0, 60.0, 10.0]),
        min_kw=np.array([6.0, 12.0, 1.0]),
        laxity_h=np.array([0.1, 0.2, 0.3]),
    )
    np.testing.assert_allclose(out, [60.0, 0.0, 10.0])


def test_ev_pool_limit_allocated_by_least_laxity():
    """Under a pool limit the vehicle leaving soon charges; the one staying long waits."""
    spec = pool(("c1", "10:00", "11:00", 40.0), ("c2", "10:00", "18:00", 40.0))
    device = exact(spec)
    powers = run(device, at(10), 30, Command(SetpointMode.LIMIT, 60.0))
    assert max(powers) <= 60.0 + 1e-9
    assert powers[-1] == pytest.approx(60.0)
    assert device.delivered_kwh[0] == pytest.approx(sum(powers) / 60.0)
    assert device.delivered_kwh[1] == 0.0


def test_ev_pool_records_unmet_energy_at_departure():
    """A vehicle held at zero leaves without its energy; the record says how much."""
    device = exact(pool(("c1", "10:00", "11:00", 40.0)))
    run(device, at(10), 61, Command(SetpointMode.LIMIT, 0.0))
    (left,) = device.departures
    assert left.unmet_kwh == pytest.approx(40.0)
    assert left.shortfall_kwh == pytest.approx(40.0)
    assert left.departure == at(11)
    assert device.unmet_energy_kwh == pytest.approx(40.0)


def test_ev_session_plugged_in_before_the_run_has_charged_uncontrolled():
    """A run starting mid-session finds the vehicle charged as if uncontrolled since arrival."""
    device = exact(pool(("c1", "09:30", "14:00", 40.0)))
    device.step(at(10), at(10) + timedelta(minutes=1), None)
    assert device.delivered_kwh[0] == pytest.approx(31.0)  # 30 kWh by 10:00, then 1 min at 60


def test_plan_sessions_jitter_is_seeded_and_bounded():
    """Arrivals move within +/-15 min, energies within +/-10 %, the same for the same seed."""
    spec = pool(("c1", "08:00", "10:00", 30.0), ("c1", "12:00", "15:00", 30.0))

    def draw(seed):
        rngs = {
            DAY.date() + timedelta(days=k): np.random.default_rng([seed, k + 1]) for k in (-1, 0, 1)
        }
        return plan_sessions(spec, DAY.date(), TZ, rngs)

    first = draw(1)
    assert first == draw(1)
    assert first != draw(2)
    today = [s for s in first if 0 <= s.departure_s <= 86_400]
    for s in today:
        nominal = 8 * 3600.0 if s.departure_s == 10 * 3600.0 else 12 * 3600.0
        assert abs(s.arrival_s - nominal) <= 15 * 60.0
        assert 27.0 <= s.energy_kwh <= 33.0


def test_plan_sessions_overnight_session_starts_the_day_before():
    """A session whose departure is before its arrival spans midnight into the day."""
    spec = pool(("c1", "22:00", "06:00", 30.0))
    rngs = {DAY.date() + timedelta(days=k): np.random.default_rng(k + 5) for k in (-1, 0, 1)}
    sessions = plan_sessions(spec, DAY.date(), TZ, rngs, arrival_jitter_min=0)
    overnight = sessions[0]
    assert overnight.arrival_s == -2 * 3600.0
    assert overnight.departure_s == 6 * 3600.0


def test_shadow_of_runs_on_its_own_and_shares_only_what_never_changes():
    """The counterfactual twin of a pool half-way through its day: same state, then its
    own; the registered pool and the planned sessions are shared, the state is not."""
    device = exact(pool(("c1", "09:00", "12:00", 100.0), ("c2", "09:30", "11:00", 80.0)))
    run(device, at(9), 45, None)
    twin = shadow_of(device)
    assert twin.resource is device.resource
    assert twin.sessions is not device.sessions
    assert twin.sessions[0] is device.sessions[0]
    assert twin.delivered_kwh is not device.delivered_kwh
    limited = run(device, at(9.75), 30, Command(SetpointMode.LIMIT, 10.0))
    free = run(twin, at(9.75), 30, None)
    assert max(limited[1:]) <= 10.0 + 1e-9  # after the ramp down
    assert free[0] == pytest.approx(120.0)
    assert twin.delivered_kwh.sum() > device.delivered_kwh.sum()


class _NeverQuiet(EvPoolDevice):
    """The same pool computing every sub-step in full (no idle short cut)."""

    def _note_quiet(self, s):
        self._quiet_until_s = -float("inf")


def test_ev_pool_idle_short_cut_changes_nothing():
    """Sub-steps skipped while every plugged-in car has its energy (and before the first
    arrival) give what the full arithmetic gives, bit for bit, with and without limits;
    and the short cut is taken."""
    spec = pool(
        ("c1", "01:00", "07:00", 20.0),
        ("c1", "08:00", "12:00", 90.0),
        ("c2", "08:30", "18:00", 10.0),
        ("c2", "19:00", "23:00", 5.0),
        ("c3", "22:00", "06:00", 40.0),
    )
    rngs = {DAY.date() + timedelta(days=k): np.random.default_rng(k + 3) for k in (-1, 0, 1)}
    sessions = plan_sessions(spec, DAY.date(), TZ, rngs)
    fast = EvPoolDevice(spec, sessions, day=DAY.date(), tz=TZ)
    full = _NeverQuiet(spec, sessions, day=DAY.date(), tz=TZ)
    skipped = 0
    t = at(0)
    for minute in range(24 * 60):
        command = Command(SetpointMode.LIMIT, 25.0) if 600 <= minute < 700 else None
        skipped += fast.clock.seconds(t) < fast._quiet_until_s
        end = t + timedelta(minutes=1)
        assert fast.step(t, end, command) == full.step(t, end, command)
        t = end
    assert np.array_equal(fast.delivered_kwh, full.delivered_kwh)
    assert fast.departures == full.departures
    assert skipped > 60


def test_ev_pool_reports_the_energy_its_plugged_in_vehicles_still_need():
    """What the gateway tells the controller: the need of the cars plugged in less what
    they got; a car not yet arrived or gone owes nothing, and a limit holds energy back."""
    device = exact(pool(("c1", "10:00", "14:00", 30.0), ("c2", "11:00", "15:00", 20.0)))
    run(device, at(9), 59, None)
    assert device.energy_owed_kwh == 0.0  # no car yet (the first arrives at 10:00)
    run(device, at(9) + timedelta(minutes=59), 1, None)
    run(device, at(10), 10, Command(SetpointMode.LIMIT, 0.0))  # held at nothing
    assert device.energy_owed_kwh == pytest.approx(30.0)
    run(device, at(10) + timedelta(minutes=10), 20, None)
    assert device.energy_owed_kwh == pytest.approx(30.0 - sum(device.delivered_kwh), abs=1e-9)
    assert 0.0 < device.energy_owed_kwh < 30.0
    run(device, at(10.5), 90, None)  # c1 done, c2 arrived at 11:00 and charging
    assert device.energy_owed_kwh == pytest.approx(20.0 - device.delivered_kwh[1], abs=1e-9)
    run(device, at(12), 240, None)
    assert device.energy_owed_kwh == 0.0


def test_ev_pool_energy_owed_kept_between_quiet_readings_is_what_its_arrays_give():
    """Read every minute of a day with overnight cars, limits and cars still owing at
    departure: the figure kept while nothing moves is the one worked out afresh, and it is
    kept for most quiet minutes."""
    spec = pool(
        ("c1", "01:00", "07:00", 20.0),
        ("c1", "08:00", "12:00", 300.0),  # leaves owing
        ("c2", "08:30", "18:00", 10.0),
        ("c2", "19:00", "23:00", 5.0),
        ("c3", "22:00", "06:00", 40.0),
    )
    rngs = {DAY.date() + timedelta(days=k): np.random.default_rng(k + 5) for k in (-1, 0, 1)}
    device = EvPoolDevice(spec, plan_sessions(spec, DAY.date(), TZ, rngs), day=DAY.date(), tz=TZ)
    kept = 0
    t = at(0)
    for minute in range(24 * 60):
        command = Command(SetpointMode.LIMIT, 10.0) if 540 <= minute < 600 else None
        end = t + timedelta(minutes=1)
        device.step(t, end, command)
        t = end
        held = device._owed
        kept += (
            held is not None
            and held[:2] == (device._changes, device._quiet_until_s)
            and device._last_s < device._quiet_until_s
        )
        plugged = (device.arrival_s <= device._last_s) & ~device.left
        afresh = np.maximum(np.where(plugged, device.need_kwh - device.delivered_kwh, 0.0), 0.0)
        assert device.energy_owed_kwh == float(afresh.sum())
    assert kept > 60
