"""Day-of adjustment: scale or shift an averaged baseline to the event day's own level.

Both methods compare the event day's measured load with the baseline over an adjustment
window before the event (CAISO: the 3 h ending 1 h before the event start) and apply the
result, clamped, to the whole day's baseline. The clamps are the same in kW at the
adjustment window: a ratio within ``[1 - c, 1 + c]`` and an offset within
``+/- c x`` the baseline's adjustment-window mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

AdjustmentKind = Literal["multiplicative", "additive"]


@dataclass(frozen=True)
class DayOfAdjustment:
    """What a day-of adjustment found and applied.

    Attributes
    ----------
    kind
        ``"multiplicative"`` (a ratio [unitless]) or ``"additive"`` (an offset [kW]).
    raw
        The unclamped ratio or offset.
    applied
        The ratio or offset actually applied, after the clamp.
    clamped
        Whether the clamp changed ``raw``.
    baseline_window_kw
        The averaged baseline's mean over the adjustment window [kW].
    actual_window_kw
        The event day's measured mean over the adjustment window [kW].
    """

    kind: AdjustmentKind
    raw: float
    applied: float
    clamped: bool
    baseline_window_kw: float
    actual_window_kw: float


def multiplicative(
    baseline_kw: NDArray[np.float64],
    baseline_window_kw: float,
    actual_window_kw: float,
    clamp: float | None = 0.2,
) -> tuple[NDArray[np.float64], DayOfAdjustment]:
    """Scale the baseline by the event day's ratio to it over the adjustment window.

    Rule: ``r = actual_window_kw / baseline_window_kw``, clamped to ``[1 - c, 1 + c]``;
    the adjusted baseline is ``r x baseline_kw`` in every interval. Example (DOMAIN.md):
    baseline window 80 kW, actual 100 kW gives r = 1.25, clamped to 1.2, so a flat 100 kW
    baseline becomes 120 kW.

    Parameters
    ----------
    baseline_kw
        The averaged baseline, any shape [kW].
    baseline_window_kw
        The averaged baseline's mean over the adjustment window; must be > 0 [kW].
    actual_window_kw
        The event day's measured mean over the adjustment window [kW].
    clamp
        ``c``, the largest accepted deviation of the ratio from 1, or None for no clamp
        [unitless].

    Returns
    -------
    adjusted_kw : ndarray
        The adjusted baseline [kW].
    adjustment : DayOfAdjustment
        The raw and applied ratio.
    """
    if not baseline_window_kw > 0:
        raise ValueError(
            f"a multiplicative adjustment needs a positive baseline over the adjustment "
            f"window, got {baseline_window_kw:g} kW"
        )
    raw = actual_window_kw / baseline_window_kw
    applied = raw if clamp is None else min(max(raw, 1.0 - clamp), 1.0 + clamp)
    adjustment = DayOfAdjustment(
        kind="multiplicative",
        raw=raw,
        applied=applied,
        clamped=applied != raw,
        baseline_window_kw=baseline_window_kw,
        actual_window_kw=actual_window_kw,
    )
    return baseline_kw * applied, adjustment


def additive(
    baseline_kw: NDArray[np.float64],
    baseline_window_kw: float,
    actual_window_kw: float,
    clamp: float | None = 0.2,
) -> tuple[NDArray[np.float64], DayOfAdjustment]:
    """Shift the baseline by the event day's difference to it over the adjustment window.

    Rule: ``o = actual_window_kw - baseline_window_kw``, clamped to
    ``[-c x |baseline_window_kw|, +c x |baseline_window_kw|]``; the adjusted baseline is
    ``baseline_kw + o`` in every interval. Example (DOMAIN.md): baseline window 80 kW,
    actual 100 kW gives o = +20 kW; with c = 0.2 the limit is 16 kW (so 116 kW on a flat
    100 kW baseline), with c >= 0.25 the full +20 kW applies (120 kW).

    Parameters
    ----------
    baseline_kw
        The averaged baseline, any shape [kW].
    baseline_window_kw
        The averaged baseline's mean over the adjustment window [kW].
    actual_window_kw
        The event day's measured mean over the adjustment window [kW].
    clamp
        ``c``, the largest accepted offset as a fraction of the baseline's
        adjustment-window mean, or None for no clamp [unitless].

    Returns
    -------
    adjusted_kw : ndarray
        The adjusted baseline [kW].
    adjustment : DayOfAdjustment
        The raw and applied offset [kW].
    """
    raw = actual_window_kw - baseline_window_kw
    if clamp is None:
        applied = raw
    else:
        limit_kw = clamp * abs(baseline_window_kw)
        applied = min(max(raw, -limit_kw), limit_kw)
    adjustment = DayOfAdjustment(
        kind="additive",
        raw=raw,
        applied=applied,
        clamped=applied != raw,
        baseline_window_kw=baseline_window_kw,
        actual_window_kw=actual_window_kw,
    )
    return baseline_kw + applied, adjustment


ADJUSTMENTS = {"multiplicative": multiplicative, "additive": additive}
"""Adjustment functions by kind, for callers that hold the kind as data."""
