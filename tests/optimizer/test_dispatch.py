"""Whole dispatches: shortfall, feeders, rotation, determinism, backends, setpoint leases."""

import numpy as np
import pytest

from vpp.optimizer import DispatchSettings, check_dispatch, dispatch, max_sustained_response

from builders import at, battery, curtailable, district, enterprise, event, problem


def test_dispatch_impossible_target_gives_maximal_response_and_shortfall():
    """No 'infeasible': the portfolio gives all it can and the shortfall is the rest."""
    d = district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 2.0)])]),
        enterprise("store", [battery(soc_initial=0.9)]),
    )
    ev = event(target_kw=5000)
    result = dispatch(problem(d, ev))
    most, _ = max_sustained_response(problem(d, ev), DispatchSettings(mip_rel_gap=0))
    responses = [i.expected_response_kw for i in result.event_intervals]
    assert min(responses) == pytest.approx(most, rel=1e-4)
    assert result.max_shortfall_kw == pytest.approx(5000 - most, rel=1e-4)
    assert not result.meets_target
    assert result.solve.status.value == "optimal"
    assert result.violations == ()


def test_dispatch_keeps_rebound_under_the_feeder_limit():
    """A cheap load whose rebound would overload its feeder loses to a dearer one elsewhere."""
    cheap = enterprise(
        "cheap", [curtailable("line", [(400, 1.0)], rebound_fraction=1.0)], feeder_id="tight"
    )
    dear = enterprise(
        "dear", [curtailable("line", [(400, 1.5)], rebound_fraction=1.0)], feeder_id="roomy"
    )
    feeders = [
        {"feeder_id": "tight", "capacity_kw": 1200.0, "background_load_kw": [0.0] * 24},
        {"feeder_id": "roomy", "capacity_kw": 5000.0, "background_load_kw": [0.0] * 24},
    ]
    result = dispatch(problem(district(cheap, dear, feeders=feeders), event(target_kw=300)))
    tight = next(s for s in result.schedules if s.feeder_id == "tight")
    assert max(tight.power_kw) <= 1200.0 + 1e-6
    assert next(s for s in result.schedules if s.feeder_id == "roomy").setpoint_kw[44] is not None


def test_dispatch_prefers_the_cheap_load_when_its_feeder_has_room():
    """Control for the feeder test: with headroom the cheaper load is chosen."""
    cheap = enterprise(
        "cheap", [curtailable("line", [(400, 1.0)], rebound_fraction=1.0)], feeder_id="f1"
    )
    dear = enterprise(
        "dear", [curtailable("line", [(400, 1.5)], rebound_fraction=1.0)], feeder_id="f1"
    )
    result = dispatch(problem(district(cheap, dear), event(target_kw=300)))
    chosen = [
        s.enterprise_id for s in result.schedules if any(v is not None for v in s.setpoint_kw)
    ]
    assert chosen == ["cheap"]


def test_dispatch_rotation_makes_recently_called_enterprises_dearer():
    """Two equal loads: the enterprise called more often this round is spared."""
    loads = [enterprise(name, [curtailable("line", [(300, 1.0)])]) for name in ("alpha", "beta")]
    d = district(*loads, rotation_counts={"alpha": 3})
    result = dispatch(problem(d, event(target_kw=250)))
    chosen = [
        s.enterprise_id for s in result.schedules if any(v is not None for v in s.setpoint_kw)
    ]
    assert chosen == ["beta"]
    assert result.costs.rotation_cny == pytest.approx(0.0)


def test_dispatch_is_deterministic():
    """The same input gives the same schedules, to the last digit."""
    d = district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 1.5)])]),
        enterprise("store", [battery(soc_initial=0.7, soc_final_min=0.5)]),
    )
    first = dispatch(problem(d, event(target_kw=450)))
    second = dispatch(problem(d, event(target_kw=450)))
    assert [s.power_kw for s in first.schedules] == [s.power_kw for s in second.schedules]


@pytest.mark.parametrize("target_kw", [150.0, 450.0, 2000.0], ids=["small", "mixed", "impossible"])
def test_dispatch_highs_and_pyomo_backends_agree(target_kw):
    """The direct HiGHS emitter and the Pyomo emitter solve the same model."""
    d = district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 1.5)], rebound_fraction=0.3)]),
        enterprise("store", [battery(soc_initial=0.7, soc_final_min=0.5)]),
    )
    direct = dispatch(problem(d, event(target_kw=target_kw)), DispatchSettings(mip_rel_gap=0))
    via_pyomo = dispatch(
        problem(d, event(target_kw=target_kw)), DispatchSettings(mip_rel_gap=0, backend="pyomo")
    )
    assert direct.solve.objective_cny == pytest.approx(via_pyomo.solve.objective_cny, rel=1e-6)
    assert via_pyomo.solve.backend == "pyomo"


