"""Customer baseline load (CBL): what a meter would have drawn without the event.

Three layers, as in pvlib:

- pure functions on arrays: :mod:`vpp.baseline.selection` (look-back, day type,
  exclusions, high X of Y) and :mod:`vpp.baseline.adjustment` (multiplicative, additive);
- methods as data: :class:`BaselineMethod` and :data:`BASELINE_PRESETS`;
- one thin engine on top: :func:`compute_baseline`.

Imports only :mod:`vpp.domain` of vpp.
"""

from vpp.baseline import adjustment, selection
from vpp.baseline.adjustment import DayOfAdjustment
from vpp.baseline.calendar import CalendarFallbackWarning, is_working_day
from vpp.baseline.engine import (
    BaselineError,
    BaselineResult,
    EventWindowError,
    InsufficientHistoryError,
    MissingReadingsError,
    compute_baseline,
)
from vpp.baseline.meter import DailyLoad
from vpp.baseline.meter_csv import read_meter_csv, write_meter_csv
from vpp.baseline.presets import (
    BASELINE_PRESETS,
    DEFAULT_BASELINE,
    AdjustmentRule,
    BaselineMethod,
    UnknownBaselineMethodError,
    resolve_method,
)

__all__ = [
    "BASELINE_PRESETS",
    "DEFAULT_BASELINE",
    "AdjustmentRule",
    "BaselineError",
    "BaselineMethod",
    "BaselineResult",
    "CalendarFallbackWarning",
    "DailyLoad",
    "DayOfAdjustment",
    "EventWindowError",
    "InsufficientHistoryError",
    "MissingReadingsError",
    "UnknownBaselineMethodError",
    "adjustment",
    "compute_baseline",
    "is_working_day",
    "read_meter_csv",
    "resolve_method",
    "selection",
    "write_meter_csv",
]
