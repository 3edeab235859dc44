"""Tests for vpp.domain.rotation: the ledger, the window, rounds, and what the optimiser reads."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vpp.domain import (
    RotationEntry,
    RotationLedger,
    RotationPolicy,
    fairness,
    registered_flexibility_kw,
    rotation_counts,
    with_rotation,
)
from vpp.optimizer import dispatch

from builders import DAY, battery, curtailable, district, enterprise, event, problem


def entry(
    enterprise_id: str, days_ago: float, called: bool = True, event_id: str = "ev"
) -> RotationEntry:
    return RotationEntry(
        event_id=event_id,
        start=DAY - timedelta(days=days_ago),
        enterprise_id=enterprise_id,
        called=called,
        asked_kwh=100.0 if called else 0.0,
        delivered_kwh=95.0 if called else 0.0,
        net_cny=80.0 if called else 0.0,
    )


def two_lines(**extra: object):
    loads = [enterprise(name, [curtailable("line", [(300, 1.0)])]) for name in ("alpha", "beta")]
    return district(*loads, **extra)


def chosen(d) -> list[str]:
    result = dispatch(problem(d, event(target_kw=250)))
    return [s.enterprise_id for s in result.schedules if any(v is not None for v in s.setpoint_kw)]


def test_rotation_counts_are_the_ledger_calls_plus_the_static_counts():
    ledger = RotationLedger(
        entries=(entry("alpha", 1), entry("alpha", 2, event_id="ev2"), entry("beta", 1, False))
    )
    d = two_lines(rotation_counts={"beta": 1})
    assert rotation_counts(d, ledger, DAY) == {"alpha": 2, "beta": 1}


def test_rotation_counts_only_events_before_the_time_and_in_the_window():
    """A 7-day rolling window: the call 10 days ago and the one tomorrow do not count."""
    ledger = RotationLedger(
        entries=(
            entry("alpha", 3),
            entry("alpha", 10, event_id="old"),
            entry("alpha", -1, event_id="later"),
        )
    )
    d = two_lines(rotation={"window_days": 7})
    assert rotation_counts(d, ledger, DAY) == {"alpha": 1}


def test_season_start_counts_from_the_last_season_start():
    """Season from 06-01: on 07-15 a call of 05-30 does not count, one of 06-02 does."""
    policy = RotationPolicy(season_start="06-01")
    assert policy.window_start(DAY) == DAY.replace(month=6, day=1)
    january = DAY.replace(month=1, day=10)
    assert policy.window_start(january) == DAY.replace(year=DAY.year - 1, month=6, day=1)


def test_dispatch_spares_the_enterprise_the_ledger_says_was_called():
    """Two equal loads; the ledger has alpha called twice: beta is dispatched."""
    d = two_lines()
    ledger = RotationLedger(entries=(entry("alpha", 1), entry("alpha", 2, event_id="ev2")))
    assert chosen(with_rotation(d, ledger, DAY)) == ["beta"]


def test_dispatch_respects_the_round_in_turn_over_price():
    """Rounds [alpha], [beta]: alpha's round was called in the last event, so it is beta's
    turn, although beta asks 0.4 CNY/kWh more (a later round counts 20 calls, 1 CNY/kWh)."""
    loads = [
        enterprise("alpha", [curtailable("line", [(300, 1.0)])]),
        enterprise("beta", [curtailable("line", [(300, 1.4)])]),
    ]
    d = district(*loads, rotation={"rounds": [["alpha"], ["beta"]]})
    assert chosen(with_rotation(d, RotationLedger(), DAY)) == ["alpha"]
    ledger = RotationLedger(entries=(entry("alpha", 1),))
    assert rotation_counts(d, ledger, DAY) == {"alpha": 21}
    assert chosen(with_rotation(d, ledger, DAY)) == ["beta"]


def test_a_round_that_cannot_cover_the_target_is_topped_up_from_the_next():
    """Rounds are a price, not a ban: beta's turn but beta has 100 kW of 250: alpha tops up."""
    loads = [
        enterprise("alpha", [curtailable("line", [(150, 1.0), (150, 1.0)])]),
        enterprise("beta", [curtailable("line", [(100, 1.0)])]),
    ]
    d = district(*loads, rotation={"rounds": [["alpha"], ["beta"]]})
    ledger = RotationLedger(entries=(entry("alpha", 1),))
    assert sorted(chosen(with_rotation(d, ledger, DAY))) == ["alpha", "beta"]


