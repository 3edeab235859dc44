"""Tests for vpp.domain.event: DemandResponseEvent validation and derived values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from vpp.domain import DemandResponseEvent, EventKind, Notice, kw_of_pct, pct_of_kw

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 7, 1, 11, tzinfo=SH)
END = datetime(2025, 7, 1, 13, tzinfo=SH)
ISSUED = datetime(2025, 6, 30, 17, tzinfo=SH)


def _event(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": "ev-20250701",
        "start": START,
        "end": END,
        "target_kw": 500,
        "issued_at": ISSUED,
    }
    return {k: v for k, v in (data | overrides).items() if v is not None}


def _messages(exc: ValidationError) -> list[str]:
    return [e["msg"] for e in exc.errors(include_url=False)]


def test_demand_response_event_valid_example():
    """An event validates with peak shaving and day-ahead notice as defaults."""
    event = DemandResponseEvent.model_validate(_event())
    assert event.kind is EventKind.PEAK_SHAVING
    assert event.notice is Notice.DAY_AHEAD
    assert event.duration == timedelta(hours=2)
    assert event.target_pct_of_peak is None


@pytest.mark.parametrize(
    "targets",
    [{"target_kw": 500, "target_pct_of_peak": 5}, {"target_kw": None}],
    ids=["both", "neither"],
)
def test_demand_response_event_needs_exactly_one_target(targets):
    """Exactly one of target_kw and target_pct_of_peak must be given."""
    with pytest.raises(ValidationError) as exc_info:
        DemandResponseEvent.model_validate(_event(**targets))
    assert _messages(exc_info.value) == [
        "Value error, give exactly one of target_kw and target_pct_of_peak"
    ]


@pytest.mark.parametrize("end", [START, START - timedelta(minutes=15)], ids=["equal", "before"])
def test_demand_response_event_end_after_start(end):
    """An event must end after it starts."""
    with pytest.raises(ValidationError) as exc_info:
        DemandResponseEvent.model_validate(_event(end=end))
    assert _messages(exc_info.value) == ["Value error, end must be after start"]


def test_demand_response_event_issued_at_not_after_start():
    """An event cannot be issued after it starts."""
    with pytest.raises(ValidationError) as exc_info:
        DemandResponseEvent.model_validate(_event(issued_at=START + timedelta(seconds=1)))
    assert _messages(exc_info.value) == ["Value error, issued_at must not be after start"]


def test_demand_response_event_issued_at_start_is_allowed():
    """A real-time event may be issued at its start."""
    event = DemandResponseEvent.model_validate(_event(issued_at=START, notice="real_time"))
    assert event.issued_at == START
    assert event.notice is Notice.REAL_TIME


def test_demand_response_event_compares_instants_across_zones():
    """issued_at in UTC one minute after a Shanghai start is still after it."""
    issued = datetime(2025, 7, 1, 3, 1, tzinfo=UTC)  # 11:01 in Shanghai
    with pytest.raises(ValidationError) as exc_info:
        DemandResponseEvent.model_validate(_event(issued_at=issued))
    assert _messages(exc_info.value) == ["Value error, issued_at must not be after start"]


@pytest.mark.parametrize("field", ["start", "end", "issued_at"])
def test_demand_response_event_rejects_naive_times(field):
    """Every time of an event must be aware."""
    aware = _event()[field]
    with pytest.raises(ValidationError) as exc_info:
        DemandResponseEvent.model_validate(_event(**{field: aware.replace(tzinfo=None)}))
    errors = exc_info.value.errors(include_url=False)
    assert [(e["loc"], e["type"]) for e in errors] == [((field,), "timezone_aware")]


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        ({"target_kw": 750}, 750.0),
        ({"target_kw": None, "target_pct_of_peak": 5}, 1000.0),
        ({"target_kw": None, "target_pct_of_peak": 2.5}, 500.0),
    ],
)
def test_demand_response_event_target_kw_for(targets, expected):
    """A kW target is returned as is; a percentage is resolved against the district peak."""
    event = DemandResponseEvent.model_validate(_event(**targets))
    assert event.target_kw_for(20000) == pytest.approx(expected)


@pytest.mark.parametrize("pct", [0, 100.5])
def test_demand_response_event_rejects_pct_out_of_range(pct):
    """target_pct_of_peak lies in (0, 100]."""
    with pytest.raises(ValidationError) as exc_info:
        DemandResponseEvent.model_validate(_event(target_kw=None, target_pct_of_peak=pct))
    assert [e["loc"] for e in exc_info.value.errors(include_url=False)] == [("target_pct_of_peak",)]


@pytest.mark.parametrize(
    ("kind", "direction"), [(EventKind.PEAK_SHAVING, 1.0), (EventKind.VALLEY_FILLING, -1.0)]
)
def test_demand_response_event_direction(kind, direction):
    """Peak shaving asks for less load (+1), valley filling for more (-1)."""
    event = DemandResponseEvent.model_validate(_event(kind=kind.value))
    assert event.direction == direction


@given(
    pct=st.floats(min_value=0.01, max_value=100.0),
    peak_kw=st.floats(min_value=1.0, max_value=1e7),
)
def test_a_share_of_the_peak_in_kw_and_back_is_the_share(pct: float, peak_kw: float) -> None:
    assert pct_of_kw(kw_of_pct(pct, peak_kw), peak_kw) == pytest.approx(pct)


def test_a_percentage_target_resolves_through_the_one_conversion() -> None:
    ev = DemandResponseEvent(
        event_id="pct", start=START, end=END, target_pct_of_peak=5.0, issued_at=ISSUED
    )
    assert ev.target_kw_for(180_000.0) == kw_of_pct(5.0, 180_000.0) == 9_000.0
