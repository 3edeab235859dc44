"""The block-structured linear model: shapes, sums over trailing axes, names."""

import numpy as np
import pytest

from vpp.optimizer.linear import LinearModel


def test_add_constraints_takes_row_shape_from_first_term_when_bounds_are_scalar():
    """power - charge + discharge = 0 gives one row per (resource, interval)."""
    m = LinearModel()
    x = m.add_variables("a.x", (2, 3))
    y = m.add_variables("a.y", (2, 3))
    m.add_constraints("a.link", [(x, 1.0), (y, -1.0)], 0.0, 0.0)
    assert m.row_blocks["a.link"].shape == (2, 3)
    assert m.matrix.shape == (6, 12)


def test_add_constraints_sums_trailing_axes_of_terms():
    """A (t, r) term under (t,) bounds sums over resources: one row per interval."""
    m = LinearModel()
    p = m.add_variables("a.p", (3, 4))  # (r, t)
    m.add_constraints("s.total", [(p.T, 1.0)], lower=np.arange(4.0))
    assert m.row_blocks["s.total"].shape == (4,)
    dense = m.matrix.toarray()
    assert np.allclose(dense.sum(axis=1), 3.0)


def test_add_constraints_skips_negative_indices():
    """Index -1 marks 'no variable' (the state before the first interval)."""
    m = LinearModel()
    soc = m.add_variables("b.soc", 3)
    previous = np.array([-1, soc[0], soc[1]])
    m.add_constraints("b.balance", [(soc, 1.0), (previous, -1.0)], 0.0, 0.0)
    assert m.matrix.nnz == 5


def test_add_variables_rejects_crossed_bounds():
    """A lower bound above the upper bound is a modelling bug and says where."""
    m = LinearModel()
    with pytest.raises(ValueError, match=r"c\.x: lower bound 2\.0 above upper bound 1\.0"):
        m.add_variables("c.x", 2, lower=[0.0, 2.0], upper=1.0)


def test_block_names_are_unique():
    """Two blocks may not share a name; names identify model elements in reports."""
    m = LinearModel()
    m.add_variables("c.x", 1)
    with pytest.raises(ValueError, match="exists already"):
        m.add_variables("c.x", 1)


def test_costs_of_reports_each_category_with_constants():
    """Cost categories add up to the objective, constants included."""
    m = LinearModel()
    x = m.add_variables("c.x", 2)
    m.add_cost("compensation", x, [1.0, 2.0])
    m.add_cost("energy", x[:1], 0.5)
    m.add_cost_constant("energy", -1.0)
    costs = m.costs_of(np.array([1.0, 1.0]))
    assert costs == {"compensation": 3.0, "energy": -0.5}
    assert m.objective_constant == -1.0
