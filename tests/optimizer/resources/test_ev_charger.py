"""EV pools: uncontrolled baseline, and every session gets its energy by departure."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from bench.instances import make_instance
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from vpp.domain import EvChargerPool, TimeGrid
from vpp.optimizer import DispatchSettings, build_model, dispatch
from vpp.optimizer.emit_highs import solve_highs, to_highs
from vpp.optimizer.resources.ev_charger import (
    PoolSeparator,
    SessionBounds,
    SpanLimits,
    _on_grid,
    arrivals_kwh,
    place_sessions,
    planned_energy_owed_kwh,
    plug_ins,
    support_kw,
    with_energy_owed,
)
from vpp.optimizer.solve import solve

from builders import DAY, TZ, district, enterprise, event, problem
from builders import at as at_hour


def _pool(sessions, chargers=(("c1", 120.0),), price=0.3):
    return {
        "kind": "ev_charger_pool",
        "resource_id": "pool",
        "price_cny_per_kwh": price,
        "chargers": [{"charger_id": c, "max_kw": kw} for c, kw in chargers],
        "sessions": [
            {"charger_id": c, "arrival": a, "departure": dep, "energy_kwh": e}
            for c, a, dep, e in sessions
        ],
    }


def test_place_sessions_baseline_charges_at_full_power_from_arrival():
    """Uncontrolled charging: 120 kW from 10:30 until 150 kWh are in (1.25 h)."""
    pool = EvChargerPool.model_validate(_pool([("c1", "10:30", "14:00", 150.0)]))
    (placed,) = [
        p for p in place_sessions(pool, TimeGrid.for_day(DAY.date(), TZ)) if p.arrive == 42
    ]
    assert np.allclose(placed.baseline_kw[42:47], 120.0)
    assert placed.baseline_kw[47] == pytest.approx(0.0)
    assert placed.baseline_kw.sum() * 0.25 == pytest.approx(150.0)


# Days with a clock change: spring forward and fall back, at 02:00, 03:00 and at midnight.
_CLOCK_CHANGES = [
    ("Europe/Berlin", (2026, 3, 28, 20)),
    ("Europe/Berlin", (2026, 10, 24, 21)),
    ("America/New_York", (2026, 11, 1, 0, 30)),
    ("America/Santiago", (2026, 4, 4, 18)),
    ("America/Havana", (2026, 3, 7, 22)),
    ("Australia/Lord_Howe", (2026, 4, 4, 12)),
    ("Asia/Shanghai", (2026, 7, 15, 10)),
]


@settings(max_examples=60, deadline=None)
@given(
    change=st.sampled_from(_CLOCK_CHANGES),
    shift_min=st.integers(-24 * 60, 24 * 60),
    interval_min=st.sampled_from([5, 15, 30, 60]),
    count=st.integers(1, 200),
    arrivals=st.lists(
        st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(1, 24 * 60 - 1)),
        min_size=1,
        max_size=8,
    ),
)
def test_plug_ins_place_each_session_as_its_wall_clock_arrival_does(
    change, shift_min, interval_min, count, arrivals
):
    """A day's plug-ins are placed at once from the day's UTC midnight; where the clocks
    change that day, or any other, each lands where its own local arrival puts it."""
    zone, moment = change
    tz = ZoneInfo(zone)
    start = datetime(*moment, tzinfo=tz) + timedelta(minutes=shift_min)
    grid = TimeGrid(start=start, interval_min=interval_min, count=count)
    sessions = []
    for k, (hour, minute, connected) in enumerate(arrivals):
        departure = (hour * 60 + minute + connected) % 1440
        sessions.append(
            (
                f"c{k}",
                f"{hour:02d}:{minute:02d}",
                f"{departure // 60:02d}:{departure % 60:02d}",
                20.0,
            )
        )
    pool = EvChargerPool.model_validate(
        _pool(sessions, chargers=tuple((f"c{k}", 11.0) for k in range(len(sessions))))
    )
    placed = plug_ins(pool, grid)
    first_day = grid.start.astimezone(tz).date() - timedelta(days=1)
    n = len(pool.sessions)
    for j, (i, arrive, depart) in enumerate(
        zip(placed.session.tolist(), placed.arrive.tolist(), placed.depart.tolist(), strict=True)
    ):
        session = pool.sessions[i]
        day = first_day + timedelta(days=j // n)
        assert (arrive, depart) == _on_grid(
            grid.start.astimezone(UTC),
            interval_min,
            tz,
            day,
            session.arrival,
            session.connected_min,
        )


def test_place_sessions_overnight_session_reaches_into_the_next_day():
    """A plug-in at 20:00 leaving at 07:00 is split over the horizon edges."""
    pool = EvChargerPool.model_validate(
        _pool([("c1", "20:00", "07:00", 30.0)], chargers=(("c1", 7.0),))
    )
    placed = place_sessions(pool, TimeGrid.for_day(DAY.date(), TZ))
    evening = [p for p in placed if p.arrive == 80]
    assert len(evening) == 1
    assert evening[0].need_in_horizon_kwh == pytest.approx(
        0.0
    )  # 11 h after midnight can still fill it
    morning = [p for p in placed if p.arrive < 0]
    assert len(morning) == 1
    assert morning[0].baseline_kw[:4].sum() > 0  # still charging after midnight uncontrolled


def test_add_ev_charger_pool_delivers_each_session_by_departure():
    """Charging moves out of the event window but every session still gets its energy."""
    sessions = [("c1", "10:30", "15:00", 150.0), ("c2", "11:00", "13:30", 60.0)]
    d = district(
        enterprise(
            "station",
            [_pool(sessions, chargers=(("c1", 120.0), ("c2", 60.0)))],
            sector="public_charging",
        )
    )
    settings = DispatchSettings()
    built = build_model(problem(d, event(11, 13, target_kw=100)), settings)
    raw = solve(built.model, settings)
    charge = built.model.value(raw.x, "ev_charger_pool.session_kw")
    block = built.blocks[0]
    pool = d.enterprises[0].sites[0].resources[0]
    placed = place_sessions(pool, built.context.grid)
    # Each placed session's variables sit together, in placement order.
    offset = 0
    for session in placed:
        n = min(session.depart, 96) - max(session.arrive, 0)
        delivered = charge[offset : offset + n].sum() * 0.25
        assert delivered >= session.need_in_horizon_kwh - 1e-6
        assert charge[offset : offset + n].max() <= session.max_kw + 1e-6
        offset += n
    power = raw.x[block.power_idx[0]]
    assert power[44:52].mean() < block.baseline_kw[0, 44:52].mean()


def test_add_ev_charger_pool_cannot_reduce_beyond_its_baseline():
    """A pool that charges nothing during the event has nothing to offer."""
    d = district(
        enterprise("station", [_pool([("c1", "15:00", "18:00", 100.0)])], sector="public_charging")
    )
    result = dispatch(problem(d, event(11, 13, target_kw=50)))
    assert result.max_shortfall_kw == pytest.approx(50.0)
    assert result.violations == ()


# --- energy owed: the plan held against what the field's vehicles still need ---------


def test_planned_energy_owed_is_arrived_need_less_what_the_pool_gave():
    """Two cars: 150 kWh from 10:30 and 60 kWh from 11:00. Uncontrolled, the first owes
    150 kWh at 10:30 and 30 kWh at 11:30; held back an hour, each boundary owes what the
    pool did not give."""
    grid = TimeGrid.for_day(DAY.date(), TZ)
    pool = EvChargerPool.model_validate(
        _pool(
            [("c1", "10:30", "15:00", 150.0), ("c2", "11:00", "13:30", 60.0)],
            chargers=(("c1", 120.0), ("c2", 60.0)),
        )
    )
    baseline = sum(p.baseline_kw for p in place_sessions(pool, grid))
    owed = planned_energy_owed_kwh(pool, grid, baseline)
    assert owed.shape == (97,)
    assert owed[42] == pytest.approx(150.0)  # 10:30, c1 just arrived
    assert owed[44] == pytest.approx(150.0 - 60.0 + 60.0)  # 11:00: c1 had 60, c2 arrives
    assert owed[46] == pytest.approx(150.0 - 120.0 + 60.0 - 30.0)
    assert owed[60] == pytest.approx(0.0)
    held = baseline.copy()
    held[44:48] = 0.0  # nothing 11:00-12:00
    owed_held = planned_energy_owed_kwh(pool, grid, held)
    assert owed_held[48] == pytest.approx(owed[48] + baseline[44:48].sum() * 0.25)


def test_a_pool_rewritten_with_its_energy_owed_catches_up_that_energy_from_then():
    """At 12:00 the plugged-in cars (c1 since 10:30, c2 since 11:00) owe 200 kWh between
    them; a car arriving at 16:00 is left as registered. Uncontrolled from 12:00, the
    rewritten pool draws those 200 kWh, then the late car's own."""
    grid = TimeGrid.for_day(DAY.date(), TZ)
    pool = EvChargerPool.model_validate(
        _pool(
            [
                ("c1", "10:30", "15:00", 150.0),
                ("c2", "11:00", "13:30", 60.0),
                ("c2", "16:00", "18:00", 40.0),
            ],
            chargers=(("c1", 120.0), ("c2", 60.0)),
        )
    )
    owing = with_energy_owed(pool, grid, 48, 200.0)
    by_arrival = sorted((s.arrival.isoformat(), s.charger_id, s.energy_kwh) for s in owing.sessions)
    assert by_arrival == [
        ("12:00:00", "c1", pytest.approx(200.0 * 150 / 210)),
        ("12:00:00", "c2", pytest.approx(200.0 * 60 / 210)),
        ("16:00:00", "c2", 40.0),
    ]
    baseline = sum(p.baseline_kw for p in place_sessions(owing, grid))
    assert baseline[:48].sum() == pytest.approx(0.0)
    assert baseline[48:64].sum() * 0.25 == pytest.approx(200.0)
    assert planned_energy_owed_kwh(owing, grid, baseline)[48] == pytest.approx(200.0)
    assert with_energy_owed(pool, grid, 8, 50.0) is pool  # 02:00: no car plugged in


