"""Tests for vpp.settlement.rules: the rule's arithmetic, its validation and the presets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vpp.settlement import (
    DEFAULT_RULE,
    RULE_PRESETS,
    EffectiveResponseRule,
    UnknownRuleError,
    performance_ratio,
    resolve_rule,
)

DEFAULT = EffectiveResponseRule()


def test_default_rule_counts_between_80_and_150_percent_without_penalty():
    """The issue's default: band 80%..150%, nothing for excess, no penalty."""
    assert (DEFAULT.floor_ratio, DEFAULT.cap_ratio) == (0.8, 1.5)
    assert DEFAULT.excess_value_fraction == 0.0
    assert DEFAULT.penalty_below_ratio is None
    assert RULE_PRESETS[DEFAULT_RULE] == DEFAULT.model_copy(
        update={"name": "default", "source": RULE_PRESETS["default"].source}
    )


def test_credited_kwh_below_floor_is_nothing():
    """79 of 100 kWh asked is below 80%: nothing is credited."""
    assert DEFAULT.credited_kwh(100.0, 79.0) == 0.0


def test_credited_kwh_at_floor_counts_despite_rounding():
    """Exactly 80% counts, even when the sum rounds a hair below it."""
    delivered_kwh = 80.0 - 1e-12
    assert DEFAULT.credited_kwh(100.0, delivered_kwh) == pytest.approx(80.0)
    assert DEFAULT.is_effective(delivered_kwh / 100.0)


def test_credited_kwh_inside_band_is_the_delivery():
    """120 of 100 kWh: inside 80..150%, all 120 kWh count."""
    assert DEFAULT.credited_kwh(100.0, 120.0) == pytest.approx(120.0)
    assert DEFAULT.is_effective(1.2)


def test_credited_kwh_above_cap_is_cut_at_cap_without_excess_value():
    """200 of 100 kWh under the default: capped at 150 kWh, the rest is worth nothing."""
    assert DEFAULT.credited_kwh(100.0, 200.0) == pytest.approx(150.0)
    assert not DEFAULT.is_effective(2.0)


def test_credited_kwh_nothing_asked_is_nothing():
    """No ask, no ratio and no credit, whatever was delivered."""
    assert DEFAULT.credited_kwh(0.0, 50.0) == 0.0
    assert performance_ratio(0.0, 50.0) is None
    assert not DEFAULT.is_effective(None)


def test_sichuan_counts_excess_above_110_percent_at_half_value():
    """130 of 100 kWh: 110 kWh fully and 20 kWh at half, 120 kWh credited."""
    sichuan = RULE_PRESETS["sichuan"]
    assert sichuan.credited_kwh(100.0, 130.0) == pytest.approx(120.0)
    assert sichuan.penalised_kwh(100.0, 130.0) == 0.0


def test_sichuan_penalises_shortfall_below_90_percent():
    """80 of 100 kWh: not paid; 90 - 80 = 10 kWh of shortfall, multiplier 1."""
    sichuan = RULE_PRESETS["sichuan"]
    assert sichuan.credited_kwh(100.0, 80.0) == 0.0
    assert sichuan.penalised_kwh(100.0, 80.0) == pytest.approx(10.0)
    assert sichuan.penalised_kwh(100.0, 90.0) == 0.0


def test_guangdong_penalises_only_below_50_percent():
    """40 of 100 kWh: 10 kWh penalised; 60 kWh: neither paid nor penalised."""
    guangdong = RULE_PRESETS["guangdong"]
    assert guangdong.penalised_kwh(100.0, 40.0) == pytest.approx(10.0)
    assert guangdong.penalised_kwh(100.0, 60.0) == 0.0
    assert guangdong.credited_kwh(100.0, 60.0) == 0.0


def test_penalised_kwh_scales_with_multiplier_and_negative_delivery():
    """Load went up by 20 kWh against 100 asked, threshold 50%, x2: 2 * (50 + 20) = 140 kWh."""
    rule = EffectiveResponseRule(penalty_below_ratio=0.5, penalty_multiplier=2.0)
    assert rule.penalised_kwh(100.0, -20.0) == pytest.approx(140.0)


def test_rule_presets_are_named_after_their_keys_and_say_unverified():
    """A statement names its rule by key; provincial presets carry the unverified caveat."""
    assert all(rule.name == key for key, rule in RULE_PRESETS.items())
    assert all("unverified" in rule.source for rule in RULE_PRESETS.values())


def test_resolve_rule_passes_a_rule_through_and_looks_up_names():
    rule = EffectiveResponseRule(floor_ratio=0.5)
    assert resolve_rule(rule) is rule
    assert resolve_rule("sichuan") is RULE_PRESETS["sichuan"]


def test_resolve_rule_unknown_name_is_a_value_error_listing_presets():
    with pytest.raises(ValueError, match=r"'hainan'.*known: default") as caught:
        resolve_rule("hainan")
    assert isinstance(caught.value, UnknownRuleError)
    assert caught.value.name == "hainan"


@pytest.mark.parametrize(
    ("fields", "field_named"),
    [
        ({"floor_ratio": 1.2, "cap_ratio": 1.1}, "floor_ratio"),
        ({"floor_ratio": -0.1}, "floor_ratio"),
        ({"cap_ratio": 0.0, "floor_ratio": 0.0}, "cap_ratio"),
        ({"excess_value_fraction": 1.5}, "excess_value_fraction"),
        ({"penalty_below_ratio": 0.9, "floor_ratio": 0.8}, "penalty_below_ratio"),
        ({"penalty_multiplier": -1.0}, "penalty_multiplier"),
        ({"floor_ratio": float("nan")}, "floor_ratio"),
        ({"flor_ratio": 0.7}, "flor_ratio"),
    ],
    ids=[
        "floor-above-cap",
        "negative-floor",
        "zero-cap",
        "excess-above-one",
        "penalty-above-floor",
        "negative-multiplier",
        "nan-floor",
        "typo",
    ],
)
def test_effective_response_rule_refuses_bad_values_naming_the_field(fields, field_named):
    with pytest.raises(ValidationError, match=field_named):
        EffectiveResponseRule(**fields)
