"""Flexible resources an enterprise registers: physical limits, availability and asked prices.

Each kind's model and spec live in its own module under :mod:`vpp.domain.kinds`; this module
keeps the names other code imports.

Sign convention (ARCHITECTURE.md): power is consumption from the grid [kW]; generation and
battery discharge are negative; a reduction is baseline minus actual.
"""

from vpp.domain.kinds import (
    Battery,
    Charger,
    CurtailableLoad,
    CurtailmentStep,
    EvChargerPool,
    EvSession,
    HvacLoad,
    Pv,
    Resource,
    ResourceBase,
    kind_names,
)

RESOURCE_KINDS: tuple[str, ...] = kind_names()
"""The built-in kinds' tags; :func:`vpp.domain.kind_names` also lists kinds registered later."""

__all__ = [
    "RESOURCE_KINDS",
    "Battery",
    "Charger",
    "CurtailableLoad",
    "CurtailmentStep",
    "EvChargerPool",
    "EvSession",
    "HvacLoad",
    "Pv",
    "Resource",
    "ResourceBase",
]