def test_arrivals_are_the_need_of_cars_registered_to_plug_in_within_a_span():
    """After ``start``, by ``end``, any day, in the district's local time whatever offset the
    span is given in; each car's need capped by its charger over its connection (a 7 kW
    charger plugged in 2 h gives 14 kWh at most)."""
    pool = EvChargerPool.model_validate(
        _pool(
            [
                ("c1", "17:00", "22:00", 40.0),
                ("c2", "17:20", "19:20", 30.0),
                ("c3", "00:10", "06:00", 20.0),
            ],
            chargers=(("c1", 60.0), ("c2", 7.0), ("c3", 7.0)),
        )
    )

    def arrivals(start_h: float, end_h: float) -> float:
        return arrivals_kwh(pool, TZ, at_hour(start_h), at_hour(end_h))

    assert arrivals(17, 17.5) == pytest.approx(14.0)  # c1's 17:00 is not after 17:00
    assert arrivals(16.9, 17.5) == pytest.approx(54.0)
    assert arrivals(23.9, 24.5) == pytest.approx(20.0)  # the next day's
    assert arrivals(18, 23) == 0.0
    in_utc = arrivals_kwh(pool, TZ, at_hour(16.9).astimezone(UTC), at_hour(17.5).astimezone(UTC))
    assert in_utc == pytest.approx(54.0)
    west = timezone(timedelta(hours=-5))
    in_west = arrivals_kwh(pool, TZ, at_hour(16.9).astimezone(west), at_hour(17.5))
    assert in_west == pytest.approx(54.0)
    with pytest.raises(ValueError, match="aware"):
        arrivals_kwh(pool, TZ, at_hour(17).replace(tzinfo=None), at_hour(18))


