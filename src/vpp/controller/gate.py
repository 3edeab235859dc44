"""The plausibility gate: where telemetry and statuses enter the controller, readings that
cannot be true are refused before the monitor sees them (ARCHITECTURE.md, "plausibility
gate").

A refused message is counted by reason and logged at most once per meter (or site) per
``log_period_s`` of the controller's clock, so a flood cannot flood the log; it never
reaches the monitor, so it cannot advance a meter's state, lock a meter out or deliver.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from vpp.device_adapters.base import StatusReceived, TelemetryReceived
from vpp.domain import (
    PlausibilitySettings,
    Refusal,
    Resource,
    plausible_owed_max_kwh,
    plausible_range_kw,
    reading_refusal,
    status_refusal,
)

logger = logging.getLogger(__name__)

#: Log key shared by every unregistered topic, so made-up names cannot grow the log state.
_UNKNOWN = "<unregistered>"


class PlausibilityGate:
    """Refuses implausible telemetry and statuses; counts refusals by reason.

    Parameters
    ----------
    settings
        Skew, tolerance and logging period.
    stale_s
        Readings older than this are refused (the controller's staleness window) [s].
    resource_of
        The registered resource behind a ``site/resource`` key; None if not registered.
    """

    def __init__(
        self,
        settings: PlausibilitySettings,
        stale_s: float,
        resource_of: Callable[[str], Resource | None],
    ) -> None:
        self.settings = settings
        self.stale_s = stale_s
        self._resource_of = resource_of
        self.refused: Counter[str] = Counter()  # per reason
        self.accepted = 0
        self._logged_at: dict[str, datetime] = {}
        self._unlogged: Counter[str] = Counter()
        self._max_skew = timedelta(seconds=settings.max_clock_skew_s)
        self._stale = timedelta(seconds=stale_s)
        # each meter's plausible range [kW] and most energy owed [kWh], for the registration
        # they were worked out from: an EV pool's sums over its chargers on every reading
        # were a tenth of a city's tick
        self._ranges: dict[str, tuple[Resource, tuple[float, float], float]] = {}

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    def check_telemetry(self, message: TelemetryReceived, now: datetime) -> Refusal | None:
        """Why the reading must not reach the monitor, or None to let it through."""
        resource = self._resource_of(message.key)
        if resource is None:
            reason: Refusal | None = Refusal.UNKNOWN_RESOURCE
        else:
            range_kw, owed_max_kwh = self._ranges_of(message.key, resource)
            reason = reading_refusal(
                message.telemetry, range_kw, now, self._max_skew, self._stale, owed_max_kwh
            )
        if reason is None:
            self.accepted += 1
            return None
        sample = message.telemetry
        detail = f"ts {sample.ts.isoformat()}, power {sample.power_kw:g} kW, soc {sample.soc}"
        if sample.indoor_temperature_c is not None:
            detail += f", indoor {sample.indoor_temperature_c:g} °C"
        if sample.energy_owed_kwh is not None:
            detail += f", energy owed {sample.energy_owed_kwh:g} kWh"
        self._refuse(message.key if resource is not None else _UNKNOWN, reason, detail, now)
        return reason

    def _ranges_of(self, key: str, resource: Resource) -> tuple[tuple[float, float], float]:
        """The plausible range [kW] and most energy owed [kWh] of the meter ``key``
        registered as ``resource``."""
        cached = self._ranges.get(key)
        if cached is not None and cached[0] is resource:
            return cached[1], cached[2]
        range_kw = plausible_range_kw(resource, self.settings)
        owed_max_kwh = plausible_owed_max_kwh(resource, self.settings)
        self._ranges[key] = (resource, range_kw, owed_max_kwh)
        return range_kw, owed_max_kwh

    def check_status(self, message: StatusReceived, now: datetime) -> Refusal | None:
        """Why the status must be ignored, or None to let it through."""
        reason = status_refusal(message.status, now, self.settings)
        if reason is not None:
            status = message.status
            detail = f"{status.state} at {status.ts.isoformat()}"
            self._refuse(f"{message.site_id}/status", reason, detail, now)
        return reason

    def _refuse(self, key: str, reason: Refusal, detail: str, now: datetime) -> None:
        self.refused[reason] += 1
        last = self._logged_at.get(key)
        if last is not None and now - last < timedelta(seconds=self.settings.log_period_s):
            self._unlogged[key] += 1
            return
        more = self._unlogged.pop(key, 0)
        also = f" ({more} more refused since the last report)" if more else ""
        logger.warning("refused %s from %s: %s%s", reason.value, key, detail, also)
        self._logged_at[key] = now