def test_dispatch_setpoints_expire_at_the_end_of_their_interval():
    """Every setpoint is a lease: valid for its own interval and no longer."""
    d = district(enterprise("mill", [curtailable("line", [(300, 1.0)])]))
    result = dispatch(problem(d, event(target_kw=250)))
    setpoints = result.setpoints(result.event.issued_at)
    assert len(setpoints) == 8
    for sp in setpoints:
        assert sp.valid_until - sp.valid_from == result.grid.interval
        assert result.event.start <= sp.valid_from < result.event.end
        assert sp.power_kw == pytest.approx(700.0)  # limit: 1000 kW baseline less the step


def test_dispatch_over_delivers_by_the_planned_margin_only():
    """The target margin absorbs the MIP gap without buying much more than asked."""
    d = district(enterprise("store", [battery(soc_initial=0.9)]))
    result = dispatch(problem(d, event(target_kw=200)))
    responses = np.array([i.expected_response_kw for i in result.event_intervals])
    assert np.all(responses >= 200.0)
    assert np.all(responses <= 200.0 * 1.005 + 1e-6)


def test_dispatch_never_overloads_a_feeder_to_meet_a_target():
    """A step whose rebound would overload the feeder is not used; the shortfall is reported."""
    load = curtailable("line", [(300, 1.0)], rebound_fraction=0.5)
    feeders = [{"feeder_id": "f1", "capacity_kw": 1100.0, "background_load_kw": [0.0] * 24}]
    d = district(enterprise("mill", [load]), feeders=feeders)
    result = dispatch(problem(d, event(20, 22, target_kw=250)))
    assert result.violations == ()
    assert result.max_shortfall_kw == pytest.approx(250.0)


def test_check_dispatch_reports_a_feeder_overload():
    """The independent checker states an overload found in the schedules themselves."""
    load = curtailable("line", [(300, 1.0)], rebound_fraction=0.5)
    feeders = [{"feeder_id": "f1", "capacity_kw": 1100.0, "background_load_kw": [0.0] * 24}]
    p = problem(district(enterprise("mill", [load]), feeders=feeders), event(20, 22, target_kw=250))
    result = dispatch(p)
    (schedule,) = result.schedules
    raised = list(schedule.power_kw)
    raised[88:92] = [1300.0] * 4  # 22:00-23:00, as a rebound would draw
    tampered = result.model_copy(
        update={"schedules": (schedule.model_copy(update={"power_kw": tuple(raised)}),)}
    )
    assert check_dispatch(p, tampered) == [
        "feeder f1: overloaded by 200.0 kW at 2026-07-15T22:00:00+08:00 (4 intervals)"
    ]


def test_dispatch_target_override_sets_the_target_per_event_interval():
    d = district(enterprise("e1", [battery()]))
    ev = event(target_kw=100.0)
    residual = np.array([0.0] * 4 + [200.0] * 4)
    result = dispatch(problem(d, ev, target_override_kw=residual))
    window = [i for i in result.intervals if i.in_event]
    assert [i.target_kw for i in window] == residual.tolist()
    assert window[0].expected_response_kw == pytest.approx(0.0, abs=1e-6)
    assert window[-1].expected_response_kw == pytest.approx(200.0 * 1.005, rel=1e-6)


def test_dispatch_target_override_of_the_wrong_length_is_refused():
    d = district(enterprise("e1", [battery()]))
    with pytest.raises(ValueError, match="target_override_kw"):
        dispatch(problem(d, event(), target_override_kw=np.ones(3)))


def test_dispatch_issued_at_override_applies_notice_from_the_new_time():
    load = curtailable("line", [(300.0, 0.2)], min_notice_min=60)
    d = district(enterprise("e1", [load]))
    ev = event(target_kw=300.0)
    late = dispatch(problem(d, ev, issued_at=at(11.5)))
    window = [i for i in late.intervals if i.in_event]
    assert window[0].expected_response_kw == pytest.approx(0.0, abs=1e-6)
    assert window[-1].expected_response_kw == pytest.approx(300.0, abs=1e-6)
