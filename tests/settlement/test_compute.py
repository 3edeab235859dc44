"""Tests for vpp.settlement.compute: event statements worked by hand, and their invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from vpp.domain import Resource, UnknownReferenceError
from vpp.settlement import (
    EffectiveResponseRule,
    ResourceDelivery,
    SettlementError,
    asked_price_cny_per_kwh,
    settle_event,
)


def delivery(
    resource_id: str = "load",
    enterprise_id: str = "acme",
    *,
    asked_kw: tuple[float, ...] = (100.0,),
    baseline_kw: tuple[float, ...] | None = None,
    measured_kw: tuple[float | None, ...] | None = None,
    response_kw: tuple[float, ...] | None = None,
    price: float = 1.0,
    direction: float = 1.0,
) -> ResourceDelivery:
    """A peak-shaving record on a flat 500 kW baseline; ``response_kw`` sets measured from it."""
    n = len(asked_kw)
    baseline_kw = baseline_kw or (500.0,) * n
    if measured_kw is None:
        response_kw = response_kw if response_kw is not None else asked_kw
        measured_kw = tuple(
            b - direction * r for b, r in zip(baseline_kw, response_kw, strict=True)
        )
    return ResourceDelivery(
        enterprise_id=enterprise_id,
        site_id=f"{enterprise_id}-site",
        resource_id=resource_id,
        kind="curtailable_load",
        asked_kw=asked_kw,
        baseline_kw=baseline_kw,
        measured_kw=measured_kw,
        price_cny_per_kwh=price,
        direction=direction,
    )


def test_settle_event_full_delivery_is_paid_at_asked_price():
    """4 quarter-hours at 100 kW asked and delivered: 100 kWh, ratio 1, 1.2 CNY/kWh: 120 CNY."""
    settlement = settle_event("ev1", [delivery(asked_kw=(100.0,) * 4, price=1.2)], interval_h=0.25)
    line = settlement.for_enterprise("acme")
    assert line.asked_kwh == pytest.approx(100.0)
    assert line.delivered_kwh == pytest.approx(100.0)
    assert (line.asked_kw, line.delivered_kw) == (pytest.approx(100.0), pytest.approx(100.0))
    assert line.performance_ratio == pytest.approx(1.0)
    assert line.effective
    assert line.credited_kwh == pytest.approx(100.0)
    assert line.payment_cny == pytest.approx(120.0)
    assert line.penalty_cny == 0.0
    assert line.net_cny == pytest.approx(120.0)
    assert settlement.n_intervals == 4


def test_delivery_below_floor_earns_nothing():
    """70 of 100 kW delivered: ratio 0.7 < 0.8, not effective, no payment."""
    line = settle_event("ev1", [delivery(response_kw=(70.0,))], 1.0).for_enterprise("acme")
    assert line.performance_ratio == pytest.approx(0.7)
    assert not line.effective
    assert line.credited_kwh == 0.0
    assert line.payment_cny == 0.0


def test_excess_above_cap_counts_at_excess_fraction():
    """200 of 100 kWh, cap 150%, excess at 0.5: 150 + 0.5 * 50 = 175 kWh, at 2 CNY: 350 CNY."""
    rule = EffectiveResponseRule(excess_value_fraction=0.5)
    line = settle_event(
        "ev1", [delivery(response_kw=(200.0,), price=2.0)], 1.0, rule
    ).for_enterprise("acme")
    assert not line.effective  # above the band, yet paid up to the cap
    assert line.credited_kwh == pytest.approx(175.0)
    assert line.payment_cny == pytest.approx(350.0)


def test_missing_telemetry_counts_as_no_delivery():
    """100 kW delivered in 2 of 4 half-hours, the other 2 unmeasured: 100 of 200 kWh, unpaid."""
    record = delivery(
        asked_kw=(100.0,) * 4, measured_kw=(400.0, None, 400.0, None), baseline_kw=(500.0,) * 4
    )
    line = settle_event("ev1", [record], 0.5).for_enterprise("acme")
    assert record.response_kw == (100.0, 0.0, 100.0, 0.0)
    assert line.delivered_kwh == pytest.approx(100.0)
    assert line.performance_ratio == pytest.approx(0.5)
    assert line.missing_intervals == 2
    assert line.payment_cny == 0.0


def test_rule_applies_per_enterprise_not_per_resource():
    """One resource at 50%, the other at 130%: per resource only 130 kWh would count.

    The enterprise delivers 180 of 200 kWh (90%), so all 180 kWh are paid, at the
    asked-weighted price (1.0 + 2.0) / 2 = 1.5 CNY/kWh: 270 CNY.
    """
    records = [
        delivery("line-a", response_kw=(50.0,), price=1.0),
        delivery("line-b", response_kw=(130.0,), price=2.0),
    ]
    settlement = settle_event("ev1", records, 1.0)
    assert len(settlement.enterprises) == 1
    line = settlement.enterprises[0]
    assert line.performance_ratio == pytest.approx(0.9)
    assert line.credited_kwh == pytest.approx(180.0)
    assert line.price_cny_per_kwh == pytest.approx(1.5)
    assert line.payment_cny == pytest.approx(270.0)


def test_enterprise_price_is_asked_energy_weighted():
    """100 kW asked at 1.0 and 300 kW at 2.0: (100 + 600) / 400 = 1.75 CNY/kWh."""
    records = [
        delivery("a", asked_kw=(100.0,), price=1.0),
        delivery("b", asked_kw=(300.0,), price=2.0),
    ]
    line = settle_event("ev1", records, 1.0).for_enterprise("acme")
    assert line.price_cny_per_kwh == pytest.approx(1.75)
    assert line.payment_cny == pytest.approx(400.0 * 1.75)


def test_mean_powers_are_over_the_event_intervals():
    """Asked 100 then 300 kW over two half-hours: 200 kWh, 200 kW mean."""
    line = settle_event(
        "ev1", [delivery(asked_kw=(100.0, 300.0), response_kw=(100.0, 200.0))], 0.5
    ).for_enterprise("acme")
    assert line.asked_kwh == pytest.approx(200.0)
    assert line.asked_kw == pytest.approx(200.0)
    assert line.delivered_kwh == pytest.approx(150.0)
    assert line.delivered_kw == pytest.approx(150.0)


def test_load_going_up_is_negative_delivery_never_payment():
    """Measured 20 kW above baseline in peak shaving: -20 kWh delivered, nothing paid; the
    ratio reads 0, never -0.2, and the note says the load rose."""
    line = settle_event("ev1", [delivery(response_kw=(-20.0,))], 1.0).for_enterprise("acme")
    assert line.delivered_kwh == pytest.approx(-20.0)
    assert line.performance_ratio == 0.0
    assert "load rose 20.0 kWh above its baseline" in line.note
    assert line.payment_cny == 0.0
    assert line.penalty_cny == 0.0  # the default rule has no penalty


def test_negative_delivery_is_penalised_on_the_raw_energy():
    """Sichuan preset, -20 of 100 kWh at 1 CNY/kWh: (90 + 20) x 1 = 110 CNY owed, ratio 0."""
    line = settle_event("ev1", [delivery(response_kw=(-20.0,))], 1.0, "sichuan").for_enterprise(
        "acme"
    )
    assert line.performance_ratio == 0.0
    assert line.penalty_cny == pytest.approx(110.0)


def test_dropped_participant_is_settled_for_the_intervals_it_was_asked():
    """Asked 100 kW in 2 of 4 hours, then dropped; delivered 100, 100, 80, 80 kW: settled on
    200 of 200 kWh (paid 200 CNY); the 160 kWh after the drop are unasked, not paid."""
    record = delivery(asked_kw=(100.0, 100.0, 0.0, 0.0), response_kw=(100.0, 100.0, 80.0, 80.0))
    line = settle_event("ev1", [record], 1.0).for_enterprise("acme")
    assert (line.asked_kwh, line.delivered_kwh) == (pytest.approx(200.0), pytest.approx(200.0))
    assert line.unasked_kwh == pytest.approx(160.0)
    assert line.asked_intervals == 2
    assert (line.asked_kw, line.delivered_kw) == (pytest.approx(100.0), pytest.approx(100.0))
    assert line.performance_ratio == pytest.approx(1.0)
    assert line.payment_cny == pytest.approx(200.0)
    assert "asked in 2 of 4 intervals" in line.note


def test_hold_past_the_window_is_settled_and_other_enterprises_rebound_there_is_not_theirs():
    """A 2-hour window and 1 hour after it: acme is held 100 kW into that hour and is
    settled on 300 of 300 kWh; beta, asked only in the window, rebounds 50 kW in the hour
    after: not its statement's (neither asked nor unasked), and no note about it."""
    records = [
        delivery("a", "acme", asked_kw=(100.0, 100.0, 100.0)),
        delivery("b", "beta", asked_kw=(100.0, 100.0, 0.0), response_kw=(100.0, 100.0, -50.0)),
    ]
    statement = settle_event("ev1", records, 1.0, window_intervals=2)
    assert statement.n_intervals == 3
    acme, beta = statement.for_enterprise("acme"), statement.for_enterprise("beta")
    assert (acme.asked_kwh, acme.delivered_kwh, acme.asked_intervals) == (
        pytest.approx(300.0),
        pytest.approx(300.0),
        3,
    )
    assert acme.payment_cny == pytest.approx(300.0)
    assert (beta.asked_kwh, beta.unasked_kwh, beta.note) == (pytest.approx(200.0), 0.0, "")
    # all three hours the window: beta's rebound is unasked response, said in a note
    whole = settle_event("ev1", records, 1.0).for_enterprise("beta")
    assert whole.unasked_kwh == pytest.approx(-50.0)
    assert "asked in 2 of 3 intervals" in whole.note


