"""The shared domain model: time grid, resources, enterprises, events, dispatch results.

Imports nothing else of vpp; every other layer imports it.
"""

from vpp.domain._base import ALL_DAY, DailyProfile, DailyWindow, FrozenModel, Slug
from vpp.domain.dispatch import (
    DEVIATION_TOL_KW,
    CostBreakdown,
    DispatchResult,
    IntervalOutcome,
    ResourceSchedule,
    Setpoint,
    SetpointMode,
    SolveStats,
    SolveStatus,
)
from vpp.domain.district import (
    CsvHistory,
    District,
    Enterprise,
    Feeder,
    MeterHistorySource,
    ResourceRef,
    Sector,
    Site,
    SyntheticHistory,
)
from vpp.domain.errors import (
    ConfigError,
    GridAlignmentError,
    SolverError,
    UnknownReferenceError,
    VppError,
)
from vpp.domain.event import DemandResponseEvent, EventKind, Notice
from vpp.domain.resources import (
    RESOURCE_KINDS,
    Battery,
    Charger,
    CurtailableLoad,
    CurtailmentStep,
    EvChargerPool,
    EvSession,
    HvacLoad,
    Pv,
    Resource,
)
from vpp.domain.timegrid import TimeGrid, daily_window_on, zone

__all__ = [
    "ALL_DAY",
    "DEVIATION_TOL_KW",
    "RESOURCE_KINDS",
    "Battery",
    "Charger",
    "ConfigError",
    "CostBreakdown",
    "CsvHistory",
    "CurtailableLoad",
    "CurtailmentStep",
    "DailyProfile",
    "DailyWindow",
    "DemandResponseEvent",
    "DispatchResult",
    "District",
    "Enterprise",
    "EvChargerPool",
    "EvSession",
    "EventKind",
    "Feeder",
    "FrozenModel",
    "GridAlignmentError",
    "HvacLoad",
    "IntervalOutcome",
    "MeterHistorySource",
    "Notice",
    "Pv",
    "Resource",
    "ResourceRef",
    "ResourceSchedule",
    "Sector",
    "Setpoint",
    "SetpointMode",
    "Site",
    "Slug",
    "SolveStats",
    "SolveStatus",
    "SolverError",
    "SyntheticHistory",
    "TimeGrid",
    "UnknownReferenceError",
    "VppError",
    "daily_window_on",
    "zone",
]
