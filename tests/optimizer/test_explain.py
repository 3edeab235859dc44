"""Explained dispatches: marginal cost of the target, one reason per resource, shortfalls."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpp.domain import DispatchExplanation, EventKind, Reason, ResourceExplanation
from vpp.optimizer import DispatchSettings, dispatch
from vpp.optimizer.explain import dispatch_explained

from builders import at, battery, curtailable, district, enterprise, event, problem

EXACT = DispatchSettings(mip_rel_gap=0.0)


def by_enterprise(explanation: DispatchExplanation) -> dict[str, ResourceExplanation]:
    return {r.enterprise_id: r for r in explanation.resources}


def explained(*args: object, **kwargs: object) -> DispatchExplanation:
    _, explanation = dispatch_explained(*args, **kwargs)  # type: ignore[arg-type]
    assert explanation is not None
    return explanation


def test_explain_prices_the_target_at_the_cheaper_load_and_the_dearer_one_above_it():
    """Two loads of 400 kW at 1.0 and 1.5 CNY/kWh, 300 kW asked: the cheap one sets the price."""
    d = district(
        enterprise("cheap", [curtailable("line", [(400, 1.0)])]),
        enterprise("dear", [curtailable("line", [(400, 1.5)])]),
    )
    explanation = explained(problem(d, event(target_kw=300)), EXACT)
    assert explanation.marginal_cost_cny_per_kwh == pytest.approx(1.0, abs=1e-6)
    cheap, dear = by_enterprise(explanation)["cheap"], by_enterprise(explanation)["dear"]
    assert (cheap.called, cheap.reason, cheap.merit_position) == (
        True,
        Reason.SETS_MARGINAL_PRICE,
        1,
    )
    assert (dear.called, dear.reason, dear.merit_position) == (
        False,
        Reason.DEARER_THAN_MARGINAL,
        2,
    )
    assert dear.marginal_cost_cny_per_kwh == pytest.approx(1.0, abs=1e-6)
    # Forced on for the 2 h event, the dear load costs 400 kW * 2 h * 1.5 = 1200 CNY and
    # frees the cheap one's 301.5 kW (target and 0.5% margin) * 2 h * 1.0 = 603 CNY.
    assert dear.extra_cost_cny == pytest.approx(1200 - 603, abs=1e-3)
    assert cheap.mean_response_kw == pytest.approx(400.0)


def test_explain_names_a_resource_that_had_too_little_notice():
    """The cheapest load needs 25 h of notice for an event issued 23 h ahead: left out."""
    d = district(
        enterprise("late", [curtailable("line", [(400, 0.5)], min_notice_min=25 * 60)]),
        enterprise("ready", [curtailable("line", [(400, 1.0)])]),
    )
    explanation = explained(problem(d, event(target_kw=300)), EXACT)
    late = by_enterprise(explanation)["late"]
    assert (late.called, late.reason, late.merit_position) == (False, Reason.NOTICE_TOO_SHORT, 1)
    assert "1500 min notice" in late.detail
    assert by_enterprise(explanation)["ready"].reason is Reason.SETS_MARGINAL_PRICE


def test_explain_shortfall_prices_an_extra_kw_at_the_penalty_and_names_the_binding_limits():
    """5 MW asked of a 500 kW load and a battery: every step shed and the battery emptied.

    One more kW through the 8 event intervals is unserved: the penalty per kWh, plus the
    worst-interval term's share (the largest shortfall rises by the same kW once).
    """
    d = district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 2.0)])]),
        enterprise("store", [battery(soc_initial=0.9)]),
    )
    penalty = EXACT.shortfall_penalty_cny_per_kwh
    explanation = explained(problem(d, event(target_kw=5000)), EXACT)
    shortfall = explanation.shortfall
    assert shortfall is not None
    assert shortfall.max_shortfall_kw > 4000
    assert shortfall.extra_kw_cost_cny_per_kwh == pytest.approx(penalty * (1 + 1 / 8))
    assert set(shortfall.binding_constraints) >= {
        "curtailable_load.step_on upper bound (mill-site/line)",
        "battery.soc_kwh lower bound (store-site/bess)",
    }
    assert all(r.called for r in explanation.resources)
    # the limits that bind are given with every explanation, a shortfall or not
    assert explanation.binding_constraints == shortfall.binding_constraints


def test_explain_names_the_feeder_limit_that_keeps_a_cheap_load_out():
    """The cheap load's rebound would overload its 1.2 MW feeder; the dear one elsewhere is used."""
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
    # no rebound cap: a full rebound above the day's peak would price the last kW too
    d = district(cheap, dear, feeders=feeders, rebound_cap="none")
    explanation = explained(problem(d, event(target_kw=300)))
    reasons = {e: r.reason for e, r in by_enterprise(explanation).items()}
    assert reasons == {"cheap": Reason.FEEDER_LIMIT, "dear": Reason.SETS_MARGINAL_PRICE}
    assert explanation.marginal_cost_cny_per_kwh == pytest.approx(1.5, abs=1e-6)