def test_dropped_participant_is_not_penalised_for_intervals_after_the_drop():
    """Sichuan preset, asked 100 kW in the first of 2 hours and delivered it, nothing after
    (the load came back): ratio 1, no penalty; a whole-window ratio would have been 0.5."""
    record = delivery(asked_kw=(100.0, 0.0), response_kw=(100.0, -50.0))
    line = settle_event("ev1", [record], 1.0, "sichuan").for_enterprise("acme")
    assert line.performance_ratio == pytest.approx(1.0)
    assert line.penalty_cny == 0.0
    assert line.unasked_kwh == pytest.approx(-50.0)


def test_enterprise_interval_counts_when_any_of_its_resources_was_asked():
    """A second resource of the enterprise, asked nothing, raises its load in the asked hour:
    the enterprise's delivery in that hour counts it (its meter total is what is settled)."""
    records = [
        delivery("a", response_kw=(100.0,)),
        delivery("b", asked_kw=(0.0,), response_kw=(-30.0,)),
    ]
    line = settle_event("ev1", records, 1.0).for_enterprise("acme")
    assert line.delivered_kwh == pytest.approx(70.0)
    assert line.unasked_kwh == 0.0


def test_penalty_below_threshold_is_charged_at_asked_price():
    """Sichuan preset: 80 of 100 kWh at 1.5 CNY/kWh: (90 - 80) x 1 x 1.5 = 15 CNY owed."""
    line = settle_event(
        "ev1", [delivery(response_kw=(80.0,), price=1.5)], 1.0, "sichuan"
    ).for_enterprise("acme")
    assert line.payment_cny == 0.0
    assert line.penalty_cny == pytest.approx(15.0)
    assert line.net_cny == pytest.approx(-15.0)


