"""The dispatcher: each interval's setpoints as leases, sent in time and released after.

Every setpoint expires with its interval (``valid_until``), so a device falls back by
itself when the controller goes silent; a command that deepens the response of a slowly
ramping kind takes effect early (``ramp_lead_s``), and nothing leaves that lies outside the
resource's registered limits (:func:`vpp.controller.safety.within_limits`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from vpp.controller.planning import commanded, released_from
from vpp.controller.roster import Roster
from vpp.controller.run import EventRun
from vpp.controller.safety import within_limits
from vpp.controller.settings import ControllerSettings
from vpp.device_adapters.base import DeviceAdapter
from vpp.domain import ResourceSchedule, Setpoint, SetpointMode, TimeGrid

logger = logging.getLogger(__name__)


class Dispatcher:
    """Sends an event's leases over the adapter and remembers which event sent which."""

    def __init__(
        self, adapter: DeviceAdapter, settings: ControllerSettings, roster: Roster
    ) -> None:
        self.adapter = adapter
        self.settings = settings
        self.roster = roster
        self.refused_setpoints = 0
        self._command_event: dict[str, str] = {}

    def event_of(self, command_id: str) -> str | None:
        """The event that sent ``command_id``, if it is still remembered."""
        return self._command_event.get(command_id)

    def forget(self, run: EventRun) -> None:
        """Forget the command ids of a pruned event."""
        for command_id in run.command_ids:
            self._command_event.pop(command_id, None)

    def send_time(self, run: EventRun, t: int) -> datetime:
        """When the first command of interval ``t`` may leave (before any ramp lead)."""
        longest = max(self.settings.ramp_lead_s.values(), default=0.0)
        return run.grid.starts[t] - timedelta(seconds=self.settings.send_lead_s + longest)

    async def send_due(self, run: EventRun, now: datetime) -> None:
        """Send every lease whose time has come, and again when a re-plan changed it."""
        lead = timedelta(seconds=self.settings.send_lead_s)
        due: list[Setpoint] = []
        for key, schedule in run.schedules.items():
            if key in run.dropped:
                continue
            for t, value in enumerate(schedule.setpoint_kw):
                if run.end_of(t) <= now:
                    continue
                if self.valid_from(run, key, t) - lead > now:
                    break
                sent = run.sent.get((key, t))
                if value is None:
                    if sent is not None:  # a re-plan took the command back
                        del run.sent[(key, t)]
                        due.append(self.release_key(key, now))
                    continue
                if sent is not None and abs(sent - value) <= 1e-6:
                    continue
                setpoint = self.setpoint(run, key, t, now)
                run.sent[(key, t)] = value
                if setpoint is not None:
                    due.append(setpoint)
        await self.send(run, due)

    def valid_from(self, run: EventRun, key: str, t: int) -> datetime:
        """An interval's start, or earlier where the command deepens the response and the
        kind ramps slowly, so the resource has reached the new level when the interval
        begins. A command that gives response back waits for its interval: starting it
        early would take response from the interval before. Before the horizon's first
        interval (an event at local midnight) the resource runs at its baseline."""
        schedule = run.schedules[key]
        start = run.grid.starts[t]
        value = schedule.setpoint_kw[t]
        if value is None:
            return start
        before = schedule.power_kw[t - 1] if t > 0 else schedule.baseline_kw[0]
        deepens = run.event.direction * (before - value) > 1e-6
        if not deepens:
            return start
        lead_s = self.settings.ramp_lead_s.get(schedule.kind, 0.0)
        return start - timedelta(seconds=lead_s)

    def setpoint(self, run: EventRun, key: str, t: int, now: datetime) -> Setpoint | None:
        """The lease of interval ``t``; None (counted, logged) when it breaks the limits."""
        schedule = run.schedules[key]
        value = schedule.setpoint_kw[t]
        assert value is not None
        start = run.grid.starts[t]
        setpoint = Setpoint(
            command_id=str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"{run.event_id}/{key}/{start}/{now.isoformat()}")
            ),
            site_id=schedule.site_id,
            resource_id=schedule.resource_id,
            issued_at=now,
            mode=schedule.mode,
            power_kw=value,
            valid_from=max(self.valid_from(run, key, t), now),
            valid_until=run.end_of(t),
        )
        reason = within_limits(setpoint, self.roster.refs[key].resource)
        if reason is not None:
            self.refused_setpoints += 1
            logger.error("refused to send %s to %s: %s", setpoint.command_id, key, reason)
            return None
        return setpoint

    def release_key(self, key: str, now: datetime) -> Setpoint:
        ref = self.roster.refs[key]
        return self.release(ref.site.site_id, ref.resource.resource_id, now)

    def release(self, site_id: str, resource_id: str, now: datetime) -> Setpoint:
        """Normal operation from ``now``, itself a lease of ``release_lease_s``."""
        return Setpoint(
            command_id=str(uuid.uuid4()),
            site_id=site_id,
            resource_id=resource_id,
            issued_at=now,
            mode=SetpointMode.RELEASE,
            power_kw=0.0,
            valid_from=now,
            valid_until=now + timedelta(seconds=self.settings.release_lease_s),
        )

    async def send(self, run: EventRun, setpoints: list[Setpoint]) -> None:
        if not setpoints:
            return
        for setpoint in setpoints:
            run.command_ids.add(setpoint.command_id)
            self._command_event[setpoint.command_id] = run.event_id
        await self.adapter.send(setpoints)

    async def release_keys(self, run: EventRun, keys: Iterable[str], now: datetime) -> int:
        """Release those of ``keys`` the event has commanded; returns how many."""
        releases = [self.release_key(k, now) for k in keys if run.was_sent(k)]
        await self.send(run, releases)
        return len(releases)

    async def release_in_force(self, now: datetime) -> None:
        """Release every resource holding a lease (the controller stops)."""
        keys = {(s.site_id, s.resource_id) for s in self.adapter.in_force(now)}
        await self.adapter.send([self.release(site, res, now) for site, res in keys])


def claimed_by_others(run: EventRun, live: Iterable[EventRun]) -> set[str]:
    """Resources another live event commands: ``run`` must not release them."""
    return {
        key
        for other in live
        if other is not run
        for key, schedule in other.schedules.items()
        if commanded(schedule)
    }


def hand_over(run: EventRun, live: Iterable[EventRun], from_time: datetime) -> None:
    """A newer plan owns its resources from ``from_time``: older events stop commanding
    them there (a battery recharging after one event may be needed by the next)."""
    for other in live:
        if other is run or other.problem is None:
            continue
        other.schedules = left_after_hand_over(run.schedules, run.grid, other, from_time)


def left_after_hand_over(
    newer: Mapping[str, ResourceSchedule],
    newer_grid: TimeGrid,
    older: EventRun,
    from_time: datetime,
) -> dict[str, ResourceSchedule]:
    """An older event's schedules once a newer plan has taken the resources both command:
    each released from the newer plan's first command on it (until then the older one
    keeps it: an EV pool still catching up stays under its limits, not free)."""
    out = dict(older.schedules)
    for key, schedule in newer.items():
        if key not in out or not commanded(schedule) or not commanded(out[key]):
            continue
        first = next(t for t, v in enumerate(schedule.setpoint_kw) if v is not None)
        taken_at = min(max(from_time, newer_grid.starts[first]), older.grid.end)
        out[key] = released_from(out[key], older.grid.first_index_at_or_after(taken_at))
    return out
