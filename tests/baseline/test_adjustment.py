"""Tests for vpp.baseline.adjustment, against the worked checks in DOMAIN.md."""

from __future__ import annotations

import numpy as np
import pytest

from vpp.baseline import adjustment

FLAT_KW = np.full(8, 100.0)


def test_multiplicative_clamps_ratio_to_upper_bound():
    """Window 80 kW in the baseline, 100 kW on the day: ratio 1.25, clamped to 1.2: 120 kW."""
    adjusted_kw, result = adjustment.multiplicative(FLAT_KW, 80.0, 100.0, clamp=0.2)
    assert result.raw == pytest.approx(1.25)
    assert result.applied == pytest.approx(1.2)
    assert result.clamped
    np.testing.assert_allclose(adjusted_kw, 120.0)


def test_multiplicative_clamps_ratio_to_lower_bound():
    """Event-day window at 60 kW: ratio 0.75, clamped to 0.8: 80 kW."""
    adjusted_kw, result = adjustment.multiplicative(FLAT_KW, 80.0, 60.0, clamp=0.2)
    assert result.raw == pytest.approx(0.75)
    assert result.applied == pytest.approx(0.8)
    assert result.clamped
    np.testing.assert_allclose(adjusted_kw, 80.0)


def test_multiplicative_keeps_a_ratio_inside_the_band():
    """A ratio of 1.1 is within +/-20% and applies unchanged."""
    adjusted_kw, result = adjustment.multiplicative(FLAT_KW, 100.0, 110.0, clamp=0.2)
    assert not result.clamped
    np.testing.assert_allclose(adjusted_kw, 110.0)


def test_multiplicative_without_clamp_applies_the_raw_ratio():
    """clamp=None applies the full ratio."""
    adjusted_kw, result = adjustment.multiplicative(FLAT_KW, 80.0, 100.0, clamp=None)
    assert result.applied == pytest.approx(1.25)
    np.testing.assert_allclose(adjusted_kw, 125.0)


def test_multiplicative_rejects_a_non_positive_baseline_window():
    """A ratio to a zero baseline is undefined."""
    with pytest.raises(ValueError, match="positive baseline"):
        adjustment.multiplicative(FLAT_KW, 0.0, 10.0)


def test_additive_applies_the_offset_when_the_clamp_allows():
    """Window 80 kW vs 100 kW: +20 kW; with c = 0.25 (limit 20 kW) the baseline is 120 kW."""
    adjusted_kw, result = adjustment.additive(FLAT_KW, 80.0, 100.0, clamp=0.25)
    assert result.raw == pytest.approx(20.0)
    assert result.applied == pytest.approx(20.0)
    assert not result.clamped
    np.testing.assert_allclose(adjusted_kw, 120.0)


def test_additive_clamps_offset_to_share_of_window_mean():
    """With c = 0.2 of the 80 kW window mean, +20 kW is clamped to +16 kW: 116 kW."""
    adjusted_kw, result = adjustment.additive(FLAT_KW, 80.0, 100.0, clamp=0.2)
    assert result.applied == pytest.approx(16.0)
    assert result.clamped
    np.testing.assert_allclose(adjusted_kw, 116.0)


def test_additive_clamps_a_negative_offset():
    """Window 80 kW vs 60 kW: -20 kW, clamped to -16 kW at c = 0.2."""
    adjusted_kw, result = adjustment.additive(FLAT_KW, 80.0, 60.0, clamp=0.2)
    assert result.raw == pytest.approx(-20.0)
    assert result.applied == pytest.approx(-16.0)
    np.testing.assert_allclose(adjusted_kw, 84.0)


def test_adjustments_maps_each_kind_to_its_function():
    """The kinds a method can name are the two functions."""
    assert adjustment.ADJUSTMENTS["multiplicative"] is adjustment.multiplicative
    assert adjustment.ADJUSTMENTS["additive"] is adjustment.additive
    assert len(adjustment.ADJUSTMENTS) == 2