def test_valley_filling_counts_load_raised_above_baseline():
    """direction -1: baseline 200 kW, measured 300 kW: 100 kW of response."""
    record = delivery(
        asked_kw=(100.0,), baseline_kw=(200.0,), measured_kw=(300.0,), direction=-1.0, price=0.3
    )
    line = settle_event("ev1", [record], 1.0).for_enterprise("acme")
    assert line.delivered_kwh == pytest.approx(100.0)
    assert line.payment_cny == pytest.approx(30.0)


def test_enterprise_asked_nothing_is_listed_apart_as_unasked_response():
    """All-zero asks: listed under ``unasked``, ratio None, price 0, nothing paid or penalised
    whatever it delivered; its 40 kWh are unasked response, outside the event's totals."""
    records = [delivery(), delivery("pv", "idle", asked_kw=(0.0,), response_kw=(40.0,))]
    settlement = settle_event("ev1", records, 1.0, "sichuan")
    line = settlement.for_enterprise("idle")
    assert [x.enterprise_id for x in settlement.enterprises] == ["acme"]
    assert settlement.unasked == (line,)
    assert line.unasked_response
    assert line.performance_ratio is None
    assert not line.effective
    assert (line.price_cny_per_kwh, line.payment_cny, line.penalty_cny) == (0.0, 0.0, 0.0)
    assert (line.delivered_kwh, line.unasked_kwh) == (0.0, pytest.approx(40.0))
    assert "asked nothing" in line.note
    assert settlement.delivered_kwh == pytest.approx(100.0)
    assert settlement.unasked_kwh == pytest.approx(40.0)


