"""What the unit tests of the controller's parts share: an in-memory adapter that records
what is sent, a small district, and an event run with a plan written by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from vpp.controller import EventRun, Lifecycle, SimulatedClock
from vpp.controller.monitor import Monitor
from vpp.controller.roster import Roster
from vpp.device_adapters import (
    AdapterStats,
    Inbound,
    InboundHandler,
    TelemetryReceived,
)
from vpp.domain import (
    DemandResponseEvent,
    District,
    ResourceSchedule,
    Setpoint,
    SetpointMode,
    Telemetry,
    TimeGrid,
)
from vpp.optimizer import DispatchProblem

from builders import DAY, TZ, at, battery, curtailable, district, enterprise

SITE = "acme-site"
LINE = f"{SITE}/line"  # a curtailable load, 1,000 kW typical
BESS = f"{SITE}/bess"  # a 500 kW battery
OTHER = "other-site/press"  # a curtailable load not in the hand-made plan
EVENT_START = at(11)  # the window is 11:00-12:00, intervals 44..47 of the day's grid
FIRST = 44
GRID = TimeGrid.for_day(DAY.date(), TZ)


class FakeAdapter:
    """A device adapter that keeps what it is given: sends, acks and the link state."""

    def __init__(self) -> None:
        self.sent: list[Setpoint] = []
        self.acked: set[str] = set()
        self.link_up = True
        self.closed = False
        self._stats = AdapterStats()
        self._handler: InboundHandler | None = None

    @property
    def stats(self) -> AdapterStats:
        return self._stats

    @property
    def connected(self) -> bool:
        return self.link_up

    async def start(self, on_inbound: InboundHandler) -> None:
        self._handler = on_inbound

    async def send(self, setpoints: Sequence[Setpoint]) -> int:
        self.sent.extend(setpoints)
        self._stats.sent += len(setpoints)
        return len(setpoints)

    def awaiting_ack(self) -> list[Setpoint]:
        return [s for s in self.sent if s.command_id not in self.acked]

    def in_force(self, now: datetime) -> list[Setpoint]:
        latest = {(s.site_id, s.resource_id): s for s in self.sent}
        return [s for s in latest.values() if s.valid_until > now]

    async def close(self) -> None:
        self.closed = True

    def deliver(self, message: Inbound) -> None:
        """A message arrives from the field."""
        assert self._handler is not None, "adapter not started"
        self._handler(message)

    def commands(self, key: str) -> list[Setpoint]:
        """What went to one resource, in order."""
        return [s for s in self.sent if f"{s.site_id}/{s.resource_id}" == key]


def small_district() -> District:
    """Two sites: ``acme`` with a curtailable line and a battery, ``other`` with a press."""
    return district(
        enterprise("acme", [curtailable("line", [(600.0, 1.0)]), battery("bess")]),
        enterprise("other", [curtailable("press", [(500.0, 0.8)])]),
    )


def the_event(target_kw: float = 300.0) -> DemandResponseEvent:
    return DemandResponseEvent(
        event_id="ev",
        start=EVENT_START,
        end=at(12),
        target_kw=target_kw,
        issued_at=at(-12),
    )


def schedule(key: str, setpoints: Mapping[int, float], baseline_kw: float) -> ResourceSchedule:
    """A plan commanding ``setpoints`` (interval: kW), at them where commanded and at the
    baseline elsewhere."""
    site_id, resource_id = key.split("/")
    is_battery = resource_id == "bess"
    power = tuple(setpoints.get(t, baseline_kw) for t in range(GRID.count))
    return ResourceSchedule(
        enterprise_id=site_id.removesuffix("-site"),
        feeder_id="f1",
        site_id=site_id,
        resource_id=resource_id,
        kind="battery" if is_battery else "curtailable_load",
        mode=SetpointMode.POWER if is_battery else SetpointMode.LIMIT,
        baseline_kw=(baseline_kw,) * GRID.count,
        power_kw=power,
        setpoint_kw=tuple(setpoints.get(t) for t in range(GRID.count)),
    )


def planned_run(
    d: District | None = None,
    *,
    target_kw: float = 300.0,
    schedules: Sequence[ResourceSchedule] | None = None,
) -> EventRun:
    """The event with a hand-made plan: the line limited to 800 kW (200 kW of response),
    the battery discharging 100 kW in every event interval, the press left alone."""
    d = d or small_district()
    event = the_event(target_kw)
    run = EventRun(event, Lifecycle(event.event_id, event.issued_at))
    run.problem = DispatchProblem(d, event, GRID)
    window = range(FIRST, FIRST + 4)
    plans = schedules or (
        schedule(LINE, {t: 800.0 for t in window}, 1000.0),
        schedule(BESS, {t: -100.0 for t in window}, 0.0),
        schedule(OTHER, {}, 1000.0),  # planned not to take part
    )
    run.schedules = {s.key: s for s in plans}
    return run


def reading(key: str, ts: datetime, power_kw: float, soc: float | None = None) -> TelemetryReceived:
    site_id, resource_id = key.split("/")
    return TelemetryReceived(site_id, resource_id, Telemetry(ts=ts, power_kw=power_kw, soc=soc))


def metered(
    monitor: Monitor, key: str, start: datetime, power_kw: float, jitter_kw: float = 0.5
) -> None:
    """One reading a minute through the interval starting at ``start``, averaging
    ``power_kw``: alternately ``jitter_kw`` above and below it (0: a meter that sticks)."""
    for m in range(1, 16):
        jitter = 0.0 if m == 15 else jitter_kw * (-1) ** m
        monitor.ingest(reading(key, start + timedelta(minutes=m), power_kw + jitter))


def parts(d: District | None = None) -> tuple[SimulatedClock, FakeAdapter, Roster, Monitor]:
    """A clock at 10:00 on the test day, a started-less fake adapter, the roster, a monitor."""
    return SimulatedClock(at(10)), FakeAdapter(), Roster(d or small_district()), Monitor(15)
