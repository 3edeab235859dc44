"""From an ``oadrEvent`` as openleadr parses it to what vpp plans: signals, units, SIMPLE
levels, the window served and randomisation."""

from __future__ import annotations

import random
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpp.domain import EventKind
from vpp.openadr.library import create_message, objects, parse_message
from vpp.openadr.mapping import (
    DEFAULT_SIMPLE_LEVELS_PCT,
    UnsupportedEventError,
    VtnEvent,
    ask_of,
    parse_event,
    served_window,
)

T0 = datetime(2026, 7, 15, 6, 0, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def wire(
    values: list[float],
    *,
    signal_name: str = "LOAD_DISPATCH",
    signal_type: str = "delta",
    scale: str = "k",
    test_event: bool = False,
    start_after: timedelta | None = None,
) -> VtnEvent:
    """An event through openleadr's own XML codec and back, as the VEN receives it."""
    measurement = (
        objects.Measurement(name="powerReal", description="RealPower", unit="W", scale=scale)
        if signal_name == "LOAD_DISPATCH"
        else None
    )
    event = objects.Event(
        event_descriptor=objects.EventDescriptor(
            event_id="EV-1",
            modification_number=2,
            market_context="http://vtn/dr",
            event_status="far",
            created_date_time=T0,
            test_event=test_event,
        ),
        active_period=objects.ActivePeriod(
            dtstart=T0,
            duration=QUARTER * len(values),
            tolerance=None if start_after is None else {"startafter": start_after},
        ),
        event_signals=[
            objects.EventSignal(
                intervals=[
                    objects.Interval(dtstart=T0 + i * QUARTER, duration=QUARTER, signal_payload=v)
                    for i, v in enumerate(values)
                ],
                signal_name=signal_name,
                signal_type=signal_type,
                signal_id="s",
                measurement=measurement,
            )
        ],
        targets=[{"ven_id": "VEN"}],
        response_required="always",
    )
    message = create_message(
        "oadrDistributeEvent", request_id="r", vtn_id="VTN", events=[asdict(event)]
    )
    _, payload = parse_message(message)
    return parse_event(payload["events"][0])


def test_parse_event_reads_ids_window_and_values() -> None:
    event = wire([-100.0, -200.0], test_event=True, start_after=timedelta(minutes=10))
    assert (event.vtn_event_id, event.modification_number) == ("EV-1", 2)
    assert (event.start, event.end) == (T0, T0 + 2 * QUARTER)
    assert event.values == (-100.0, -200.0)
    assert event.test_event
    assert event.start_after == timedelta(minutes=10)


def test_parse_event_refuses_an_event_without_an_id() -> None:
    with pytest.raises(ValueError, match="event_id"):
        parse_event({"event_descriptor": {}, "active_period": {}})


def test_ask_of_negative_delta_is_peak_shaving_at_the_largest_reduction() -> None:
    ask = ask_of(wire([-100.0, -200.0]), DEFAULT_SIMPLE_LEVELS_PCT)
    assert ask.kind is EventKind.PEAK_SHAVING
    assert ask.target_kw == pytest.approx(200.0)


def test_ask_of_positive_delta_is_valley_filling() -> None:
    ask = ask_of(wire([50.0, 80.0]), DEFAULT_SIMPLE_LEVELS_PCT)
    assert ask.kind is EventKind.VALLEY_FILLING
    assert ask.target_kw == pytest.approx(80.0)


def test_ask_of_converts_megawatts_to_kw() -> None:
    assert ask_of(wire([-0.5], scale="M"), {}).target_kw == pytest.approx(500.0)


def test_ask_of_refuses_intervals_asking_for_less_and_more() -> None:
    with pytest.raises(UnsupportedEventError, match="both"):
        ask_of(wire([-50.0, 50.0]), DEFAULT_SIMPLE_LEVELS_PCT)


def test_ask_of_maps_simple_levels_through_the_table() -> None:
    event = wire([1.0, 2.0], signal_name="SIMPLE", signal_type="level")
    assert ask_of(event, {1: 5.0, 2: 12.5}).target_pct == pytest.approx(12.5)
    with pytest.raises(UnsupportedEventError, match="level 2"):
        ask_of(event, {1: 5.0})


def test_ask_of_simple_level_zero_asks_for_nothing() -> None:
    event = wire([0.0], signal_name="SIMPLE", signal_type="level")
    assert ask_of(event, DEFAULT_SIMPLE_LEVELS_PCT).nothing


def test_ask_of_level_keeps_the_level_for_the_baseline() -> None:
    assert ask_of(wire([800.0, 700.0], signal_type="level"), {}).level_kw == pytest.approx(700.0)


def test_ask_of_refuses_an_unknown_signal() -> None:
    event = replace(wire([-10.0]), signal_name="ELECTRICITY_PRICE")
    with pytest.raises(UnsupportedEventError, match="not supported"):
        ask_of(event, {})


@given(
    lead_min=st.integers(-120, 240),
    length=st.integers(1, 8),
    start_after_min=st.integers(0, 60),
    offset_s=st.integers(0, 899),
    seed=st.integers(0, 1000),
)
def test_served_window_is_whole_intervals_inside_the_vtn_window_and_never_past(
    lead_min: int, length: int, start_after_min: int, offset_s: int, seed: int
) -> None:
    now = T0 + timedelta(seconds=offset_s)
    start = now + timedelta(minutes=lead_min)
    event = replace(
        wire([-10.0]),
        start=start,
        end=start + length * QUARTER,
        start_after=timedelta(minutes=start_after_min),
    )
    window = served_window(event, now, QUARTER, random.Random(seed))
    if window is None:
        return
    begin, end = window
    assert begin >= now
    assert begin >= event.start
    assert begin < event.start + event.start_after + QUARTER or begin < now + QUARTER
    assert end <= event.end
    assert end > begin
    for ts in (begin, end):
        assert ts.second == 0
        assert ts.minute % 15 == 0