def test_event_totals_sum_the_enterprise_lines():
    """acme 100 kWh paid 100 CNY, beta 70 of 100 kWh below the floor: 100 CNY in total."""
    records = [delivery(), delivery("l2", "beta", response_kw=(70.0,))]
    settlement = settle_event("ev1", records, 1.0)
    assert [line.enterprise_id for line in settlement.enterprises] == ["acme", "beta"]
    assert settlement.asked_kwh == pytest.approx(200.0)
    assert settlement.delivered_kwh == pytest.approx(170.0)
    assert settlement.credited_kwh == pytest.approx(100.0)
    assert settlement.payment_cny == pytest.approx(100.0)
    assert settlement.net_cny == pytest.approx(100.0)
    assert settlement.performance_ratio == pytest.approx(0.85)
    dumped = settlement.model_dump()
    assert dumped["net_cny"] == pytest.approx(100.0)
    assert dumped["enterprises"][0]["net_cny"] == pytest.approx(100.0)
    assert dumped["rule"]["name"] == "default"


def test_settle_event_without_deliveries_is_an_empty_statement():
    settlement = settle_event("ev1", [], 0.25)
    assert settlement.enterprises == ()
    assert settlement.net_cny == 0.0
    assert settlement.performance_ratio is None


def test_for_enterprise_unknown_is_an_error_naming_it():
    with pytest.raises(UnknownReferenceError, match="nobody"):
        settle_event("ev1", [delivery()], 1.0).for_enterprise("nobody")


@pytest.mark.parametrize(
    ("records", "interval_h", "field_named"),
    [
        ([delivery(), delivery()], 1.0, "deliveries.1"),
        ([delivery(), delivery("b", asked_kw=(1.0, 1.0))], 1.0, r"deliveries\.1\.asked_kw"),
        ([delivery(), delivery("b", direction=-1.0)], 1.0, r"deliveries\.1\.direction"),
        ([delivery()], 0.0, "interval_h"),
        ([delivery()], float("nan"), "interval_h"),
    ],
    ids=[
        "duplicate-resource",
        "interval-count",
        "mixed-direction",
        "zero-interval",
        "nan-interval",
    ],
)
def test_settle_event_refuses_inconsistent_inputs_naming_the_field(
    records, interval_h, field_named
):
    with pytest.raises(SettlementError, match=field_named):
        settle_event("ev1", records, interval_h)


@pytest.mark.parametrize(
    ("fields", "field_named"),
    [
        ({"asked_kw": (-1.0,)}, "asked_kw"),
        ({"measured_kw": (1.0, 2.0)}, "measured_kw"),
        ({"direction": 0.5}, "direction"),
        ({"asked_kw": ()}, "asked_kw"),
    ],
    ids=["negative-ask", "length-mismatch", "bad-direction", "no-intervals"],
)
def test_resource_delivery_refuses_bad_values_naming_the_field(fields, field_named):
    spec = {
        "enterprise_id": "acme",
        "site_id": "acme-site",
        "resource_id": "load",
        "kind": "curtailable_load",
        "asked_kw": (100.0,),
        "baseline_kw": (500.0,),
        "measured_kw": (400.0,),
        "price_cny_per_kwh": 1.0,
    } | fields
    if fields.get("asked_kw") == ():
        spec |= {"baseline_kw": (), "measured_kw": ()}
    with pytest.raises(ValidationError, match=field_named):
        ResourceDelivery(**spec)


RESOURCE = TypeAdapter(Resource)
STEPPED_LOAD = RESOURCE.validate_python(
    {
        "kind": "curtailable_load",
        "resource_id": "mill",
        "typical_load_kw": [1000.0] * 24,
        "steps": [
            {"power_kw": 100.0, "price_cny_per_kwh": 1.0},
            {"power_kw": 200.0, "price_cny_per_kwh": 2.0},
            {"power_kw": 50.0, "price_cny_per_kwh": 3.0},
        ],
    }
)


@pytest.mark.parametrize(
    ("asked_kw", "price"),
    [
        (0.0, 1.0),
        (100.0, 1.0),
        (250.0, (100 * 1.0 + 150 * 2.0) / 250),
        (350.0, (100 * 1.0 + 200 * 2.0 + 50 * 3.0) / 350),
        (1000.0, (100 * 1.0 + 200 * 2.0 + 50 * 3.0) / 350),
    ],
    ids=["nothing-shed", "first-step", "into-second-step", "all-steps", "beyond-all-steps"],
)
def test_asked_price_of_curtailable_load_is_shed_weighted_over_nested_steps(asked_kw, price):
    assert asked_price_cny_per_kwh(STEPPED_LOAD, asked_kw) == pytest.approx(price)


