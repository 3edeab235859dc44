"""Capability: the sustained maximum, its breakdowns, and consistency with dispatch."""

from concurrent.futures import ProcessPoolExecutor

import pytest

from scaled import scaled_problem
from vpp.optimizer import DispatchSettings, capability, dispatch

from builders import battery, curtailable, district, enterprise, event, problem


def _district():
    return district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 2.0)])]),
        enterprise("store", [battery(soc_initial=0.9)], sector="storage_operator"),
        peak_load_kw=10_000,
    )


def test_capability_sums_what_can_be_sustained_in_every_interval():
    """500 kW of steps plus a battery's 760 kWh spread over 2 h: 500 + 380 kW."""
    report = capability(problem(_district(), event()))
    assert report.deliverable_kw == pytest.approx(880.0, rel=1e-4)
    assert report.by_kind_kw["curtailable_load"] == pytest.approx(500.0)
    assert report.by_kind_kw["battery"] == pytest.approx(380.0, rel=1e-4)
    assert report.by_enterprise_kw == pytest.approx({"mill": 500.0, "store": 380.0}, rel=1e-4)


def test_capability_compares_with_the_district_target():
    """5% of a 10 MW peak is 500 kW: met, with the margin reported."""
    report = capability(problem(_district(), event()))
    assert report.target_kw == pytest.approx(500.0)
    assert report.meets_target
    assert report.margin_kw == pytest.approx(380.0, rel=1e-3)
    assert report.percent_of_peak == pytest.approx(8.8, rel=1e-3)


def test_capability_is_what_dispatch_can_then_deliver():
    """A dispatch asked for exactly the capability meets it in every interval."""
    d = _district()
    report = capability(problem(d, event()), breakdown=False)
    result = dispatch(problem(d, event(target_kw=report.deliverable_kw * 0.99)))
    assert result.meets_target


def test_capability_of_a_large_district_solves_groups_of_feeders_in_parallel():
    """Above the threshold: per-enterprise figures as before, totals never above them."""
    p = scaled_problem(62)
    whole = capability(p)
    settings = DispatchSettings(mip_rel_gap=1e-4, decompose_above_resources=20, group_resources=25)
    with ProcessPoolExecutor(max_workers=2) as pool:
        parts = capability(p, settings, executor=pool)
    assert parts.by_enterprise_kw == pytest.approx(whole.by_enterprise_kw, rel=1e-3, abs=1e-3)
    assert parts.deliverable_kw <= whole.deliverable_kw * (1 + 1e-3)
    assert parts.deliverable_kw >= 0.97 * whole.deliverable_kw
    for kind, level in parts.by_kind_kw.items():
        assert level <= whole.by_kind_kw[kind] * (1 + 1e-3) + 1e-3
    assert parts.resource_count_by_kind == whole.resource_count_by_kind
