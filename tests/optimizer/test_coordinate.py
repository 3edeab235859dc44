"""The coordinator's master and its re-split of the target and the rebound cap's room."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vpp.optimizer.coordinate import Columns, resplit, solve_master


def _plans(cost: list[float], response: list[list[float]], load: list[list[float]]) -> Columns:
    return Columns(np.array(cost), np.array(response), np.array(load))


def test_solve_master_gives_the_cap_room_to_the_group_that_needs_it():
    """Two groups, one target interval, one capped interval with 4 kW of room above 2 kW
    of baselines. The cheap group (2 CNY/kW) rebounds 0.4 kW per kW up to 5 kW of
    response, 0.6 beyond; the dear one (4 CNY/kW) none: the master gives the cheap group
    what fits under the cap, 25/3 kW, the dear group the rest, and prices the cap."""
    cheap = _plans([0.0, 10.0, 20.0], [[0.0], [5.0], [10.0]], [[1.0], [3.0], [6.0]])
    dear = _plans([0.0, 40.0], [[0.0], [10.0]], [[1.0], [1.0]])
    master = solve_master([cheap, dear], np.array([10.0]), np.array([6.0]), 100.0, 50.0)
    assert master is not None
    response = master.response_kw([cheap, dear])
    load = master.load_kw([cheap, dear])
    assert response[0] + response[1] == pytest.approx([10.0])
    assert load[0] + load[1] <= 6.0 + 1e-9
    assert load[0] == pytest.approx([5.0])
    assert response[0] == pytest.approx([25 / 3])
    assert master.value_cny == pytest.approx(2 * 25 / 3 + 4 * 5 / 3)
    assert master.rebound_price[0] > 0
    assert all(w.sum() == pytest.approx(1.0) for w in master.weights)


def test_solve_master_pays_shortfall_where_the_plans_cannot_meet_the_target():
    only = Columns(np.array([0.0, 10.0]), np.array([[0.0], [4.0]]), np.zeros((2, 0)))
    master = solve_master([only], np.array([10.0]), np.zeros(0), 100.0, 50.0)
    assert master is not None
    # 6 kW short, priced per interval and once more at the worst
    assert master.value_cny == pytest.approx(10.0 + 2 * 6 * 100.0)
    assert master.target_price[0] == pytest.approx(200.0)


def test_solve_master_refuses_plans_of_another_shape():
    odd = _plans([0.0], [[0.0, 1.0]], [[0.0]])
    with pytest.raises(ValueError, match="columns"):
        solve_master([odd], np.array([10.0]), np.array([5.0]), 100.0, 50.0)


n_groups = st.integers(1, 5)
values = st.floats(0.0, 1000.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.data(), n_groups, st.integers(1, 4), st.integers(0, 4))
def test_resplit_keeps_the_totals_and_each_group_can_meet_its_share(data, g, n_w, n_c):
    """The shares sum to the district's target and the rooms to its limit, in every
    interval; where the groups' plans meet the target, no group is asked more than its
    plan; where the limit leaves room for every plan, each room holds its group's plan
    (and never less than its baseline)."""
    response = data.draw(arrays(np.float64, (g, n_w), elements=values))
    load = data.draw(arrays(np.float64, (g, n_c), elements=values))
    base = data.draw(arrays(np.float64, (g, n_c), elements=values))
    planned = data.draw(arrays(np.float64, n_w, elements=values))
    spare = data.draw(arrays(np.float64, n_c, elements=st.floats(-100.0, 3000.0)))
    limit = base.sum(axis=0) + spare
    sizes = data.draw(st.lists(st.integers(1, 300), min_size=g, max_size=g))
    shares, rooms = resplit(list(response), list(load), planned, limit, list(base), sizes)
    assert np.sum(shares, axis=0) == pytest.approx(planned, rel=1e-9, abs=1e-6)
    assert np.sum(rooms, axis=0) == pytest.approx(limit, rel=1e-9, abs=1e-6)
    assert all(np.all(s >= -1e-9) for s in shares)
    meets = response.sum(axis=0) >= planned
    for s, r in zip(shares, response, strict=True):
        assert np.all(s[meets] <= r[meets] * (1 + 1e-9) + 1e-6)
    need = (np.maximum(load, base) - base).sum(axis=0)
    fits = spare >= need
    for room, lo, b in zip(rooms, load, base, strict=True):
        assert np.all(room[fits] >= np.maximum(lo, b)[fits] - 1e-6)
        assert np.all(room[spare >= 0] >= b[spare >= 0] - 1e-6)