def test_asked_price_of_other_kinds_is_their_price_and_zero_for_pv():
    battery = RESOURCE.validate_python(
        {
            "kind": "battery",
            "resource_id": "bess",
            "capacity_kwh": 1000.0,
            "max_charge_kw": 500.0,
            "max_discharge_kw": 500.0,
            "price_cny_per_kwh": 0.7,
        }
    )
    pv = RESOURCE.validate_python(
        {"kind": "pv", "resource_id": "roof", "capacity_kw": 100.0, "generation_kw": [0.0] * 24}
    )
    assert asked_price_cny_per_kwh(battery, 200.0) == pytest.approx(0.7)
    assert asked_price_cny_per_kwh(pv, 50.0) == 0.0


rules = st.builds(
    lambda floor, cap_extra, excess, penalty_share, multiplier, has_penalty: EffectiveResponseRule(
        floor_ratio=floor,
        cap_ratio=floor + cap_extra if floor + cap_extra > 0 else 0.1,
        excess_value_fraction=excess,
        penalty_below_ratio=floor * penalty_share if has_penalty else None,
        penalty_multiplier=multiplier,
    ),
    st.floats(0.0, 1.2),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 3.0),
    st.booleans(),
)


@st.composite
def event_deliveries(draw):
    n = draw(st.integers(1, 4))
    records = []
    for e in range(draw(st.integers(1, 3))):
        for r in range(draw(st.integers(1, 3))):
            baseline_kw = tuple(draw(st.lists(st.floats(0, 1000), min_size=n, max_size=n)))
            records.append(
                ResourceDelivery(
                    enterprise_id=f"e{e}",
                    site_id=f"e{e}-site",
                    resource_id=f"r{r}",
                    kind="battery",
                    asked_kw=tuple(draw(st.lists(st.floats(0, 500), min_size=n, max_size=n))),
                    baseline_kw=baseline_kw,
                    measured_kw=tuple(
                        draw(st.lists(st.none() | st.floats(0, 1500), min_size=n, max_size=n))
                    ),
                    price_cny_per_kwh=draw(st.floats(0, 3)),
                )
            )
    return records


@settings(max_examples=60, deadline=None)
@given(event_deliveries(), rules, st.sampled_from([0.25, 0.5, 1.0]))
def test_settle_event_payment_is_bounded_and_penalty_only_below_threshold(
    records, rule, interval_h
):
    """Payment is in [0, (cap x asked + excess share of the rest) x price]; penalty only below."""
    settlement = settle_event("ev1", records, interval_h, rule)
    for line in settlement.enterprises:
        cap_kwh = rule.cap_ratio * line.asked_kwh
        bound_kwh = cap_kwh + rule.excess_value_fraction * max(0.0, line.delivered_kwh - cap_kwh)
        assert line.payment_cny >= 0.0
        assert line.payment_cny <= bound_kwh * line.price_cny_per_kwh + 1e-6
        assert line.penalty_cny >= 0.0
        if line.penalty_cny > 0:
            assert rule.penalty_below_ratio is not None
            assert line.asked_kwh > 0
            assert line.delivered_kwh / line.asked_kwh < rule.penalty_below_ratio
    assert settlement.net_cny == pytest.approx(
        sum(line.payment_cny - line.penalty_cny for line in settlement.enterprises)
    )


def test_settle_event_line_counts_the_refused_samples_of_its_meters():
    """Refused readings are listed per line and change nothing else: acme's two meters had
    3 and 2 refused, beta's none; payments are those of the accepted readings alone."""
    records = [
        delivery().model_copy(update={"refused_samples": 3}),
        delivery("l2").model_copy(update={"refused_samples": 2}),
        delivery("l3", "beta"),
    ]
    settlement = settle_event("ev1", records, 1.0)
    clean = settle_event("ev1", [delivery(), delivery("l2"), delivery("l3", "beta")], 1.0)
    assert settlement.for_enterprise("acme").refused_samples == 5
    assert settlement.for_enterprise("beta").refused_samples == 0
    for line, same in zip(settlement.enterprises, clean.enterprises, strict=True):
        assert line.model_dump(exclude={"refused_samples"}) == same.model_dump(
            exclude={"refused_samples"}
        )


def test_resource_delivery_refuses_a_negative_refused_count():
    with pytest.raises(ValidationError, match="refused_samples"):
        ResourceDelivery.model_validate(delivery().model_dump() | {"refused_samples": -1})


