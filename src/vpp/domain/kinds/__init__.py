"""Resource kinds: one module per kind (its model and its :class:`ResourceKind` spec).

A new kind is one module here and one line below; the optimiser's builder and the
simulator's physics register the same way in their own packages.
"""

from vpp.domain.kinds.battery import BATTERY, Battery
from vpp.domain.kinds.curtailable_load import CURTAILABLE_LOAD, CurtailableLoad, CurtailmentStep
from vpp.domain.kinds.ev_charger_pool import EV_CHARGER_POOL, Charger, EvChargerPool, EvSession
from vpp.domain.kinds.hvac_load import HVAC_LOAD, HvacLoad
from vpp.domain.kinds.pv import PV, Pv
from vpp.domain.kinds.spec import (
    LIMIT_TOL_KW,
    Resource,
    ResourceBase,
    ResourceKind,
    command_range_kw,
    command_refusal,
    kind_names,
    kind_of,
    kinds,
    on_kinds_changed,
    register_kind,
    unregister_kind,
)

register_kind(CURTAILABLE_LOAD)
register_kind(BATTERY)
register_kind(EV_CHARGER_POOL)
register_kind(HVAC_LOAD)
register_kind(PV)

__all__ = [
    "BATTERY",
    "CURTAILABLE_LOAD",
    "EV_CHARGER_POOL",
    "HVAC_LOAD",
    "LIMIT_TOL_KW",
    "PV",
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
    "ResourceKind",
    "command_range_kw",
    "command_refusal",
    "kind_names",
    "kind_of",
    "kinds",
    "on_kinds_changed",
    "register_kind",
    "unregister_kind",
]