def test_summary_and_fairness_per_mw_of_registered_flexibility():
    """alpha 300 kW called twice (6.67 /MW), beta 300 kW once (3.33 /MW): spread 3.33."""
    d = two_lines()
    ledger = RotationLedger(
        entries=(
            entry("alpha", 1),
            entry("alpha", 2, event_id="ev2"),
            entry("beta", 1),
            entry("beta", 2, False, event_id="ev2"),
        )
    )
    rows = {r.enterprise_id: r for r in ledger.summary(d)}
    assert (rows["alpha"].calls, rows["alpha"].events, rows["beta"].calls) == (2, 2, 1)
    assert rows["alpha"].net_cny == pytest.approx(160.0)
    assert rows["beta"].calls_per_mw == pytest.approx(1 / 0.3)
    spread, cv = fairness(rows.values())
    assert spread == pytest.approx(1 / 0.3)
    assert cv == pytest.approx(1 / 3)


def test_registered_flexibility_sums_curtailment_steps_and_battery_discharge():
    d = district(enterprise("acme", [curtailable("line", [(100, 1.0), (50, 2.0)]), battery()]))
    assert registered_flexibility_kw(d.enterprises[0]) == pytest.approx(650.0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rounds": [["alpha"], ["alpha"]]}, "rounds.1: 'alpha' is in two rounds"),
        ({"rounds": [[]]}, "rounds.0: a round needs at least one enterprise"),
        ({"season_start": "13-01"}, "expected MM-DD"),
        ({"season_start": "02-29"}, "expected MM-DD"),
        ({"window_days": 0}, "window_days"),
    ],
)
def test_rotation_policy_refuses_bad_values_naming_the_field(fields, message):
    with pytest.raises(ValidationError, match=message):
        RotationPolicy.model_validate(fields)


def test_district_refuses_a_round_naming_an_unknown_enterprise():
    with pytest.raises(ValidationError, match=r"rotation\.rounds\.0: unknown enterprise 'nobody'"):
        two_lines(rotation={"rounds": [["nobody"]]})


def test_ledger_refuses_an_entry_twice_and_merge_keeps_the_first():
    first = entry("alpha", 1)
    with pytest.raises(ValidationError, match=r"entries\.1: ev/alpha twice"):
        RotationLedger(entries=(first, first))
    merged = RotationLedger(entries=(first,)).merged([entry("alpha", 1, False), entry("beta", 1)])
    assert [e.called for e in merged.entries] == [True, True]
    assert len(merged.entries) == 2


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["alpha", "beta"]), st.integers(0, 40), st.booleans()),
        max_size=30,
        unique_by=lambda x: (x[0], x[1]),
    ),
    st.integers(1, 60),
)
def test_rotation_counts_never_exceed_the_calls_recorded_before_the_time(rows, window_days):
    """Without rounds or static counts, an enterprise counts at most its recorded calls, and
    exactly those in the window."""
    ledger = RotationLedger(entries=tuple(entry(e, d, c, event_id=f"ev{d}") for e, d, c in rows))
    d = two_lines(rotation={"window_days": window_days})
    counts = rotation_counts(d, ledger, DAY)
    for name in ("alpha", "beta"):
        expected = sum(1 for e, days, c in rows if e == name and c and 0 < days <= window_days)
        assert counts.get(name, 0) == expected


def test_rotation_entry_needs_an_aware_start():
    with pytest.raises(ValidationError, match="start"):
        RotationEntry(
            event_id="ev",
            start=datetime(2026, 7, 15),  # noqa: DTZ001  (the naive time is the point)
            enterprise_id="alpha",
            called=True,
        )
