"""The Lagrangian bound's pieces: where prices keep it a bound, and the groups' priced LPs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scaled import scaled_problem
from vpp.optimizer import DispatchSettings, dispatch
from vpp.optimizer.decompose import make_groups, sub_problem
from vpp.optimizer.lagrange import PriceDomain, lagrangian_bound, priced_group
from vpp.optimizer.problem import build_context


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, 7, elements=st.floats(-50.0, 50.0)),
    arrays(np.float64, 7, elements=st.floats(0.0, 1e4)),
    st.integers(0, 7),
)
def test_price_domain_projection_never_lets_a_slack_pay(price, slack, n_target):
    """Projected, every price leaves ``pen (sum e + max e) - p . e >= 0`` for each block's
    slack ``e >= 0``: a shortfall or an excess never earns, so the bound holds."""
    domain = PriceDomain(5.0, 2.0, n_target, 7 - n_target)
    p = domain.project(price)
    assert np.all(p >= 0)
    for block, pen in ((slice(0, n_target), 5.0), (slice(n_target, None), 2.0)):
        e = slack[block]
        if e.size:
            assert pen * (e.sum() + e.max()) - p[block] @ e >= -1e-6 * (1 + pen * e.sum())


def test_price_domain_keeps_prices_already_inside():
    domain = PriceDomain(5.0, 2.0, 2, 2)
    inside = np.array([1.0, 9.0, 2.0, 2.0])  # 4 above 5 in the first block, nothing above 2
    assert domain.project(inside) == pytest.approx(inside)
    assert domain.project(np.array([9.0, 9.0, 0.0, 0.0])) == pytest.approx([7.5, 7.5, 0, 0])


@pytest.fixture(scope="module")
def whole() -> tuple:
    """The 62-resource demo park as one group, its optimum and its planned target."""
    p = scaled_problem(62)
    dispatch_settings = DispatchSettings(rebound_cap="none", mip_rel_gap=1e-6, time_limit_s=120)
    optimum = dispatch(p, dispatch_settings).solve.objective_cny or 0.0
    ctx = build_context(p, dispatch_settings, "min_cost")
    planned = np.asarray(ctx.target_profile_kw) * dispatch_settings.margin_factor
    group = make_groups(p, "enterprise", 10_000)[0]
    sub = sub_problem(p, group, None, np.asarray(ctx.target_profile_kw))
    pen = dispatch_settings.shortfall_penalty_cny_per_kwh * ctx.dt_h
    return sub, dispatch_settings, optimum, planned, pen


def test_priced_group_bounds_at_prices_above_the_penalty_in_the_domain(whole):
    """Weak duality holds over the whole domain, not only up to the penalty: one interval
    priced at twice the penalty (its share of the worst interval's price) still bounds."""
    sub, dispatch_settings, optimum, planned, pen = whole
    domain = PriceDomain(pen, 0.0, planned.size, 0)
    rng = np.random.default_rng(5)
    for _ in range(3):
        q = rng.dirichlet(np.ones(planned.size))
        price = domain.project(pen + pen * q)
        value, _ = lagrangian_bound([priced_group(sub, dispatch_settings, price)], price, planned)
        assert value <= optimum + 1e-6


def test_priced_group_kept_built_and_warm_started_gives_the_same_bound(whole):
    """A round's LP kept in the worker by its key and started from the previous basis
    answers as a fresh one does (the value is the LP's optimum, whatever the path)."""
    from vpp.optimizer import decompose

    sub, dispatch_settings, _, planned, pen = whole
    first = 0.3 * pen * np.ones(planned.size)
    second = 0.35 * pen * np.ones(planned.size)
    key = decompose.content_keys([sub], dispatch_settings, [frozenset()])[0]
    warm_start = priced_group(sub, dispatch_settings, first, frozenset(), key)
    assert warm_start.basis is not None
    warm = priced_group(sub, dispatch_settings, second, frozenset(), key, warm_start.basis)
    cold = priced_group(sub, dispatch_settings, second)
    assert warm.value_cny == pytest.approx(cold.value_cny, rel=1e-7)


def test_priced_group_gives_a_bound_at_any_price(whole):
    """Weak duality: one group holding the whole problem, priced anywhere within the
    penalties, never bounds above the monolithic optimum."""
    sub, dispatch_settings, optimum, planned, pen = whole
    rng = np.random.default_rng(3)
    values = []
    for scale in (0.0, 0.3, 1.0, 3.0):
        price = np.minimum(scale * rng.uniform(0.5, 1.5, planned.size), pen)
        value, _ = lagrangian_bound([priced_group(sub, dispatch_settings, price)], price, planned)
        assert value <= optimum + 1e-6
        values.append(value)
    assert max(values) > 0.5 * optimum  # some price bounds it usefully
