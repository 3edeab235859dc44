"""Tests for vpp.baseline.presets: the presets' rules as data, and method validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vpp.baseline import (
    BASELINE_PRESETS,
    DEFAULT_BASELINE,
    BaselineMethod,
    UnknownBaselineMethodError,
    resolve_method,
)


def test_baseline_presets_hold_the_published_rules():
    """jiangsu 5 days; caiso 10 in 45 with +/-20% multiplicative; beijing high 5 of 10 from D-2."""
    jiangsu = BASELINE_PRESETS["jiangsu"]
    assert (jiangsu.days, jiangsu.first_offset_days, jiangsu.adjustment) == (5, 1, None)
    caiso = BASELINE_PRESETS["caiso_10_in_10"]
    assert (caiso.days, caiso.lookback_days) == (10, 45)
    assert caiso.adjustment is not None
    assert (caiso.adjustment.kind, caiso.adjustment.clamp) == ("multiplicative", 0.2)
    assert (caiso.adjustment.length_min, caiso.adjustment.end_before_start_min) == (180, 60)
    beijing = BASELINE_PRESETS["beijing"]
    assert (beijing.days, beijing.first_offset_days, beijing.highest_count) == (10, 2, 5)
    assert beijing.rank_by == "daily_max"
    assert BASELINE_PRESETS["real_time"].real_time
    assert DEFAULT_BASELINE == "jiangsu"


def test_baseline_presets_are_named_after_their_keys():
    """A result's method name is the preset's key."""
    assert all(method.name == key for key, method in BASELINE_PRESETS.items())


def test_resolve_method_passes_a_method_through():
    """A BaselineMethod is used as given."""
    method = BaselineMethod(days=3)
    assert resolve_method(method) is method


def test_resolve_method_unknown_name_is_a_value_error_listing_presets():
    """An unknown name raises an error (also a ValueError) naming it and the presets."""
    with pytest.raises(ValueError, match=r"'caiso'.*known: jiangsu") as caught:
        resolve_method("caiso")
    assert isinstance(caught.value, UnknownBaselineMethodError)
    assert caught.value.name == "caiso"


def test_baseline_method_highest_needs_a_count():
    """selection='highest' without highest_count is refused."""
    with pytest.raises(ValidationError, match="highest_count"):
        BaselineMethod(days=10, selection="highest")


def test_baseline_method_refuses_unknown_fields():
    """A typo in a method's field is an error, not a silent default."""
    with pytest.raises(ValidationError, match="day_typ"):
        BaselineMethod.model_validate({"day_typ": "same"})


def test_baseline_method_refuses_real_time_with_adjustment():
    """A real-time baseline takes no day-of adjustment."""
    with pytest.raises(ValidationError, match="real-time"):
        BaselineMethod.model_validate({"real_time": True, "adjustment": {"kind": "additive"}})