@settings(max_examples=60, deadline=None)
@given(event_deliveries(), rules, st.data())
def test_settle_event_pays_and_penalises_nothing_without_an_ask(records, rule, data):
    """An enterprise asked nothing is paid and penalised nothing; and response in intervals an
    enterprise was asked nothing changes neither its payment nor its penalty."""
    n = len(records[0].asked_kw)
    silent = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="unasked")
    unasked_enterprise = data.draw(st.sampled_from(sorted({r.enterprise_id for r in records})))
    shifted = data.draw(st.floats(-500, 500), label="response shift outside the ask [kW]")
    base = [
        r.model_copy(
            update={
                "asked_kw": tuple(
                    0.0 if s or r.enterprise_id == unasked_enterprise else a
                    for a, s in zip(r.asked_kw, silent, strict=True)
                )
            }
        )
        for r in records
    ]
    moved = [
        r.model_copy(
            update={
                "measured_kw": tuple(
                    m if m is None or not s else m - shifted
                    for m, s in zip(r.measured_kw, silent, strict=True)
                )
            }
        )
        for r in base
    ]
    # the last intervals may follow the window (holds past it, rule 9): the same holds
    window = data.draw(st.integers(1, n), label="window intervals")
    before = settle_event("ev1", base, 0.25, rule, window_intervals=window)
    after = settle_event("ev1", moved, 0.25, rule, window_intervals=window)
    line = after.for_enterprise(unasked_enterprise)
    assert line.unasked_response
    assert line in after.unasked
    assert (line.payment_cny, line.penalty_cny, line.credited_kwh) == (0.0, 0.0, 0.0)
    for old, new in zip(before.enterprises, after.enterprises, strict=True):
        assert new.payment_cny == pytest.approx(old.payment_cny)
        assert new.penalty_cny == pytest.approx(old.penalty_cny)


@settings(max_examples=80, deadline=None)
@given(
    rules,
    st.lists(st.floats(1.0, 500.0), min_size=1, max_size=4),
    st.lists(st.floats(-300.0, 800.0), min_size=2, max_size=2),
    st.floats(0.0, 3.0),
)
def test_settle_event_payment_is_monotone_in_delivery(rule, asked, responses, price):
    """More delivered never earns less and never owes more: payment rises (within the band
    one for one at the asked price), penalty falls; the ratio shown is never negative."""
    low, high = sorted(responses)
    n = len(asked)
    lines = [
        settle_event(
            "ev1", [delivery(asked_kw=tuple(asked), response_kw=(r,) * n, price=price)], 1.0, rule
        ).for_enterprise("acme")
        for r in (low, high)
    ]
    assert lines[1].payment_cny >= lines[0].payment_cny - 1e-9
    assert lines[1].penalty_cny <= lines[0].penalty_cny + 1e-9
    for line in lines:
        assert line.performance_ratio is not None
        assert line.performance_ratio >= 0.0
    if all(rule.is_effective(x.delivered_kwh / x.asked_kwh) for x in lines):
        assert lines[1].payment_cny - lines[0].payment_cny == pytest.approx(
            (lines[1].delivered_kwh - lines[0].delivered_kwh) * price, abs=1e-6
        )


def test_settle_event_worked_example_of_docs_settlement_md():
    """docs/settlement.md: acme asked 400 kW for two quarter-hours then dropped, 190 of 200
    kWh, paid 228 CNY, 75 kWh unasked; beta asked nothing, 50 kWh unasked response."""
    acme = delivery(
        "furnace",
        asked_kw=(400.0, 400.0, 0.0, 0.0),
        response_kw=(400.0, 360.0, 300.0, 0.0),
        price=1.2,
    )
    beta = delivery(
        "bess", "beta", asked_kw=(0.0,) * 4, response_kw=(0.0, 100.0, 100.0, 0.0), price=0.5
    )
    settlement = settle_event("ev1", [acme, beta], 0.25, "sichuan")
    line = settlement.for_enterprise("acme")
    assert (line.asked_kwh, line.delivered_kwh) == (pytest.approx(200.0), pytest.approx(190.0))
    assert line.unasked_kwh == pytest.approx(75.0)
    assert line.performance_ratio == pytest.approx(0.95)
    assert (line.payment_cny, line.penalty_cny) == (pytest.approx(228.0), 0.0)
    assert [x.enterprise_id for x in settlement.unasked] == ["beta"]
    assert settlement.for_enterprise("beta").unasked_kwh == pytest.approx(50.0)
    assert settlement.payment_cny == pytest.approx(228.0)
    assert settlement.unasked_kwh == pytest.approx(125.0)
