"""The last check before a command leaves: never beyond a resource's registered limits.

The optimiser's own checker has already passed the plan; this guards against everything
after it (re-plans merged by hand, rounding, a stale district) at the point of no return.
"""

from __future__ import annotations

import logging

from vpp.domain import (
    Battery,
    CurtailableLoad,
    EvChargerPool,
    HvacLoad,
    Resource,
    Setpoint,
    SetpointMode,
)

logger = logging.getLogger(__name__)


def limits_kw(resource: Resource) -> tuple[float, float] | None:
    """The range a commanded ``power_kw`` must lie in, or None when no command is allowed."""
    if isinstance(resource, CurtailableLoad):
        return 0.0, float("inf")
    if isinstance(resource, Battery):
        return -resource.max_discharge_kw, resource.max_charge_kw
    if isinstance(resource, EvChargerPool):
        return 0.0, resource.max_kw
    if isinstance(resource, HvacLoad):
        return 0.0, resource.rated_power_kw
    return None


def within_limits(setpoint: Setpoint, resource: Resource) -> str | None:
    """Why a setpoint must not be sent to this resource, or None when it may."""
    if setpoint.mode is SetpointMode.RELEASE:
        return None
    bounds = limits_kw(resource)
    if bounds is None:
        return f"{resource.kind} takes no {setpoint.mode} commands"
    low, high = bounds
    if not low - 1e-6 <= setpoint.power_kw <= high + 1e-6:
        return f"power_kw {setpoint.power_kw:.3f} outside {low:g}..{high:g} kW"
    return None
