"""Benchmark districts: the demo's mix at any size, reproducible per seed."""

from collections import Counter

import pytest
from bench.instances import demo_district, horizon, make_instance, scaled_district


@pytest.mark.parametrize("n", [1, 61, 62, 500])
def test_scaled_district_has_exactly_the_asked_resource_count(n):
    district = scaled_district(n, seed=3)
    assert sum(1 for _ in district.resources()) == n


def test_scaled_district_keeps_the_demo_mix():
    """At scale every resource kind appears in about the demo's proportions."""
    demo = Counter(ref.resource.kind for ref in demo_district().resources())
    scaled = Counter(ref.resource.kind for ref in scaled_district(2_000, seed=1).resources())
    for kind, count in demo.items():
        assert scaled[kind] / 2_000 == pytest.approx(count / demo.total(), abs=0.06)


def test_scaled_district_is_reproducible_per_seed():
    a, b, c = scaled_district(200, seed=5), scaled_district(200, seed=5), scaled_district(200, 6)
    assert a == b
    assert a != c


def test_scaled_district_scales_the_peak_and_validates():
    district = scaled_district(620, seed=0)
    assert district.peak_load_kw == pytest.approx(10 * demo_district().peak_load_kw)
    type(district).model_validate(district.model_dump())  # ids unique, feeders known


def test_horizon_covers_the_peak_event():
    inst = make_instance(10, 16)
    window = inst.problem.grid.slice_of(inst.problem.event.start, inst.problem.event.end)
    assert (window.start, window.stop) == (4, 12)
    assert horizon(inst.problem.district, 96).count == 96


def test_horizon_rejects_too_few_intervals():
    with pytest.raises(ValueError, match="n_intervals"):
        horizon(demo_district(), 4)
