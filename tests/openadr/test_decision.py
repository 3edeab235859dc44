"""Opt in only when the portfolio can deliver: the decision, its figures and the notice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpp.domain import Notice
from vpp.openadr.decision import decide, notice_for


def test_decide_opts_in_when_capability_covers_the_target() -> None:
    decision = decide(target_kw=200.0, capability_kw=250.0)
    assert decision.opt == "optIn"
    assert decision.margin_kw == pytest.approx(50.0)


def test_decide_opts_out_with_the_shortfall_as_a_negative_margin() -> None:
    decision = decide(target_kw=200.0, capability_kw=150.0)
    assert decision.opt == "optOut"
    assert decision.margin_kw == pytest.approx(-50.0)
    assert "short of" in decision.reason


def test_decide_honours_a_partial_delivery_rule() -> None:
    assert decide(200.0, 150.0, min_fraction=0.75).opt == "optIn"
    assert decide(200.0, 149.0, min_fraction=0.75).opt == "optOut"


@given(target=st.floats(0.1, 1e6), capability=st.floats(0.0, 1e6), fraction=st.floats(0.01, 1))
def test_decide_opts_in_exactly_when_capability_covers_the_fraction(
    target: float, capability: float, fraction: float
) -> None:
    decision = decide(target, capability, fraction)
    assert (decision.opt == "optIn") == (capability >= fraction * target - 1e-6)
    assert decision.margin_kw == pytest.approx(capability - target)


@pytest.mark.parametrize(
    ("lead", "notice"),
    [
        (timedelta(minutes=20), Notice.REAL_TIME),
        (timedelta(hours=3), Notice.INTRADAY),
        (timedelta(hours=20), Notice.DAY_AHEAD),
    ],
    ids=["20-min", "3-h", "20-h"],
)
def test_notice_for_lead_time(lead: timedelta, notice: Notice) -> None:
    assert notice_for(lead) is notice
