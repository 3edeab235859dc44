"""The last check before a command leaves: never beyond a resource's registered limits.

The optimiser's own checker has already passed the plan; this guards against everything
after it (re-plans merged by hand, rounding, a stale district) at the point of no return.
The bound is the resource kind's (:func:`vpp.domain.command_refusal`), the same one the
gateways apply on receipt.
"""

from __future__ import annotations

import logging

from vpp.domain import Resource, Setpoint, command_refusal

logger = logging.getLogger(__name__)


def within_limits(setpoint: Setpoint, resource: Resource) -> str | None:
    """Why a setpoint must not be sent to this resource, or None when it may."""
    return command_refusal(resource, setpoint.mode, setpoint.power_kw)