def test_explain_says_the_rotation_adder_tipped_an_equal_load_out():
    """Equal loads at 1.0 CNY/kWh; alpha served 3 events this round (+0.15 CNY/kWh)."""
    loads = [enterprise(name, [curtailable("line", [(300, 1.0)])]) for name in ("alpha", "beta")]
    d = district(*loads, rotation_counts={"alpha": 3})
    alpha = by_enterprise(explained(problem(d, event(target_kw=250))))["alpha"]
    assert (alpha.called, alpha.reason) == (False, Reason.ROTATION_TIPPED)
    assert alpha.rotation_adder_cny_per_kwh == pytest.approx(0.15)
    assert alpha.merit_position == 2


def test_explain_names_data_reasons_events_a_day_availability_and_pv():
    """Left out by their own data, before any price is compared."""
    d = district(
        enterprise("tired", [curtailable("line", [(400, 0.1)])]),
        enterprise("night", [curtailable("line", [(400, 0.1)], availability=["00:00-06:00"])]),
        enterprise(
            "roof",
            [{"kind": "pv", "resource_id": "pv", "capacity_kw": 100, "generation_kw": [50] * 24}],
        ),
        enterprise("ready", [curtailable("line", [(400, 1.0)])]),
    )
    explanation = explained(problem(d, event(target_kw=300), events_today={"tired-site/line": 1}))
    reasons = {e: r.reason for e, r in by_enterprise(explanation).items()}
    assert reasons == {
        "tired": Reason.MAX_EVENTS_REACHED,
        "night": Reason.NOT_AVAILABLE,
        "roof": Reason.CANNOT_RESPOND,
        "ready": Reason.SETS_MARGINAL_PRICE,
    }
    assert by_enterprise(explanation)["roof"].merit_position is None


def test_explain_says_curtailment_cannot_fill_a_valley():
    d = district(
        enterprise("mill", [curtailable("line", [(400, 1.0)])]),
        enterprise("store", [battery(soc_initial=0.2)]),
    )
    ev = event(target_kw=100, kind=EventKind.VALLEY_FILLING)
    mill = by_enterprise(explained(problem(d, ev)))["mill"]
    assert (mill.called, mill.reason) == (False, Reason.CANNOT_RESPOND)


def test_explain_ranks_batteries_by_price_with_losses_and_degradation():
    """Three 500 kW batteries, 600 kW asked: the cheapest two, the second at the margin."""
    d = district(
        enterprise("a", [battery("b1", price_cny_per_kwh=0.3)]),
        enterprise("b", [battery("b2", price_cny_per_kwh=0.9)]),
        enterprise("c", [battery("b3", price_cny_per_kwh=2.0)]),
    )
    explanation = explained(problem(d, event(target_kw=600)), EXACT)
    reasons = {e: r.reason for e, r in by_enterprise(explanation).items()}
    assert reasons == {
        "a": Reason.CHEAPER_THAN_MARGINAL,
        "b": Reason.SETS_MARGINAL_PRICE,
        "c": Reason.DEARER_THAN_MARGINAL,
    }
    b = by_enterprise(explanation)["b"]
    # 0.9 asked, 0.05 degradation, discharge losses 1/0.95 - 1 at 0.65 CNY/kWh of energy.
    assert b.price_cny_per_kwh == pytest.approx(0.9 + 0.05 + 0.65 * (1 / 0.95 - 1))
    assert explanation.marginal_cost_cny_per_kwh == pytest.approx(b.price_cny_per_kwh, abs=1e-6)
    assert "battery.soc_kwh lower bound" in by_enterprise(explanation)["a"].binding_limits


