"""Which limits reach HiGHS: the wall clock in service, work limits in simulated time."""

import math

import pytest

from vpp.optimizer import DispatchSettings, build_model
from vpp.optimizer.emit_highs import to_highs
from vpp.optimizer.problem import DETERMINISTIC_MAX_NODES

from builders import battery, curtailable, district, enterprise, event, problem


def _model(settings: DispatchSettings):
    d = district(
        enterprise("mill", [curtailable("line", [(200, 1.0), (300, 2.0)])]),
        enterprise("store", [battery(soc_initial=0.6)]),
    )
    return build_model(problem(d, event(target_kw=300)), settings).model


def _option(h, name: str):
    _status, value = h.getOptionValue(name)
    return value


def test_to_highs_wall_clock_limits_set_the_time_limit():
    """The service's solves stop at ``time_limit_s`` of wall-clock time."""
    settings = DispatchSettings(time_limit_s=7.5)
    h = to_highs(_model(settings), settings)
    assert _option(h, "time_limit") == 7.5


def test_to_highs_deterministic_limits_set_no_time_limit_but_a_node_limit():
    """In simulated time nothing bounds a solve by the wall clock, only by its work."""
    settings = DispatchSettings(time_limit_s=7.5, simplex_iteration_limit=50_000).deterministic()
    h = to_highs(_model(settings), settings)
    assert math.isinf(_option(h, "time_limit"))
    assert _option(h, "mip_max_nodes") == DETERMINISTIC_MAX_NODES
    assert _option(h, "simplex_iteration_limit") == 50_000


@pytest.mark.parametrize("nodes", [0, 123])
def test_deterministic_keeps_a_node_limit_already_given(nodes):
    """``deterministic()`` fills in a node limit only where none was set."""
    settings = DispatchSettings(mip_max_nodes=nodes).deterministic()
    assert settings.limits == "deterministic"
    assert settings.mip_max_nodes == nodes
