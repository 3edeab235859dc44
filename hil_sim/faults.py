"""Faults to inject into a simulated day, and which resources and sites they strike.

A :class:`FaultSpec` (the ``faults`` section of a scenario) says what goes wrong and how
often; :meth:`FaultPlan.draw` picks who, with ``numpy.random.default_rng`` on the seed, so a
scenario fails the same way on every run. Only resources that can respond to commands are
candidates (not PV), and only sites with such a resource.

Times are local times of day on the simulated day, written ``"HH:MM"`` (or as minutes after
local midnight, e.g. ``810`` for 13:30); durations are minutes. Each kind takes one entry or
a list of them::

    faults:
      ignore_commands: {share: 0.05}          # receive setpoints, neither ack nor obey
      late_ack: {share: 0.1, delay_s: 90}     # ack and apply 90 s late
      offline: {share: 0.1, at: "11:30", duration_min: 30}   # gateway drops off, comes back
      telemetry_silent: {share: 0.05, at: "11:15"}           # no telemetry, still obeys
      stuck_meter: {share: 0.05, at: "11:45"}                # telemetry frozen, still obeys
      broker_outage: {at: "12:10", duration_min: 3}          # the runner stops the broker
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Annotated, Any, NamedTuple

import numpy as np
from pydantic import BeforeValidator, Field, field_validator

from vpp.domain import District, FrozenModel, kind_of, zone
from vpp.domain.timegrid import wall_clock

_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def _minutes_of_day(value: Any) -> Any:
    """``"HH:MM"`` to minutes after local midnight; numbers pass through."""
    if isinstance(value, str):
        match = _HHMM.match(value)
        if not match:
            raise ValueError(f"expected 'HH:MM' or minutes after midnight, got {value!r}")
        hours, minutes = int(match.group(1)), int(match.group(2))
        if minutes >= 60 or hours > 24 or (hours == 24 and minutes):
            raise ValueError(f"not a time of day: {value!r}")
        return hours * 60 + minutes
    return value


TimeOfDay = Annotated[int, BeforeValidator(_minutes_of_day), Field(ge=0, le=1440)]
"""A local time of day on the simulated day [min after midnight]; ``"HH:MM"`` accepted."""

Share = Annotated[float, Field(ge=0.0, le=1.0)]
"""Fraction of the candidates a fault strikes [0..1]."""

DurationMin = Annotated[int, Field(gt=0, le=1440)]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _for(duration_min: int | None) -> str:
    return "" if duration_min is None else f" for {duration_min} min"


class IgnoreCommands(FrozenModel):
    """Resources that receive setpoints but neither acknowledge nor obey them."""

    share: Share

    def describe(self) -> str:
        return "ignores commands"


class LateAck(FrozenModel):
    """Resources whose gateway acknowledges and applies setpoints ``delay_s`` late."""

    share: Share
    delay_s: float = Field(gt=0, le=3600, description="processing delay [s]")

    def describe(self) -> str:
        return f"acks and applies commands {self.delay_s:g} s late"


class TelemetrySilent(FrozenModel):
    """Resources that stop reporting from ``at`` (for ``duration_min``); they still obey."""

    share: Share
    at: TimeOfDay
    duration_min: DurationMin | None = None

    def describe(self) -> str:
        return f"telemetry silent from {_hhmm(self.at)}{_for(self.duration_min)}"


class StuckMeter(FrozenModel):
    """Resources whose reported power freezes at its last value from ``at``; they still obey."""

    share: Share
    at: TimeOfDay
    duration_min: DurationMin | None = None

    def describe(self) -> str:
        return f"meter stuck from {_hhmm(self.at)}{_for(self.duration_min)}"


class Offline(FrozenModel):
    """Sites whose gateway vanishes at ``at`` (its will says offline) and, with a duration,
    comes back after it. While away it keeps obeying the commands it already has."""

    share: Share
    at: TimeOfDay
    duration_min: DurationMin | None = None

    def describe(self) -> str:
        back = " (never back)" if self.duration_min is None else ""
        return f"gateway offline from {_hhmm(self.at)}{_for(self.duration_min)}{back}"


class BrokerOutage(FrozenModel):
    """The broker goes down at ``at`` for ``duration_min``; the runner applies it."""

    at: TimeOfDay
    duration_min: DurationMin

    def describe(self) -> str:
        return f"broker outage from {_hhmm(self.at)} for {self.duration_min} min"


ResourceFault = IgnoreCommands | LateAck | TelemetrySilent | StuckMeter


def _as_tuple(value: Any) -> Any:
    """One entry or a list of them."""
    if value is None:
        return ()
    if isinstance(value, dict | FrozenModel):
        return (value,)
    return value


class FaultSpec(FrozenModel):
    """What goes wrong on the simulated day; empty: nothing."""

    ignore_commands: tuple[IgnoreCommands, ...] = ()
    late_ack: tuple[LateAck, ...] = ()
    telemetry_silent: tuple[TelemetrySilent, ...] = ()
    stuck_meter: tuple[StuckMeter, ...] = ()
    offline: tuple[Offline, ...] = ()
    broker_outage: tuple[BrokerOutage, ...] = ()

    @field_validator(
        "ignore_commands",
        "late_ack",
        "telemetry_silent",
        "stuck_meter",
        "offline",
        "broker_outage",
        mode="before",
    )
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_tuple(value)

    @property
    def resource_faults(self) -> tuple[ResourceFault, ...]:
        return (*self.ignore_commands, *self.late_ack, *self.telemetry_silent, *self.stuck_meter)

    @property
    def empty(self) -> bool:
        return not (self.resource_faults or self.offline or self.broker_outage)


class Span(NamedTuple):
    """A stretch of simulated time; ``end`` None: to the end of the run."""

    start: datetime
    end: datetime | None

    def covers(self, t: datetime) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


@dataclass(frozen=True)
class SiteFaults:
    """The faults one gateway plays, in absolute time (what :class:`SimulatedGateway` reads)."""

    ignore_commands: frozenset[str] = frozenset()
    ack_delay_s: dict[str, float] = field(default_factory=dict)
    telemetry_silent: dict[str, Span] = field(default_factory=dict)
    stuck_meter: dict[str, Span] = field(default_factory=dict)
    offline: Span | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.ignore_commands
            or self.ack_delay_s
            or self.telemetry_silent
            or self.stuck_meter
            or self.offline
        )


class FaultAssignment(FrozenModel):
    """One fault struck on one resource (or, with ``resource_id`` None, one site)."""

    enterprise_id: str
    site_id: str
    resource_id: str | None
    fault: IgnoreCommands | LateAck | TelemetrySilent | StuckMeter | Offline

    @property
    def target(self) -> str:
        parts = [self.enterprise_id, self.site_id]
        if self.resource_id is not None:
            parts.append(self.resource_id)
        return "/".join(parts)


class FaultPlan(FrozenModel):
    """Who suffers which fault on the simulated day; drawn once, reproducibly."""

    day: date
    timezone: str
    assignments: tuple[FaultAssignment, ...] = ()
    broker_outages: tuple[BrokerOutage, ...] = ()

    @classmethod
    def draw(cls, district: District, spec: FaultSpec, *, day: date, seed: int = 0) -> FaultPlan:
        """Strike ``round(share x candidates)`` distinct candidates per fault entry.

        Candidates are sorted by key and each entry draws from its own stream
        ``default_rng([seed, entry index])``, so the plan depends only on the district,
        the spec and the seed.
        """
        resources = sorted(
            (ref for ref in district.resources() if kind_of(ref.resource).dispatchable),
            key=lambda ref: ref.key,
        )
        sites = sorted(
            {(ref.enterprise.enterprise_id, ref.site.site_id) for ref in resources},
            key=lambda pair: pair[1],
        )
        assignments: list[FaultAssignment] = []
        entry = 0
        for fault in spec.resource_faults:
            for i in _pick(len(resources), fault.share, seed, entry):
                ref = resources[i]
                assignments.append(
                    FaultAssignment(
                        enterprise_id=ref.enterprise.enterprise_id,
                        site_id=ref.site.site_id,
                        resource_id=ref.resource.resource_id,
                        fault=fault,
                    )
                )
            entry += 1
        for offline in spec.offline:
            for i in _pick(len(sites), offline.share, seed, entry):
                enterprise_id, site_id = sites[i]
                assignments.append(
                    FaultAssignment(
                        enterprise_id=enterprise_id,
                        site_id=site_id,
                        resource_id=None,
                        fault=offline,
                    )
                )
            entry += 1
        return cls(
            day=day,
            timezone=district.timezone,
            assignments=tuple(assignments),
            broker_outages=spec.broker_outage,
        )

    @property
    def tz(self) -> tzinfo:
        return zone(self.timezone)

    def at(self, minute_of_day: int) -> datetime:
        """A local time of day on the simulated day, read on the wall clock (DST days too)."""
        return wall_clock(self.day, minute_of_day, self.tz)

    def span(self, at: int, duration_min: int | None) -> Span:
        start = self.at(at)
        if duration_min is None:
            return Span(start, None)
        return Span(
            start, (start.astimezone(UTC) + timedelta(minutes=duration_min)).astimezone(self.tz)
        )

    def for_site(self, site_id: str) -> SiteFaults:
        """The faults one site's gateway plays, in absolute time."""
        ignore: set[str] = set()
        delay: dict[str, float] = {}
        silent: dict[str, Span] = {}
        stuck: dict[str, Span] = {}
        offline: Span | None = None
        for a in self.assignments:
            if a.site_id != site_id:
                continue
            fault = a.fault
            if isinstance(fault, Offline):
                if offline is None or self.at(fault.at) < offline.start:
                    offline = self.span(fault.at, fault.duration_min)
                continue
            assert a.resource_id is not None
            if isinstance(fault, IgnoreCommands):
                ignore.add(a.resource_id)
            elif isinstance(fault, LateAck):
                delay[a.resource_id] = max(fault.delay_s, delay.get(a.resource_id, 0.0))
            elif isinstance(fault, TelemetrySilent):
                silent[a.resource_id] = self.span(fault.at, fault.duration_min)
            else:
                stuck[a.resource_id] = self.span(fault.at, fault.duration_min)
        return SiteFaults(frozenset(ignore), delay, silent, stuck, offline)

    def broker_outage_spans(self) -> list[tuple[datetime, datetime]]:
        """When the runner must stop and restart the broker, in order."""
        spans = [(self.at(o.at), self.at(o.at + o.duration_min)) for o in self.broker_outages]
        return sorted(spans)

    def sites_struck(self) -> set[str]:
        return {a.site_id for a in self.assignments}

    def describe(self) -> list[str]:
        """One line per assignment, for the report: ``"ent/site/resource: ignores commands"``."""
        lines = [f"{a.target}: {a.fault.describe()}" for a in self.assignments]
        lines += [f"broker: {o.describe()}" for o in self.broker_outages]
        return lines


def _pick(count: int, share: float, seed: int, entry: int) -> Sequence[int]:
    """``round(share x count)`` distinct indices, sorted, from the entry's own stream."""
    chosen = min(count, math.floor(share * count + 0.5))
    if chosen <= 0:
        return []
    rng = np.random.default_rng([seed % 2**64, entry])
    return sorted(int(i) for i in rng.choice(count, size=chosen, replace=False))