def test_dispatch_explained_returns_the_same_dispatch_as_dispatch():
    d = district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 1.5)])]),
        enterprise("store", [battery(soc_initial=0.7, soc_final_min=0.5)]),
    )
    p = problem(d, event(target_kw=450))
    result, _ = dispatch_explained(p)
    assert result.schedules == dispatch(p).schedules


def test_dispatch_explained_gives_no_explanation_for_a_decomposed_problem():
    d = district(*(enterprise(f"e{i}", [curtailable("line", [(300, 1.0)])]) for i in range(3)))
    settings = DispatchSettings(decompose_above_resources=2)
    result, explanation = dispatch_explained(problem(d, event(target_kw=250)), settings)
    assert explanation is None
    assert result.meets_target


@st.composite
def battery_portfolios(draw: st.DrawFn) -> tuple[object, float]:
    n = draw(st.integers(1, 4))
    enterprises = []
    counts: dict[str, int] = {}
    for i in range(n):
        enterprises.append(
            enterprise(
                f"e{i}",
                [
                    battery(
                        f"b{i}",
                        price_cny_per_kwh=draw(st.floats(0.0, 3.0)),
                        max_discharge_kw=draw(st.floats(50.0, 600.0)),
                        capacity_kwh=draw(st.floats(100.0, 2000.0)),
                        soc_initial=draw(st.floats(0.2, 0.9)),
                        soc_final_min=0.1,
                        degradation_cny_per_kwh=draw(st.floats(0.0, 0.2)),
                    )
                ],
            )
        )
        counts[f"e{i}"] = draw(st.integers(0, 4))
    target = draw(st.floats(10.0, 2500.0))
    return district(*enterprises, rotation_counts=counts), target


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(battery_portfolios())
def test_explain_invariants_on_lp_portfolios(case: tuple[object, float]):
    """Every resource once with one reason that agrees with its dispatch; on an LP, no
    called resource's price (with rotation) is above the marginal cost where it acts."""
    d, target = case
    result, explanation = dispatch_explained(problem(d, event(target_kw=target)), EXACT)  # type: ignore[arg-type]
    assert explanation is not None
    keys = [r.key for r in explanation.resources]
    assert sorted(keys) == sorted(s.key for s in result.schedules)
    window = problem(d, event(target_kw=target)).grid.slice_of(at(11), at(13))
    called = {s.key: any(v is not None for v in s.setpoint_kw[window]) for s in result.schedules}
    for r in explanation.resources:
        assert r.called == called[r.key] == r.reason.called
        price = r.effective_price_cny_per_kwh
        assert price is not None
        if r.called:
            assert price <= r.marginal_cost_cny_per_kwh + 1e-4
        elif r.reason is Reason.DEARER_THAN_MARGINAL:
            assert price > r.marginal_cost_cny_per_kwh


def test_explain_says_a_cheaper_but_larger_step_would_over_deliver():
    """300 kW asked: 1 MW at 0.5 CNY/kWh costs 1000 CNY for 2 h, 400 kW at 1.0 only 603."""
    d = district(
        enterprise("small", [curtailable("line", [(400, 1.0)])]),
        enterprise("large", [curtailable("line", [(1000, 0.5)])]),
    )
    large = by_enterprise(explained(problem(d, event(target_kw=300)), EXACT))["large"]
    assert (large.called, large.reason, large.merit_position) == (
        False,
        Reason.STEP_TOO_LARGE,
        1,
    )
    assert large.extra_cost_cny == pytest.approx(1000 - 603, abs=1e-3)


def test_explain_without_what_if_budget_says_the_step_was_not_tested(monkeypatch):
    monkeypatch.setattr("vpp.optimizer.explain.MAX_WHAT_IFS", 0)
    d = district(
        enterprise("small", [curtailable("line", [(400, 1.0)])]),
        enterprise("large", [curtailable("line", [(1000, 0.5)])]),
    )
    large = by_enterprise(explained(problem(d, event(target_kw=300)), EXACT))["large"]
    assert large.reason is Reason.STEP_TOO_LARGE
    assert "not tested" in large.detail
    assert large.extra_cost_cny is None