# --- the pooled model: pool power, session feasibility checked lazily -----------------

POOLED = DispatchSettings(mip_rel_gap=1e-7, time_limit_s=60, decompose_above_resources=None)


def _lp_optimum(problem, ev_model):
    settings = POOLED.model_copy(update={"ev_model": ev_model})
    m = build_model(problem, settings).model
    raw = solve_highs(m, settings, integer=np.zeros(m.n_vars, dtype=bool))
    assert raw.x is not None
    return raw.objective_cny, m


@pytest.mark.parametrize(("n_resources", "n_intervals", "seed"), [(40, 16, 0), (60, 16, 3)])
def test_pooled_relaxation_has_the_per_session_optimum(n_resources, n_intervals, seed):
    """The LP optima agree within 1e-6 relative (exact up to solver tolerances), with
    about half the columns: the lazy cuts leave no point the sessions cannot deliver."""
    problem = make_instance(n_resources, n_intervals, seed).problem
    pooled, m_pooled = _lp_optimum(problem, "pooled")
    per_session, m_sessions = _lp_optimum(problem, "sessions")
    assert pooled == pytest.approx(per_session, rel=1e-6)
    assert m_pooled.n_vars < m_sessions.n_vars


@pytest.mark.parametrize("seed", [1, 5])
def test_pooled_dispatch_reaches_the_per_session_optimum(seed):
    """The MILP too (both proven within 1e-7), and every session can take its pool's power."""
    problem = make_instance(30, 16, seed).problem
    sessions = dispatch(problem, POOLED)
    pooled = dispatch(problem, POOLED.model_copy(update={"ev_model": "pooled"}))
    assert pooled.violations == ()
    assert pooled.solve.objective_cny == pytest.approx(sessions.solve.objective_cny, rel=2e-6)
    built = build_model(problem, POOLED.model_copy(update={"ev_model": "pooled"}))
    (separator,) = built.model.separators
    power = {(s.site_id, s.resource_id): np.array(s.power_kw) for s in pooled.schedules}
    (kb,) = [kb for kb in built.blocks if kb.kind == "ev_charger_pool"]
    planned = np.array([power[(ref.site.site_id, ref.resource.resource_id)] for ref in kb.refs])
    assert separator._support_cuts(planned) == []


