"""EV pools: uncontrolled baseline, and every session gets its energy by departure."""

import numpy as np
import pytest

from vpp.domain import EvChargerPool, TimeGrid
from vpp.optimizer import DispatchSettings, build_model, dispatch
from vpp.optimizer.resources.ev_charger import place_sessions
from vpp.optimizer.solve import solve

from builders import DAY, TZ, district, enterprise, event, problem


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