def _sessions(rng, n_sessions, n_t):
    arrive = rng.integers(0, n_t, n_sessions)
    depart = np.minimum(arrive + rng.integers(1, n_t + 1, n_sessions), n_t)
    max_kw = rng.choice([7.0, 60.0, 120.0], n_sessions)
    on = (np.arange(n_t) >= arrive[:, None]) & (np.arange(n_t) < depart[:, None])
    upper = np.where(on, max_kw[:, None], 0.0)
    capacity = upper.sum(axis=1) * 0.25
    need_hi = capacity * rng.uniform(0, 1, n_sessions)
    need_lo = need_hi * rng.choice([0.0, 1.0, 0.5], n_sessions)
    return SessionBounds(
        np.zeros(n_sessions, dtype=np.int64),
        np.zeros_like(upper),
        upper,
        need_lo,
        need_hi,
        np.zeros((1, n_t)),
        on,
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), direction_seed=st.integers(0, 10_000))
def test_support_is_the_most_the_sessions_can_draw_in_a_direction(seed, direction_seed):
    """The greedy support function equals the LP maximum of y . (sum of sessions)."""
    rng = np.random.default_rng(seed)
    n_t, n_s = 8, int(rng.integers(1, 6))
    s = _sessions(rng, n_s, n_t)
    y = np.random.default_rng(direction_seed).choice([-1.0, 0.0, 0.5, 1.0], n_t)
    mine = np.ones(n_s, dtype=bool)
    # the same maximum by linprog over every (session, interval) column
    a_eq = np.kron(np.eye(n_s), np.full((1, n_t), 0.25))
    lp = linprog(
        -np.tile(y, n_s),
        A_ub=np.vstack([a_eq, -a_eq]),
        b_ub=np.concatenate([s.need_hi_kwh, -s.need_lo_kwh]),
        bounds=list(zip(s.lower_kw.ravel(), s.upper_kw.ravel(), strict=True)),
    )
    assert lp.status == 0
    assert support_kw(s, mine, y, 0.25) == pytest.approx(-lp.fun, abs=1e-6)


def test_separator_cuts_a_pool_power_its_sessions_cannot_deliver():
    """Two sessions: one may charge 1 interval's worth over [0, 3), the other only in
    interval 1. Full power in intervals 0 and 2 fits every span limit but not the sessions;
    the separator's cut removes it and keeps what the sessions can do."""
    upper = np.array([[10.0, 10.0, 10.0], [0.0, 10.0, 0.0]])
    s = SessionBounds(
        np.zeros(2, dtype=np.int64),
        np.zeros_like(upper),
        upper,
        np.zeros(2),
        np.array([2.5, 2.5]),
        np.zeros((1, 3)),
        upper > 0,
    )
    spans = SpanLimits.of(s, 1, 3, 0.25)
    power = np.arange(3).reshape(1, 3)
    drawn = 3 + np.arange(4).reshape(1, 4)
    separator = PoolSeparator(s, spans, power, drawn, 0.25)
    x = np.array([10.0, 0.0, 10.0, 0.0, 10.0, 10.0, 20.0])
    assert separator._span_cuts(x) == []
    cuts = separator(x)
    assert cuts
    for cut in cuts:
        assert cut.vals @ x[cut.cols] > cut.upper + 1e-6
        for feasible in ([10.0, 0.0, 0.0], [0.0, 10.0, 10.0], [5.0, 10.0, 5.0]):
            assert cut.vals @ np.array(feasible) <= cut.upper + 1e-9


def test_a_model_with_lazy_rows_is_refused_by_a_solver_that_does_not_check_them():
    problem = make_instance(20, 16, 0).problem
    settings = POOLED.model_copy(update={"ev_model": "pooled"})
    m = build_model(problem, settings).model
    with pytest.raises(ValueError, match="lazy"):
        to_highs(m, settings)
